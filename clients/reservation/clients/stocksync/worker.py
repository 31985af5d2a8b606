"""One channel shop's stock-sync worker: every listing shows what the service may sell.

Two loops, one process:
- pull: the write-back events of a consumer group of its own (`listing-<channel>-<shop>`,
  the WMS's pull/ack machinery, wms/puller.py) mark the SKUs they touch dirty in the
  store, which commits before the batch is acknowledged: a crash loses no change;
- push: the dirty SKUs, oldest first, are asked of the service (GetListingQuantities:
  the rule is the service's), compared with what each listing was last told, and the
  ones that differ are pushed in the channel's own call shape (its module's push_stock:
  batched as the channel allows, at its rate limit, retried with backoff); what the
  channel accepted is recorded and reported (ReportListingPushes).

A burst of changes to one SKU is one push of its latest value. Every `resync_every_s`,
when the rule set version changes, or when an operator asks (ResyncChannelStock), every
mapped SKU is checked again and pushed where it differs: that repairs drift (a change
the events missed, or a listing edited by hand on the channel).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import grpc

from reservation.clients.channels.base import Adapter, ChannelError
from reservation.clients.channels.http import ChannelApi
from reservation.clients.channels.poller import Backoff
from reservation.clients.channels.stock import ItemPush, ListingRow, Outcome, Target, items_of
from reservation.clients.stocksync.store import Dirty, StockSyncStore
from reservation.v1 import listing_service_pb2 as pb
from reservation.v1 import listing_service_pb2_grpc as pb_grpc
from reservation.v1 import write_back_service_pb2 as wpb

log = logging.getLogger(__name__)

RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
             grpc.StatusCode.CANCELLED, grpc.StatusCode.RESOURCE_EXHAUSTED)


def group_name(channel: str, shop: str) -> str:
    """The write-back consumer group of a listing's worker."""
    return f"listing-{channel}-{shop}"


@dataclass
class Counts:
    pushed: int = 0
    refused: int = 0
    drift: int = 0
    unmapped: int = 0
    unchanged: int = 0
    auth_failures: int = 0


