"""The contract between each Lua script and Python: one named reader per script.

A script's reply is a flat Redis array; reading it by position (`raw[4]`) in the code
that uses it hides the contract. Here every script has a reader next to its name that
turns the array into named fields, and `Store.eval` applies it, so the rest of the code
sees fields only. Each reader mirrors the "Returns" line of its script's header, and
tests/storage/test_replies.py checks every reader against a real reply.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Fields = dict[str, str]
Entry = tuple[str, Fields]


def pairs(flat: Sequence[str]) -> Fields:
    """A Redis field/value array as a dict."""
    return dict(zip(flat[::2], flat[1::2]))


@dataclass(frozen=True)
class PartReply:
    """reserve, confirm, release, get, dead_letter: one order's part in one shard
    (reply() in _lib.lua). `code` alone when the part is not there."""

    code: str
    state: str = ""
    reason: str = ""
    failed_sku: str = ""
    expires_at_ms: int = 0
    allocations: str = ""
    reservation_id: str = ""
    buyer_id: str = ""
    queue_position: int = 0
    spec: str = ""
    locked_by: str = ""
    """The confirm attempt that locked this part of a multi-shard order ('' = none)."""

    @classmethod
    def read(cls, raw: Sequence[Any]) -> PartReply:
        if len(raw) == 1:
            return cls(code=raw[0])
        (code, state, reason, failed_sku, expires_at_ms, allocations, reservation_id,
         buyer_id, queue_position, spec, locked_by) = raw
        return cls(code, state, reason, failed_sku, int(expires_at_ms), allocations,
                   reservation_id, buyer_id, int(queue_position), spec, locked_by)


@dataclass(frozen=True)
class PhaseReply:
    """phase: a multi-shard order's phase after the operation ('' without a home record
    or for a one-part order) and its last confirm attempt number."""

    phase: str
    attempt: int = 0

    @classmethod
    def read(cls, raw: Sequence[Any]) -> PhaseReply:
        if len(raw) == 1:
            return cls(raw[0])
        phase, attempt = raw
        return cls(phase, int(attempt))


@dataclass(frozen=True)
class DueReply:
    """due: what the recovery sweep must look at in one shard."""

    pending: tuple[str, ...]
    """Multi-shard orders homed here, undecided or uncompensated past their lease."""
    locked: tuple[str, ...]
    """Parts locked by a confirm whose lease passed."""

    @classmethod
    def read(cls, raw: Sequence[Any]) -> DueReply:
        pending, locked = raw
        return cls(tuple(pending), tuple(locked))


def read_shorten(raw: Any) -> int:
    """shorten: 1 when the key's expiry was brought forward. One caller's share of a
    folded call is a bare number; a call on its own answers a list of one."""
    return int(raw[0]) if isinstance(raw, list) else int(raw)


@dataclass(frozen=True)
class Claimed:
    """claim_reserve: the order already had this identity; nothing was done."""

    identity: str


def read_claim_reserve(raw: Sequence[Any]) -> PartReply | Claimed:
    """claim_reserve: the reserve's reply, or Claimed when an identity was there."""
    if raw[0] == "CLAIMED":
        return Claimed(raw[1])
    return PartReply.read(raw)


@dataclass(frozen=True)
class Placed:
    """place: a multi-shard order placed whole; its decision and its parts' records
    (those reached; every part when ABORTED, each as released), in shard order."""

    phase: str
    parts: tuple[PartReply, ...]


def read_place(raw: Sequence[Any]) -> Placed | Claimed | PartReply:
    """place: Placed, Claimed when an identity was there (nothing done), or a part's
    CONFLICT (another request's record in a shard) as a PartReply."""
    if raw[0] == "CLAIMED":
        return Claimed(raw[1])
    if raw[0] == "PLACED":
        return Placed(raw[1], tuple(PartReply.read(r) for r in raw[2:]))
    return PartReply.read(raw)


def read_claim(raw: Any) -> str | None:
    """claim: the identity recorded before, or None when this call recorded it."""
    return raw or None


@dataclass(frozen=True)
class SweepReply:
    expired: int
    dead_lettered: int
    served: int

    @classmethod
    def read(cls, raw: Sequence[Any]) -> SweepReply:
        expired, dead_lettered, served = raw
        return cls(int(expired), int(dead_lettered), int(served))


@dataclass(frozen=True)
class LoadStockReply:
    served: int
    """Queued orders that got units."""

    @classmethod
    def read(cls, raw: Sequence[Any]) -> LoadStockReply:
        (served,) = raw
        return cls(int(served))


