"""How an order's change becomes a script op: the shard an order's record lives in (its
anchor), its lines by shard (its parts), the refs of its stock holds, and the op the
order scripts (_order.lua) read. The hub and its batch path build their ops here."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from reservation.domain.models import OrderLine
from reservation.domain.orders import spec
from reservation.ordersync import codec
from reservation.ordersync.events import OrderEvent
from reservation.ordersync.model import ChannelOrder, Order
from reservation.ordersync.plan import Plan
from reservation.routing.service import today
from reservation.settings import Settings
from reservation.storage import keys
from reservation.storage.orders import order_ref

AUDIT_GROUP = "audit"

Lines = list[tuple[str, int, str]]
"""Script lines of one shard: (sku, quantity, candidate warehouses)."""


class Ops:
    def __init__(self, settings: Settings, groups: Collection[str], trail: bool) -> None:
        self.settings = settings
        self.groups = groups
        """The order event stream's consumer groups (a channel's feed group, if named)."""
        self.trail = trail
        """Whether events go to the audit trail's entries of the streams."""

    def anchor(self, order: Order | ChannelOrder) -> int:
        return keys.shard_of(order.lines[0].sku, self.settings.shards)

    def parts(self, order: Order) -> dict[int, list[tuple[str, int, str]]]:
        """Lines by shard, each (sku, quantity, candidate warehouses)."""
        # Routed: the routed candidates; else the line's own warehouse or priority ("").
        cands = order.routes or [ln.warehouse_id for ln in order.lines]
        parts: dict[int, list[tuple[str, int, str]]] = {}
        for line, cand in zip(order.lines, cands, strict=True):
            shard = keys.shard_of(line.sku, self.settings.shards)
            parts.setdefault(shard, []).append((line.sku, line.quantity, cand))
        return parts

    def holds_of(self, order: Order) -> list[tuple[int, str]]:
        """The order's stock holds: (shard, hold ref) of each part."""
        ref = order_ref(*order.key)
        return [(s, self.hold_ref(ref, s, order)) for s in self.parts(order)]

    @staticmethod
    def hold_ref(ref: str, shard: int, order: Order) -> str:
        gen = order.hold_gens.get(str(shard), 0)
        return ref if gen == 0 else f"{ref}#{gen}"

    def _entries(self, order: Order, events: Sequence[OrderEvent], feed: set[int],
                 blob: Callable[[str], int]) -> list[object]:
        groups = self.groups
        audit = AUDIT_GROUP if self.trail else ""
        feed_group = f"feed-{order.channel}"
        out: list[object] = []
        n = 0
        for i, e in enumerate(events):
            payload = e.encode()
            out += [audit, "1", blob(payload)]
            n += 1
            if i in feed and feed_group in groups:
                out += [feed_group, "0", blob(payload)]
                n += 1
        return [n, *out]

    def op(self, mode: str, ref: str, shard: int, p: Plan, order: Order,
            lines: Sequence[tuple[str, int, str]], want: str,
            primary: tuple[Order, list[OrderEvent], set[int]] | None = None) -> bytes:
        """One order op for _order.lua: the tab-separated header, a newline, then the
        documents and events the header gives the byte lengths of (the script cuts them
        out instead of scanning them for tabs, which was a third of its time)."""
        s = self.settings
        payloads: list[bytes] = []

        def blob(text: str) -> int:
            data = text.encode()
            payloads.append(data)
            return len(data)

        spec_ = spec(OrderLine(sku, qty, cand) for sku, qty, cand in lines)
        fields: list[object] = [
            mode, ref, p.expected_version, p.order.version,
            p.order.created_at_ms if p.reindex else "",
            s.order_retention_ms, want, self.hold_ref(ref, shard, order), ref,
            order.channel, f"{order.shop}/{order.order_id}", order.buyer_hash, spec_,
            s.order_hold_ttl_ms, len(lines)]
        for line in lines:
            fields += list(line)
        if mode == "part":
            fields += [0, 0, 0, 0, 0]
        else:
            doc, events, feed = primary or (p.order, p.events, p.feed)
            # No fallback in the script: a refused stock effect comes back REFUSED with
            # nothing written, and _fallback() writes the review instead (see there).
            fields += [blob(codec.encode(doc)), *self._entries(doc, events, feed, blob), 0, 0]
            fields.append(len(p.wms_events))
            for kind, warehouse, detail in p.wms_events:
                fields += [kind, warehouse, blob(detail)]
        # A routed order counts towards today's load of the warehouses it holds at.
        fields.append(today() if order.routes else "")
        return "\t".join(map(str, fields)).encode() + b"\n" + b"".join(payloads)
