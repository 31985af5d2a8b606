"""Stock out to the channels: what each listing may sell (quantities.py, from the SKU's
counters and guard and the listing rule set), what each was last told (reported by the
stock-sync workers once the channel accepted a push), resyncs operators ask for, and the
rule set itself, versioned with history and rollback like routing's."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from reservation import clock as clock_
from reservation.domain import validation
from reservation.errors import InvalidArgument, NotFound
from reservation.listings import rules as rules_
from reservation.listings.quantities import Quantity, SkuStock, quantity
from reservation.listings.rules import RuleSet
from reservation.listings.velocity import Velocity
from reservation.settings import Settings
from reservation.storage.listings import ListingStore, SkuRecord
from reservation.storage.rulesets import RulesVersion
from reservation.storage.store import Store

HISTORY_DEFAULT = 50
MAX_VIEW_SKUS = 100


@dataclass(frozen=True)
class Told:
    """What a listing was last told (a push its channel accepted)."""

    quantity: int
    listed: bool
    pushed_at_ms: int
    changed_at_ms: int

    def encode(self) -> str:
        return f"{self.quantity}|{int(self.listed)}|{self.pushed_at_ms}|{self.changed_at_ms}"

    @classmethod
    def decode(cls, raw: str) -> Told:
        q, listed, pushed, changed = raw.split("|")
        return cls(int(q), listed == "1", int(pushed), int(changed))


@dataclass(frozen=True)
class Push:
    sku: str
    told: Told


@dataclass(frozen=True)
class Plan:
    """GetListingQuantities' answer."""

    quantities: list[Quantity]
    rules_version: int
    resync_epoch: int


@dataclass(frozen=True)
class ListingView:
    sku: str
    channel: str
    shop: str
    told: Told | None
    now: Quantity
    lag_ms: int
    breaker: str


@dataclass(frozen=True)
class Report:
    """What a worker reported, for the metrics (server/metrics.py observes it)."""

    channel: str
    lags_s: list[float]
    refused: dict[str, int]
    drift: int
    unmapped: int