@dataclass(frozen=True)
class StartSaleReply:
    code: str
    """OK or CONFLICT."""
    outcome: str = ""
    """With OK: STARTED, or EXISTS (this sale was there already)."""
    sku: str = ""
    other_sale_id: str = ""
    """With CONFLICT: the SKU and the other open sale it is in."""

    @classmethod
    def read(cls, raw: Sequence[Any]) -> StartSaleReply:
        if raw[0] == "CONFLICT":
            _, sku, other = raw
            return cls("CONFLICT", sku=sku, other_sale_id=other)
        code, outcome = raw
        return cls(code, outcome=outcome)


@dataclass(frozen=True)
class StopSaleReply:
    returned: int

    @classmethod
    def read(cls, raw: Sequence[Any]) -> StopSaleReply:
        (returned,) = raw
        return cls(int(returned))


@dataclass(frozen=True)
class UpdateSaleReply:
    code: str
    """OK, STOPPED (the sale was stopped) or OTHER (the SKU carries another sale, or
    none: a later sale replaced it)."""
    served: int = 0
    """With OK: orders served from the SKUs' queues."""
    sku: str = ""
    other_sale_id: str = ""

    @classmethod
    def read(cls, raw: Sequence[Any]) -> UpdateSaleReply:
        if raw[0] == "OK":
            return cls("OK", served=int(raw[1]))
        if raw[0] == "STOPPED":
            return cls("STOPPED", sku=raw[1])
        _, sku, other = raw
        return cls("OTHER", sku=sku, other_sale_id=other)


@dataclass(frozen=True)
class PulledEntry:
    entry_id: str
    delivery_count: int
    fields: Fields


@dataclass(frozen=True)
class PullReply:
    acked_here: int
    """Entries the script acknowledged itself (dead-lettered, other groups' replays)."""
    boundary: str
    """Every entry after this id is undelivered: where a long-poll waits from."""
    entries: tuple[PulledEntry, ...]

    @classmethod
    def read(cls, raw: Sequence[Any]) -> PullReply:
        acked_here, boundary, entries = raw
        return cls(int(acked_here), boundary,
                   tuple(PulledEntry(eid, int(n), pairs(flat)) for eid, n, flat in entries))


@dataclass(frozen=True)
class AckReply:
    acknowledged: int
    """Newly acknowledged (0 for ids acknowledged before)."""
    trimmed: int

    @classmethod
    def read(cls, raw: Sequence[Any]) -> AckReply:
        acknowledged, trimmed = raw
        return cls(int(acknowledged), int(trimmed))


@dataclass(frozen=True)
class StatsReply:
    pending: int
    """Delivered, not acknowledged."""
    undelivered: int
    oldest_unacknowledged_id: str
    """'' when nothing is unacknowledged."""
    delivered_total: int
    acknowledged_total: int
    dead_lettered_total: int
    dead_letters_kept: int
    broken: bool
    """The stream's cap trimmed entries the group had not read or acknowledged."""
    read_at_ms: int
    """When a consumer last pulled the group on this shard (0: never)."""

    @classmethod
    def read(cls, raw: Sequence[Any]) -> StatsReply:
        pending, undelivered, oldest, delivered, acked, dead_total, dead_kept, broken, \
            read_at = raw
        return cls(int(pending), int(undelivered), oldest, int(delivered), int(acked),
                   int(dead_total), int(dead_kept), bool(int(broken)), int(read_at))


@dataclass(frozen=True)
class ReplayReply:
    replayed: int

    @classmethod
    def read(cls, raw: Sequence[Any]) -> ReplayReply:
        (replayed,) = raw
        return cls(int(replayed))


@dataclass(frozen=True)
class SnapshotReply:
    stocks: tuple[Fields, ...]
    """The stock hash of each SKU asked for, in order."""
    unacked: tuple[Entry, ...]
    dead: tuple[Entry, ...]

    @classmethod
    def read(cls, raw: Sequence[Any]) -> SnapshotReply:
        stocks, unacked, dead = raw
        return cls(tuple(pairs(flat) for flat in stocks),
                   tuple((eid, pairs(flat)) for eid, flat in unacked),
                   tuple((eid, pairs(flat)) for eid, flat in dead))


@dataclass(frozen=True)
class OpReply:
    """order_apply_many: what apply_order (_order.lua) answers for one order op."""

    code: str
    """OK | FALLBACK (stock refused, fallback written) | REFUSED | CONFLICT | DEAD."""
    version: int
    """The order's version now (with CONFLICT: the one found)."""
    hold_state: str
    allocations: str
    reason: str
    failed_sku: str
    act: str
    """What happened to the hold: reserve (made by this op), confirm, release, ..."""

    @classmethod
    def read(cls, raw: Sequence[Any]) -> OpReply:
        code, version, hold_state, allocations, reason, failed_sku, act = raw
        return cls(code, int(version), hold_state, allocations, reason, failed_sku, act)


