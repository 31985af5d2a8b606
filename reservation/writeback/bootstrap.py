"""Start a consumer group from a snapshot: a WMS that joins late (or a ledger rebuilt
from scratch) begins with the counters as they are now, then follows the streams.

Without it a group added later sees only what the streams still hold (acknowledged
entries are trimmed), so a fresh ledger would never agree with the counters. Per shard,
one script recreates the group at the stream's end and reads every counter of the shard
(wb_bootstrap.lua): each change is then either in the snapshot or pulled afterwards,
never both and never neither, and reconcile agrees exactly once the WMS has caught up.
"""

from __future__ import annotations

from reservation.storage import keys
from reservation.writeback import WriteBack
from reservation.writeback.reconcile import LedgerTotal


async def bootstrap(write_back: WriteBack, group: str) -> list[LedgerTotal]:
    """Reset `group` to "caught up now" on every shard; the totals it is caught up to.
    The group's pending deliveries and dead letters are dropped: the totals cover them."""
    group = write_back.group(group)
    totals: list[LedgerTotal] = []
    for shard in range(write_back.settings.shards):
        reply = await write_back.store.bootstrap(shard, group)
        for sku, fields in reply.stocks:
            for wh, values in keys.parse_counters(fields).items():
                totals.append(LedgerTotal(sku, wh, **values))
    return sorted(totals, key=lambda t: (t.sku, t.warehouse_id))
