"""Order routing: which warehouse(s) an order ships from, and why.

    geography.py   city/district/address -> province, region, coordinates (cpca data)
    warehouses.py  the warehouse model and its validation
    rules.py       the versioned rule set: parsing and validation
    matching.py    which rules apply to which lines of an order
    kernel.py      the scoring kernel: numba, a NumPy reference and pure Python
    router.py      one decision from an order, the rules, stock and today's loads
    decision.py    a decision and its explanation (the candidates, scores and notes)
    lint.py        rules that can never act, given the warehouses
    backtest.py    a backtest's samples and its tally against what really happened
    service.py     the capability's facade: Route/RouteBatch, reads shared between calls
    definitions.py warehouses and rule set versions: put, read, history, rollback
    reload.py      the rule set and warehouses in force, reloaded on a new version
    freshness.py   what a replica holds between reads (today's loads, stock)
    places.py      destinations resolved, kept per destination
    validate.py    an order's bounds
    simulation.py  SimulateRouting and BacktestRouting
"""