@dataclass(frozen=True)
class LookupReply:
    """order_lookup: what one shard answers for a SyncOrders batch, each list in the
    order its requests were packed."""

    records: list[tuple[int, str | None] | None]
    """(version, document) of each order read; None: no record. A record with a version
    but no document left Redis for the records store (ARCHIVED)."""
    claims: list[str | None]
    """Each locator claim: the shard that held it already, 'evicted', or None (claimed
    now for the anchor)."""
    dups: list[list[str]]
    """Each registration: the other refs registered within the window around it."""

    @classmethod
    def read(cls, raw: Sequence[Any]) -> LookupReply:
        records, claims, dups = raw
        return cls([None if v is None else (int(v), doc) for v, doc in records],
                   list(claims), [list(near) for near in dups])


@dataclass(frozen=True)
class RulesPutReply:
    """rules_put: OK with the new version, or CONFLICT with the current one."""

    code: str
    version: int

    @classmethod
    def read(cls, raw: Sequence[Any]) -> RulesPutReply:
        return cls(raw[0], int(raw[1]))


@dataclass(frozen=True)
class BootstrapReply:
    position: str
    """The group's last-delivered id on the shard: it pulls what comes after."""
    stocks: tuple[tuple[str, Fields], ...]
    """(sku, its stock hash) of every SKU of the shard."""

    @classmethod
    def read(cls, raw: Sequence[Any]) -> BootstrapReply:
        position, stocks = raw
        return cls(str(position), tuple((sku, pairs(flat)) for sku, flat in stocks))


@dataclass(frozen=True)
class GuardTickReply:
    ran: bool
    """False: another replica holds this period's lease."""
    opened: tuple[str, ...]
    """"sku|channel" of breakers orders opened since the last tick (to alert once)."""
    closed: tuple[str, ...]
    """"sku|channel" of breakers this tick closed."""

    @classmethod
    def read(cls, raw: Sequence[Any]) -> GuardTickReply:
        ran, opened, closed = raw
        return cls(bool(int(ran)), tuple(opened), tuple(closed))


@dataclass(frozen=True)
class GuardSetReply:
    code: str
    """OK or NOT_FOUND (the SKU has no stock)."""
    transition: str = ""
    """OPEN or CLOSED when what orders on the channel see changed, else ''."""

    @classmethod
    def read(cls, raw: Sequence[Any]) -> GuardSetReply:
        if raw[0] == "NOT_FOUND":
            return cls("NOT_FOUND")
        code, transition = raw
        return cls(code, transition)


def _each(read: Callable[[Any], Any]) -> Callable[[Sequence[Any]], list[Any]]:
    """A bulk script answers one reply per folded call."""
    return lambda raw: [read(r) for r in raw]


READERS: dict[str, Callable[[Any], Any]] = {
    "claim": read_claim,
    "claim_many": _each(read_claim),
    "shorten": read_shorten,
    "intent": read_claim,
    "phase": PhaseReply.read,
    "due": DueReply.read,
    "lock": PartReply.read,
    "unlock": PartReply.read,
    "reserve": PartReply.read,
    "reserve_many": _each(PartReply.read),
    "claim_reserve": read_claim_reserve,
    "claim_reserve_many": _each(read_claim_reserve),
    "place_many": _each(read_place),
    "confirm": PartReply.read,
    "release": PartReply.read,
    "get": PartReply.read,
    "dead_letter": PartReply.read,
    "sweep": SweepReply.read,
    "load_stock": LoadStockReply.read,
    "start_sale": StartSaleReply.read,
    "stop_sale": StopSaleReply.read,
    "update_sale": UpdateSaleReply.read,
    "drop_identity": int,
    "wb_pull": PullReply.read,
    "wb_ack": AckReply.read,
    "wb_stats": StatsReply.read,
    "wb_replay": ReplayReply.read,
    "wb_snapshot": SnapshotReply.read,
    "order_apply_many": _each(OpReply.read),
    "order_lookup": LookupReply.read,
    "order_locator": lambda raw: raw,  # read by OrderStore.locate / evict_locator
    "order_docs": lambda raw: raw,    # read by OrderStore.docs_page
    "rules_put": RulesPutReply.read,
    "wb_bootstrap": BootstrapReply.read,
    "guard_tick": GuardTickReply.read,
    "guard_set": GuardSetReply.read,
}
"""Script name -> the reader of its reply. Every script in scripts.NAMES has one."""
