"""The flash sales' blocklist: buyers, devices and client addresses whose new orders for
a SKU on sale are refused (REJECTED, reason BLOCKED), whatever the sale.

The reserve script checks it (_gate.lua) from a copy in every shard, so the check is
part of the same atomic step as the reserve; the list's own hash keeps who added each
entry, when and why, for ListBlocklist. Entries apply only while a SKU's sale is open:
outside sales the service does not refuse anyone by who they are.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from reservation.clock import now_ms
from reservation.domain import validation
from reservation.domain.models import BlockEntry, BlockKind
from reservation.errors import FailedPrecondition, InvalidArgument
from reservation.settings import Settings
from reservation.storage.store import Store

MAX_ENTRIES = 100_000
"""Most entries on the list (each one is a member of every shard's copy)."""
MAX_REASON = 256
MAX_PAGE = 1000
_PREFIX = {BlockKind.BUYER: "b", BlockKind.DEVICE: "d", BlockKind.IP: "i"}
_KIND = {v: k for k, v in _PREFIX.items()}


def member(kind: BlockKind, value: str) -> str:
    """The entry as the gate looks it up: "b:<buyer>", "d:<device>", "i:<address>"."""
    return f"{_PREFIX[kind]}:{value}"


class Blocklist:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    async def update(self, add: Sequence[BlockEntry], remove: Sequence[BlockEntry],
                     who: str) -> int:
        """Add (a present entry gets the new reason), then remove; the size after.
        Everything is checked before anything is written."""
        for field, entries in (("add", add), ("remove", remove)):
            if len(entries) > self.settings.max_batch:
                raise InvalidArgument(field, f"holds {len(entries)} entries, at most "
                                      f"{self.settings.max_batch}")
        at = now_ms()
        added: dict[str, str] = {}
        for i, e in enumerate(add):
            value = validation.block_value(f"add[{i}].value", e.kind, e.value, self.settings)
            if len(e.reason) > MAX_REASON or not e.reason.isprintable():
                raise InvalidArgument(f"add[{i}].reason", f"must be printable text of at "
                                      f"most {MAX_REASON} characters")
            added[member(e.kind, value)] = json.dumps(
                {"reason": e.reason, "at": at, "by": who}, separators=(",", ":"))
        removed = [member(e.kind, validation.block_value(f"remove[{i}].value", e.kind,
                                                          e.value, self.settings))
                   for i, e in enumerate(remove)]
        current = await self.store.blocklist()
        new = sum(1 for m in added if m not in current)
        if len(current) + new > MAX_ENTRIES:
            raise FailedPrecondition(f"the blocklist holds {len(current)} entries; "
                                     f"{new} more would pass {MAX_ENTRIES}")
        return await self.store.update_blocklist(added, removed)

    async def list(self, kind: BlockKind | None = None,
                   page_size: int = 0) -> tuple[list[BlockEntry], int]:
        """Entries (of one kind, or all) ordered by kind and value; and the list's size."""
        if not 0 <= page_size <= MAX_PAGE:
            raise InvalidArgument("page_size", f"must be between 0 and {MAX_PAGE}")
        records = await self.store.blocklist()
        out = []
        for key in sorted(records):
            prefix, _, value = key.partition(":")
            found = _KIND.get(prefix)
            if found is None or (kind is not None and found != kind):
                continue
            record = json.loads(records[key])
            out.append(BlockEntry(found, value, record.get("reason", ""),
                                  int(record.get("at", 0)), record.get("by", "")))
            if len(out) == (page_size or MAX_PAGE):
                break
        return out, len(records)
