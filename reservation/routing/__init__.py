"""Order routing: which warehouse(s) an order ships from, and why.

    geography.py   city/district/address -> province, region, coordinates (cpca data)
    warehouses.py  the warehouse model and its validation
    rules.py       the versioned rule set: parsing and validation
    matching.py    which rules apply to which lines of an order
    kernel.py      the scoring kernel: numba, a NumPy reference and pure Python
    router.py      one decision from an order, the rules, stock and today's loads
    service.py     the capability: storage, hot reload, Route/RouteBatch/Simulate
"""