@dataclass
class StockSync:
    adapter: Adapter
    api: ChannelApi
    shop: str
    channel: grpc.Channel
    store: StockSyncStore
    mapping: Mapping[str, ListingRow]
    metadata: tuple[tuple[str, str], ...] = ()
    batch: int = 100
    resync_every_s: float = 600.0
    check_every_s: float = 5.0
    """While nothing is dirty, how often to ask whether the rule set changed or an
    operator asked for a resync (one small GetListingQuantities)."""
    backoff: Backoff = field(default_factory=lambda: Backoff(base_s=0.2, cap_s=30.0))
    clock: Callable[[], float] = time.time
    counts: Counts = field(default_factory=Counts)

    def __post_init__(self) -> None:
        if self.adapter.push_stock is None:
            raise ValueError(f"{self.adapter.name} has no listing to push stock to")
        self.stub = pb_grpc.ListingServiceStub(self.channel)
        self.items = items_of(self.mapping)
        self.wake = threading.Event()
        self._unmapped_seen: set[str] = set()
        self._unmapped_new = 0
        self._checked_at = 0.0

    # -- the pull side (wms.puller.Puller calls it with each batch) ---------------------
    def apply(self, events: Iterable[wpb.WriteBackEvent]) -> int:
        changes: dict[str, int] = {}
        for e in events:
            if not e.sku:
                continue
            at = e.occurred_at.seconds * 1000 + e.occurred_at.nanos // 1_000_000
            changes[e.sku] = min(changes.get(e.sku, at), at)
        mapped = {sku: at for sku, at in changes.items() if sku in self.mapping}
        for sku in changes.keys() - mapped.keys():
            if sku not in self._unmapped_seen:  # counted and logged once per SKU
                self._unmapped_seen.add(sku)
                self._unmapped_new += 1
                self.counts.unmapped += 1
                log.warning("%s/%s: %s changed but has no item on this shop (no mapping row)",
                            self.adapter.name, self.shop, sku)
        self.store.mark(mapped)
        if mapped:
            self.wake.set()
        return len(mapped)

    # -- the push side ----------------------------------------------------------------------
    def resync(self) -> None:
        """Every mapped SKU is checked (and pushed where it differs) at the next steps."""
        self.store.mark(dict.fromkeys(self.mapping, 0), resync=True)
        self.store.set_value("last_resync_ms", int(self.clock() * 1000))
        self.wake.set()

    def step(self) -> int:
        """One round: up to `batch` dirty SKUs asked, compared, pushed, reported.
        Returns how many were handled (0: nothing was dirty)."""
        if self.clock() * 1000 - self.store.value("last_resync_ms", 0) \
                >= self.resync_every_s * 1000:
            self.resync()
        taken = self.store.take(self.batch)
        if not taken:
            if self.mapping and self.clock() - self._checked_at >= self.check_every_s:
                self._notice(self._ask([next(iter(self.mapping))]))
            return 0
        plan = self._ask([d.sku for d in taken])
        self._notice(plan)
        wanted = {q.sku: q for q in plan.quantities}
        told = self.store.told(row.sku for d in taken
                               for row in self.items[self.mapping[d.sku].item_id])
        pushes, drift = self._pushes(taken, wanted, told)
        outcome = self._push(pushes) if pushes else {}
        self._finish(taken, wanted, outcome, drift)
        return len(taken)

    def _ask(self, skus: list[str]) -> pb.GetListingQuantitiesResponse:
        self._checked_at = self.clock()
        return self.stub.GetListingQuantities(pb.GetListingQuantitiesRequest(
            channel=self.adapter.name, shop=self.shop, skus=skus),
            timeout=10, metadata=self.metadata)

    def _notice(self, plan: pb.GetListingQuantitiesResponse) -> None:
        """A new rule set or an operator's resync: everything is checked again."""
        seen = (self.store.value("rules_version"), self.store.value("resync_epoch"))
        if seen != (plan.rules_version, plan.resync_epoch):
            if seen != (-1, -1):
                log.info("%s/%s: rules version %d, resync %d: checking every listing",
                         self.adapter.name, self.shop, plan.rules_version, plan.resync_epoch)
                self.resync()
            self.store.set_value("rules_version", plan.rules_version)
            self.store.set_value("resync_epoch", plan.resync_epoch)

    def _pushes(self, taken: Sequence[Dirty], wanted: Mapping[str, pb.ListingQuantity],
                told: Mapping[str, tuple[int, bool]]) -> tuple[list[ItemPush], int]:
        """Per item, the SKUs whose listing differs from what the service wants now (the
        item's other known SKUs ride along unchanged); and how many a resync found."""
        changed: dict[str, Target] = {}
        drift = 0
        for d in taken:
            q = wanted[d.sku]
            now = (q.quantity, q.listed)
            if told.get(d.sku) == now:
                continue
            if d.resync and d.sku in told:
                drift += 1
            changed[d.sku] = Target(self.mapping[d.sku], q.quantity, q.listed)
        pushes = []
        for item_id in dict.fromkeys(t.row.item_id for t in changed.values()):
            rows = self.items[item_id]
            known = [changed.get(r.sku) or Target(r, *told[r.sku], changed=False)
                     for r in rows if r.sku in changed or r.sku in told]
            pushes.append(ItemPush(item_id, tuple(known), _was_online(rows, told)))
        return pushes, drift

    def _push(self, pushes: list[ItemPush]) -> Outcome:
        push_stock = self.adapter.push_stock
        assert push_stock is not None  # checked at construction
        try:
            return self.backoff.run(f"{self.adapter.name} stock push",
                                    lambda: push_stock(self.api, pushes))
        except ChannelError as exc:
            if exc.auth:  # said now, counted by the service; the SKUs stay dirty
                log.error("%s/%s refused the app's or shop's credentials: %s",
                          self.adapter.name, self.shop, exc)
                self.counts.auth_failures += 1
                self.stub.ReportListingPushes(pb.ReportListingPushesRequest(
                    channel=self.adapter.name, shop=self.shop, refused=[
                        pb.RefusedPush(sku=t.row.sku, reason=f"auth {exc.code}")
                        for p in pushes for t in p.changed]),
                    timeout=10, metadata=self.metadata)
            raise

    def _finish(self, taken: Sequence[Dirty], wanted: Mapping[str, pb.ListingQuantity],
                outcome: Outcome, drift: int) -> None:
        now = int(self.clock() * 1000)
        by_sku = {d.sku: d for d in taken}
        accepted = [sku for sku, why in outcome.items() if why is None]
        refused = [(sku, why) for sku, why in outcome.items() if why is not None]
        for sku, why in refused:
            log.error("%s/%s refused the stock of %s: %s", self.adapter.name, self.shop,
                      sku, why)
        report = pb.ReportListingPushesRequest(
            channel=self.adapter.name, shop=self.shop, drift=drift,
            unmapped=self._unmapped_new,
            pushes=[pb.ListingPush(sku=sku, quantity=wanted[sku].quantity,
                                   listed=wanted[sku].listed,
                                   changed_at_ms=by_sku[sku].changed_at_ms, pushed_at_ms=now)
                    for sku in accepted],
            refused=[pb.RefusedPush(sku=sku, reason=why) for sku, why in refused])
        if report.pushes or report.refused or drift or self._unmapped_new:
            self.stub.ReportListingPushes(report, timeout=10, metadata=self.metadata)
            self._unmapped_new = 0
        # Refused SKUs are cleared too: the channel will refuse them until the mapping is
        # fixed; the next change or resync tries again.
        self.store.done([(sku, wanted[sku].quantity, wanted[sku].listed, now)
                         for sku in accepted], taken)
        c = self.counts
        c.pushed += len(accepted)
        c.refused += len(refused)
        c.drift += drift
        c.unchanged += len(taken) - len(outcome)

    def run(self, stop: threading.Event) -> None:
        """Push until stopped; the service or the channel being away is waited out."""
        pause = 0.2
        while not stop.is_set():
            try:
                handled = self.step()
                pause = 0.2
            except grpc.RpcError as exc:
                if exc.code() not in RETRYABLE:
                    raise
                log.warning("service unavailable (%s); retrying in %.1f s",
                            exc.code().name, pause)
                stop.wait(pause)
                pause = min(pause * 2, 10.0)
                continue
            except ChannelError as exc:  # retries exhausted: the dirty SKUs stay dirty
                log.warning("%s: %s; retrying in %.1f s", self.adapter.name, exc, pause)
                stop.wait(pause)
                pause = min(pause * 2, 60.0)
                continue
            if not handled:
                self.wake.wait(0.5)
                self.wake.clear()



def _was_online(rows: Sequence[ListingRow], told: Mapping[str, tuple[int, bool]]) -> bool | None:
    """Whether the item was on sale after the last accepted pushes (None: a SKU of it
    was never told, so the item-level call is made to be sure)."""
    if any(r.sku not in told for r in rows):
        return None
    return any(listed and q > 0 for q, listed in (told[r.sku] for r in rows))
