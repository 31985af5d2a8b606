"""China's unified social credit code (统一社会信用代码, GB 32100-2015): the tax id a
company customer's invoice carries. Checked here so a typo is held for review before the
goods ship with an invoice the tax office will refuse.

The standard's statement: 18 characters from a 31-character set (the digits and the
capital letters without I, O, Z, S, V), valued 0..30 in that order:

    position 1       registration authority (1-9, A, N, Y)
    position 2       organisation type
    positions 3-8    administrative division (6 digits)
    positions 9-17   organisation code (GB 11714)
    position 18      check character: C18 = 31 - (sum of Ci * Wi, i = 1..17, mod 31),
                     with Wi = 3^(i-1) mod 31 and 31 written as 0

No library on PyPI does this alone (the id-number packages check the 15/18-digit
resident id, whose check uses mod 11), so it is these few lines.
"""

from __future__ import annotations

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
AUTHORITIES = frozenset("123456789ANY")
_VALUE = {c: v for v, c in enumerate(CHARSET)}


def check_character(first17: str) -> str:
    """The 18th character the standard computes for the first 17."""
    total = sum(_VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def problem(code: str) -> str:
    """Why `code` is not a valid unified social credit code; "" when it is."""
    code = code.strip().upper()
    if len(code) != 18:
        return f"has {len(code)} characters, not 18"
    bad = [c for c in code if c not in _VALUE]
    if bad:
        return f"contains {bad[0]!r}, outside the code's character set"
    if code[0] not in AUTHORITIES:
        return f"registration authority {code[0]!r} is not one the standard defines"
    if not code[2:8].isdigit():
        return "positions 3-8 (the administrative division) must be digits"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"check character is {code[17]!r}, the standard computes {expected!r}"
    return ""
