"""Flash sales: preload a quota with a window and limits, stop it, read it back.

A sale's definition is stored once under its id (so Start is idempotent and Stop/Get
know its items); its SKUs carry the sale's window and limits in their own shard, where
the reserve script reads them.
"""

from __future__ import annotations

import json
from typing import Any

from reservation.clock import now_ms
from reservation.domain import validation
from reservation.domain.models import FlashSale, RateLimit, StockItem
from reservation.domain.shards import by_shard
from reservation.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from reservation.settings import Settings
from reservation.stock.levels import items_by_shard
from reservation.storage.store import Store

MAX_LIST = 100
"""Most sales one ListFlashSales answers (each is read with its live counters)."""


class Sales:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    async def start(self, sale: FlashSale, create_skus: bool = False,
                    validate_only: bool = False) -> FlashSale:
        """Start (or, for the same request again, confirm) a sale. starts_at_ms 0 means
        now; the definition keeps the request as sent, so a retry compares equal.
        Without create_skus a SKU or warehouse that has no stock record (a typo) is
        NotFound; validate_only checks all of it and answers the sale as it would be."""
        self._validate(sale)
        await self._refuse_overlap(sale)
        if not create_skus:
            await self._refuse_unknown(sale)
        spec = _encode(sale)
        if validate_only:
            return await self._would_start(sale, spec)
        ttl = max(sale.ends_at_ms - now_ms(), 0) + self.settings.retention_ms
        existing, opened_ms = await self.store.save_sale_definition(
            sale.sale_id, spec, now_ms(), ttl)
        if existing is not None and existing != spec:
            raise AlreadyExists(f"flash sale {sale.sale_id} exists with a different definition")
        sale = FlashSale(**{**sale.__dict__, "starts_at_ms": sale.starts_at_ms or opened_ms})
        started: list[tuple[int, list[str]]] = []
        for shard, group in items_by_shard(sale.items, self.settings.shards):
            answer = await self.store.start_sale(
                shard, sale.sale_id, sale.starts_at_ms, sale.ends_at_ms, sale.per_buyer_limit,
                sale.hold_ttl_ms, sale.queue_deadline_ms, group, rate_spec(sale))
            if answer.code == "CONFLICT":
                note = await self._undo_start(sale.sale_id, created=existing is None,
                                              started=started)
                raise FailedPrecondition(
                    f"sku {answer.sku} is in flash sale {answer.other_sale_id}{note}")
            started.append((shard, list(dict.fromkeys(sku for sku, _, _ in group))))
        return await self.get(sale.sale_id)

    async def _undo_start(self, sale_id: str, created: bool,
                          started: list[tuple[int, list[str]]]) -> str:
        """Another sale took a SKU since _refuse_overlap looked. A sale this call created
        must not stay live on the shards it already started (a half-started sale the
        caller was told failed): they are stopped, unsold units back to stock, and the
        sale stays on record as stopped. With nothing started, only the definition this
        call wrote is taken back. A sale that existed before this call is left as it is."""
        if not created:
            return ""
        if not started:
            await self.store.drop_sale_definition(sale_id)
            return ""
        await self.store.mark_sale_stopped(sale_id)
        for shard, skus in started:
            await self.store.stop_sale(shard, sale_id, skus)
        return (f"; sale {sale_id} was stopped on the SKUs it had already started "
                f"({', '.join(sku for _, skus in started for sku in skus)})")

    async def _would_start(self, sale: FlashSale, spec: str) -> FlashSale:
        """validate_only: the sale on record when this is a retry of its start, else the
        sale as a start would make it (with today's counters), nothing written."""
        stored = await self.store.sale_definition(sale.sale_id)
        if "spec" in stored:
            if stored["spec"] != spec:
                raise AlreadyExists(
                    f"flash sale {sale.sale_id} exists with a different definition")
            return await self.get(sale.sale_id)
        return await self._with_levels(
            FlashSale(**{**sale.__dict__, "starts_at_ms": sale.starts_at_ms or now_ms()}))

    async def _refuse_unknown(self, sale: FlashSale) -> None:
        """A SKU or warehouse never loaded is most likely a typo (PHNOE-X): starting
        would create its stock and tell the WMS. NotFound names the item."""
        known: dict[str, set[str]] = {}
        for i, item in enumerate(sale.items):
            if item.sku not in known:
                levels, _ = await self.store.stock(item.sku)
                known[item.sku] = {level.warehouse_id for level in levels}
            if not known[item.sku]:
                raise NotFound(f"items[{i}].sku: no stock was ever loaded for sku "
                               f"{item.sku}; load it first, or ask to create it "
                               "(create_skus, `sale start --create`)")
            if item.warehouse_id not in known[item.sku]:
                raise NotFound(f"items[{i}].warehouse_id: sku {item.sku} has no stock in "
                               f"warehouse {item.warehouse_id} (it has "
                               f"{', '.join(sorted(known[item.sku]))}); ask to create it "
                               "(create_skus, `sale start --create`)")

    def _validate(self, sale: FlashSale) -> None:
        """Every time and count bounded before the first write: Redis cannot expire a key
        past its range (PEXPIRE overflows), and a sale record without a TTL stays forever."""
        s = self.settings
        validation.code("sale_id", sale.sale_id)
        validation.stock_items("items", sale.items, s, allow_zero=False)
        self._validate_window(sale.starts_at_ms, sale.ends_at_ms)
        if not 0 <= sale.per_buyer_limit <= s.max_quantity:
            raise InvalidArgument("per_buyer_limit", f"must be between 0 and {s.max_quantity}")
        validation.hold_ttl("hold_ttl", sale.hold_ttl_ms, s)
        for _, name in _RATES:
            validation.rate_limit(name, getattr(sale, name), s)
        if not 0 <= sale.queue_deadline_ms <= s.max_queue_deadline_ms:
            raise InvalidArgument("queue_deadline", f"must be between 0 and "
                                  f"{s.max_queue_deadline_ms / 1000:g} s")

    def _validate_window(self, starts_at_ms: int, ends_at_ms: int) -> None:
        now, horizon = now_ms(), self.settings.max_sale_horizon_ms
        days = f"{horizon / 86_400_000:g} days"
        if starts_at_ms and not now - horizon <= starts_at_ms <= now + horizon:
            raise InvalidArgument("starts_at", f"must be within {days} of now")
        if starts_at_ms and ends_at_ms <= starts_at_ms:
            raise InvalidArgument("ends_at", "must be after starts_at")
        if ends_at_ms <= now:
            raise InvalidArgument("ends_at", "is in the past")
        if ends_at_ms > now + horizon:
            raise InvalidArgument("ends_at", f"must be within {days} of now")

    async def _refuse_overlap(self, sale: FlashSale) -> None:
        """Refuse before the first write when any SKU is in another open sale."""
        skus = list(dict.fromkeys(it.sku for it in sale.items))
        current = await self.store.sales_of(skus)
        for sku, other in zip(skus, current):
            if other and other.get("sale_id") != sale.sale_id and other.get("stopped") != "1" \
                    and now_ms() < int(other["ends"]):
                raise FailedPrecondition(f"sku {sku} is in flash sale {other['sale_id']}")

    async def stop(self, sale_id: str) -> FlashSale:
        sale = await self.get(sale_id)
        await self.store.mark_sale_stopped(sale_id)
        skus = dict.fromkeys(it.sku for it in sale.items)
        for shard, group in by_shard(skus, lambda sku: sku, self.settings.shards):
            await self.store.stop_sale(shard, sale_id, group)
        return await self.get(sale_id)

    async def reschedule(self, sale_id: str, starts_at_ms: int, ends_at_ms: int,
                         validate_only: bool = False) -> FlashSale:
        """A new window for a sale not stopped (before, during or after it: an ended
        sale opens again if no other sale took its SKUs). starts_at_ms 0 keeps the
        start."""
        sale = await self.get(sale_id)
        starts = starts_at_ms or sale.starts_at_ms
        self._validate_window(starts_at_ms, ends_at_ms)
        if starts_at_ms == 0 and ends_at_ms <= starts:
            raise InvalidArgument("ends_at", "must be after the sale's start")
        if sale.stopped:
            raise FailedPrecondition(f"flash sale {sale_id} was stopped; start a new one")
        moved = FlashSale(**{**sale.__dict__, "starts_at_ms": starts, "ends_at_ms": ends_at_ms})
        await self._refuse_overlap(moved)
        if validate_only:
            return moved
        ttl = max(ends_at_ms - now_ms(), 0) + self.settings.retention_ms
        await self.store.update_sale_definition(
            sale_id, {"window": f"{starts}:{ends_at_ms}"}, now_ms(), ttl)
        await self._update_shards(sale, "window", starts, ends_at_ms)
        return await self.get(sale_id)

    async def pause(self, sale_id: str) -> FlashSale:
        """Hold a sale (SALE_PAUSED answers, queues wait); a paused sale stays paused."""
        return await self._pause(sale_id, True)

    async def resume(self, sale_id: str) -> FlashSale:
        return await self._pause(sale_id, False)

    async def _pause(self, sale_id: str, paused: bool) -> FlashSale:
        sale = await self.get(sale_id)
        if sale.stopped:
            raise FailedPrecondition(f"flash sale {sale_id} was stopped")
        if now_ms() >= sale.ends_at_ms:
            raise FailedPrecondition(f"flash sale {sale_id} has ended; reschedule it to "
                                     "open it again")
        ttl = max(sale.ends_at_ms - now_ms(), 0) + self.settings.retention_ms
        await self.store.update_sale_definition(
            sale_id, {"paused": "1" if paused else "0"}, now_ms(), ttl)
        await self._update_shards(sale, "pause" if paused else "resume")
        return await self.get(sale_id)

    async def _update_shards(self, sale: FlashSale, op: str, starts_ms: int = 0,
                             ends_ms: int = 0) -> None:
        """The change on every shard of the sale's SKUs (each shard atomic, as Start
        and Stop); a SKU another sale took since is FailedPrecondition."""
        skus = dict.fromkeys(it.sku for it in sale.items)
        for shard, group in by_shard(skus, lambda sku: sku, self.settings.shards):
            answer = await self.store.update_sale(shard, sale.sale_id, op, group,
                                                  starts_ms, ends_ms)
            if answer.code == "STOPPED":
                raise FailedPrecondition(f"flash sale {sale.sale_id} was stopped")
            if answer.code == "OTHER":
                now = (f"is in flash sale {answer.other_sale_id}" if answer.other_sale_id
                       else "carries no sale")
                raise FailedPrecondition(f"sku {answer.sku} {now}; flash sale "
                                         f"{sale.sale_id} no longer governs it")

    async def list(self, page_size: int = 0) -> list[FlashSale]:
        """Sales still on record (started within the retention), soonest to end first."""
        if not 0 <= page_size <= MAX_LIST:
            raise InvalidArgument("page_size", f"must be between 0 and {MAX_LIST}")
        found = []
        for sale_id in await self.store.sale_ids(now_ms(), page_size or MAX_LIST):
            stored = await self.store.sale_definition(sale_id)
            if "spec" in stored:  # expired between the two reads: skipped
                found.append(await self.get(sale_id))
        return found

    async def get(self, sale_id: str) -> FlashSale:
        validation.code("sale_id", sale_id)
        stored = await self.store.sale_definition(sale_id)
        if "spec" not in stored:
            raise NotFound(f"no flash sale {sale_id}")
        sale = _decode(stored["spec"], stopped=stored.get("stopped") == "1")
        changed: dict[str, Any] = {"paused": stored.get("paused") == "1"}
        if "window" in stored:  # rescheduled: the window operators set last
            starts, ends = stored["window"].split(":")
            changed.update(starts_at_ms=int(starts), ends_at_ms=int(ends))
        elif not sale.starts_at_ms:
            changed["starts_at_ms"] = int(stored["opened"])
        return await self._with_levels(FlashSale(**{**sale.__dict__, **changed}))

    async def _with_levels(self, sale: FlashSale) -> FlashSale:
        """The sale with its SKUs' live counters."""
        levels = {}
        for sku in dict.fromkeys(it.sku for it in sale.items):
            for level in (await self.store.stock(sku))[0]:
                levels[(sku, level.warehouse_id)] = level
        return FlashSale(**{**sale.__dict__, "levels": levels})