class Listings:
    def __init__(self, store: Store, settings: Settings,
                 clock: Callable[[], int] = clock_.now_ms) -> None:
        self.db = ListingStore(store)
        self.settings, self.clock = settings, clock
        self._cache: RuleSet | None = None
        self.observer: Callable[[Report], None] | None = None
        self.velocity = Velocity()
        self.closed: Callable[[str, str], None] | None = None
        """Told (sku, channel) when a listing's dynamic safety closes it (metrics, log)."""
        self._closed_now: set[tuple[str, str]] = set()

    # -- the rule set -----------------------------------------------------------------
    async def rules(self) -> RuleSet:
        """The rule set in force (one HGET per call; parsed once per version)."""
        version = await self.db.current_version()
        if self._cache is not None and self._cache.version == version:
            return self._cache
        document = (await self.get_rules(version)).document if version else \
            rules_.DEFAULT_DOCUMENT
        self._cache = rules_.parse(document, version)
        return self._cache

    async def put_rules(self, document: Mapping[str, Any], comment: str = "",
                        expected_version: int = 0, actor: str = "",
                        rolled_back_to: int = 0, validate_only: bool = False) -> RulesVersion:
        """validate_only: every check, and the version it would get; nothing stored."""
        if expected_version < 0:
            raise InvalidArgument("expected_version", "must be 0 (any) or a version")
        rules_.parse(document)  # everything checked before anything is written
        record = RulesVersion(0, dict(document), comment, self.clock(), rolled_back_to, actor)
        if validate_only:
            return replace(record, version=await self.db.next_version(expected_version))
        version = await self.db.put_rules(record.encode(), expected_version)
        return replace(record, version=version)

    async def get_rules(self, version: int = 0) -> RulesVersion:
        if version < 0:
            raise InvalidArgument("version", "must be 0 (current) or a version")
        version = version or await self.db.current_version()
        if version == 0:
            return RulesVersion(0, rules_.DEFAULT_DOCUMENT, "no rule set put yet", 0)
        [raw] = await self.db.rules_records([version])
        if raw is None:
            raise NotFound(f"no listing rule set version {version} (the last 500 are kept)")
        return RulesVersion.decode(version, raw)

    async def history(self, limit: int = 0) -> tuple[list[RulesVersion], int]:
        if not 0 <= limit <= 500:
            raise InvalidArgument("limit", "must be 0 (50) .. 500")
        current = await self.db.current_version()
        wanted = list(range(current, 0, -1))[: limit or HISTORY_DEFAULT]
        raws = await self.db.rules_records(wanted)
        return [RulesVersion.decode(v, r) for v, r in zip(wanted, raws, strict=True)
                if r is not None], current

    async def rollback(self, version: int, actor: str = "") -> RulesVersion:
        if version <= 0:
            raise InvalidArgument("version", "must name an earlier version")
        old = await self.get_rules(version)
        return await self.put_rules(old.document, f"rollback to version {version}", 0, actor,
                                    rolled_back_to=version)

    # -- what the workers ask and tell --------------------------------------------------
    async def quantities(self, channel: str, shop: str, skus: Sequence[str]) -> Plan:
        self._check_listing(channel, shop)
        self._check_skus("skus", skus, self.settings.max_batch)
        rs = await self.rules()
        records = await self.db.read(list(dict.fromkeys(skus)))
        found = {r.sku: self._quantity(r, channel, shop, rs) for r in records}
        return Plan([found[s] for s in skus], rs.version,
                    await self.db.resync_epoch(channel, shop))

    async def report(self, channel: str, shop: str, pushes: Sequence[Push],
                     refused: Sequence[tuple[str, str]], drift: int, unmapped: int) -> int:
        self._check_listing(channel, shop)
        self._check_skus("pushes", [p.sku for p in pushes], self.settings.max_batch)
        self._check_skus("refused", [sku for sku, _ in refused], self.settings.max_batch)
        for name, n in (("drift", drift), ("unmapped", unmapped)):
            if not 0 <= n <= 10**9:
                raise InvalidArgument(name, "must be 0 .. 10^9")
        now = self.clock()
        for i, p in enumerate(pushes):
            validation.quantity(f"pushes[{i}].quantity", p.told.quantity, self.settings,
                                allow_zero=True)
            for name, at in (("pushed_at_ms", p.told.pushed_at_ms),
                             ("changed_at_ms", p.told.changed_at_ms)):
                if not 0 <= at <= now + 60_000:
                    raise InvalidArgument(f"pushes[{i}].{name}", "is not a time up to now")
        await self.db.record_told([(p.sku, f"{channel}/{shop}", p.told.encode())
                                   for p in pushes])
        if self.observer is not None:
            reasons: dict[str, int] = {}
            for _, reason in refused:
                reasons[reason] = reasons.get(reason, 0) + 1
            self.observer(Report(channel, [max(0.0, (p.told.pushed_at_ms
                                                    - p.told.changed_at_ms) / 1000)
                                           for p in pushes if p.told.changed_at_ms],
                                 reasons, drift, unmapped))
        return len(pushes)

    async def resync(self, channel: str, shop: str) -> int:
        validation.code("channel", channel)
        validation.code("shop", shop, required=False)
        return await self.db.ask_resync(channel, shop)

    # -- what operators see --------------------------------------------------------------
    async def channel_stock(self, skus: Sequence[str]) -> list[ListingView]:
        self._check_skus("skus", skus, MAX_VIEW_SKUS)
        skus = list(dict.fromkeys(skus))
        rs = await self.rules()
        records = await self.db.read(skus)
        told = await self.db.told(skus)
        now = self.clock()
        views: list[ListingView] = []
        for record, by_listing in zip(records, told, strict=True):
            for channel, shop in _listings(record, by_listing, rs):
                told_ = Told.decode(by_listing[f"{channel}/{shop}"]) \
                    if f"{channel}/{shop}" in by_listing else None
                q = self._quantity(record, channel, shop, rs)
                behind = told_ is not None and (told_.quantity, told_.listed) != (q.quantity,
                                                                                  q.listed)
                views.append(ListingView(record.sku, channel, shop, told_, q,
                                         now - told_.pushed_at_ms if behind and told_ else 0,
                                         _breaker(record.guard, channel)))
        return views

    def _quantity(self, record: SkuRecord, channel: str, shop: str, rs: RuleSet) -> Quantity:
        stock = sku_stock(record)
        rule = rs.rule_for(record.sku)
        if rule is not None and rule.dynamic is not None:
            taken = sum(c.get("held", 0) + c.get("confirmed", 0)
                        for c in record.counters.values())
            stock = replace(stock, velocity=self.velocity.observe(
                record.sku, self.clock(), taken, rule.dynamic.window_s))
        q = quantity(stock, channel, shop, rs)
        self._note_closed(record.sku, channel, q)
        return q

    def _note_closed(self, sku: str, channel: str, q: Quantity) -> None:
        """Tells `closed` once each time a dynamic safety closes a listing."""
        key = (sku, channel)
        if q.by_dynamic_safety:
            if key not in self._closed_now:
                if len(self._closed_now) > 10_000:
                    self._closed_now.clear()
                self._closed_now.add(key)
                if self.closed is not None:
                    self.closed(sku, channel)
        else:
            self._closed_now.discard(key)

    # -- checks -----------------------------------------------------------------------------
    @staticmethod
    def _check_listing(channel: str, shop: str) -> None:
        validation.code("channel", channel)
        validation.code("shop", shop)

    @staticmethod
    def _check_skus(field: str, skus: Sequence[str], most: int) -> None:
        if field == "skus" and not skus:
            raise InvalidArgument(field, "must name at least one SKU")
        if len(skus) > most:
            raise InvalidArgument(field, f"holds {len(skus)}, at most {most}")
        for i, sku in enumerate(skus):
            validation.code(f"{field}[{i}]" if field == "skus" else f"{field}[{i}].sku", sku)


