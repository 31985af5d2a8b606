"""The classes of a settlement difference: what each means, and what closes it.

A reconciliation run matches every statement line to an order of the hub or files a
difference of exactly one of these classes; it files each hub order the channels should
have paid (or taken back) and did not, too. Every run checks every open difference
again and closes the ones it no longer finds: so a difference the hub resolves by
catching up (a delay, a refund not synced) closes by itself; one that no sync changes (a
re-order, a fee without an order) stays open until a person resolves it
(ResolveDifference: who and why, in the audit trail) or a replaced statement drops its
line.
"""

from __future__ import annotations

from dataclasses import dataclass

SYSTEM_DELAY = "SYSTEM_DELAY"
MANUAL_REORDER = "MANUAL_REORDER"
PLATFORM_FEE = "PLATFORM_FEE"
REFUND_NOT_SYNCED = "REFUND_NOT_SYNCED"
AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
MISSING_IN_HUB = "MISSING_IN_HUB"
MISSING_AT_CHANNEL = "MISSING_AT_CHANNEL"
SHIPPED_UNSETTLED = "SHIPPED_UNSETTLED"


@dataclass(frozen=True)
class DifferenceClass:
    name: str
    means: str
    closes: str


CLASSES: dict[str, DifferenceClass] = {c.name: c for c in (
    DifferenceClass(SYSTEM_DELAY,
                    "the channel paid an order the hub has not yet seen shipped",
                    "by itself, at the first run after the hub has the shipment"),
    DifferenceClass(MANUAL_REORDER,
                    "the channel paid a line whose goods went out under another hub order "
                    "(a re-order, 补单): found by the tracking number only",
                    "when a person resolves it (books the re-order against the payout)"),
    DifferenceClass(PLATFORM_FEE,
                    "a fee or deduction not tied to an order (a penalty, a monthly fee, the "
                    "day's fee rounding)",
                    "when a person resolves it (or the line leaves a replaced statement)"),
    DifferenceClass(REFUND_NOT_SYNCED,
                    "the channel refunded an order the hub does not show refunded",
                    "by itself, once the hub has the refund (REFUNDED or CANCELLED)"),
    DifferenceClass(AMOUNT_MISMATCH,
                    "the goods less the discount the channel settled differ from what the "
                    "hub has the buyer paying",
                    "when a corrected statement agrees, or a person resolves it"),
    DifferenceClass(MISSING_IN_HUB,
                    "the channel paid an order number the hub has never seen (nor its "
                    "tracking number)",
                    "by itself, once the order reaches the hub (then it is matched, or "
                    "filed under what it is)"),
    DifferenceClass(MISSING_AT_CHANNEL,
                    "the hub refunded a settled order N days ago and no statement took the "
                    "money back",
                    "by itself, once a statement carries the refund"),
    DifferenceClass(SHIPPED_UNSETTLED,
                    "the hub shipped an order N days ago and no statement has paid it",
                    "by itself, once a statement pays it"),
)}