_RATES = (("b", "buyer_rate"), ("d", "device_rate"), ("i", "ip_rate"))
"""A sale's rate limits as the reserve script reads them (_gate.lua): b buyer, d device,
i client address."""


def rate_spec(sale: FlashSale) -> str:
    """"b:<orders>:<per ms>,d:...,i:..." for the limits that are on ("" : none)."""
    return ",".join(f"{k}:{rate.orders}:{rate.per_ms}" for k, name in _RATES
                    if (rate := getattr(sale, name)).orders > 0)


def _encode(sale: FlashSale) -> str:
    doc: dict[str, Any] = {
        "items": [[it.sku, it.warehouse_id, it.quantity] for it in sale.items],
        "starts": sale.starts_at_ms, "ends": sale.ends_at_ms, "limit": sale.per_buyer_limit,
        "ttl": sale.hold_ttl_ms, "qdl": sale.queue_deadline_ms, "id": sale.sale_id,
    }
    if rate_spec(sale):  # only then: a sale without limits encodes as it always did
        doc["rates"] = {name: [r.orders, r.per_ms] for _, name in _RATES
                        if (r := getattr(sale, name)).orders > 0}
    return json.dumps(doc, separators=(",", ":"))


def _decode(text: str, stopped: bool) -> FlashSale:
    d = json.loads(text)
    rates = d.get("rates", {})
    rate = lambda name: RateLimit(*rates[name]) if name in rates else RateLimit()
    return FlashSale(
        sale_id=d["id"], items=tuple(StockItem(*it) for it in d["items"]),
        starts_at_ms=d["starts"], ends_at_ms=d["ends"], per_buyer_limit=d["limit"],
        hold_ttl_ms=d["ttl"], queue_deadline_ms=d["qdl"], stopped=stopped,
        buyer_rate=rate("buyer_rate"), device_rate=rate("device_rate"),
        ip_rate=rate("ip_rate"))