def sku_stock(record: SkuRecord) -> SkuStock:
    g = record.guard
    safety = int(g["ss_set"]) if "ss_set" in g else int(g.get("ss", "0"))
    channels = {f.split(":", 1)[1] for f in g if f.startswith(("force:", "open:"))}
    return SkuStock(record.sku, {wh: c.get("available", 0) for wh, c in record.counters.items()},
                    safety, frozenset(ch for ch in channels if _breaker(g, ch) == "OPEN"))


def _breaker(guard: Mapping[str, str], channel: str) -> str:
    """OPEN / CLOSED as the reserve script decides it (_guard.lua): a forced state wins."""
    forced = guard.get(f"force:{channel}", "")
    if forced:
        return forced
    if f"open:{channel}" in guard or f"th:{channel}" in guard:
        return "OPEN" if guard.get(f"open:{channel}") == "1" else "CLOSED"
    return ""


def _listings(record: SkuRecord, told: Mapping[str, str],
              rs: RuleSet) -> list[tuple[str, str]]:
    """The listings a view of the SKU shows: those ever told, and those its rule names
    by channel that no worker has reported yet (shop "")."""
    found = [(k.partition("/")[0], k.partition("/")[2]) for k in sorted(told)]
    rule = rs.rule_for(record.sku)
    if rule is not None:
        named = {k.partition("/")[0] for k, _ in (*rule.reserve, *rule.shares)}
        known = {ch for ch, _ in found}
        found += [(ch, "") for ch in sorted(named - known)]
    return found


def parse_document(text: str, limit: int) -> dict[str, Any]:
    """document_json as the servicer gets it: bounded, JSON, a mapping."""
    if len(text) > limit:
        raise InvalidArgument("document_json", f"is longer than {limit} bytes")
    # Depth-bounded, non-finite numbers (1e400 too) and over-long integers refused by path.
    doc = validation.json_document("document_json", text)
    if not isinstance(doc, dict):
        raise InvalidArgument("document_json", "must be a JSON object")
    return doc

