"""WMS write-back: the pull/acknowledge API over the shards' write-back streams.

Every state change is appended to its shard's stream `rsv:{N}:wb` inside the script that
makes it (a transactional outbox). A WMS reads those streams through a Redis consumer
group per WMS:

    PullBatch  -> wb_pull.lua per shard: redeliver what outlived the visibility timeout
                  (or dead-letter it after max deliveries), then deliver new entries;
                  long-poll with XREAD BLOCK on all streams when nothing is there.
    AckBatch   -> wb_ack.lua per shard: XACK, then XTRIM MINID up to the oldest entry
                  any group still needs, so acknowledged entries do not pile up.

The batch id carries the acknowledgement itself (group, shard and entry ids, signed), so
no batch state lives in Redis and a batch stays acknowledgeable across restarts.
An event's id is "<shard>-<entry id>" of its first appearance: the same on every
redelivery and on a replay from the dead letter, so the WMS deduplicates on it.
"""

from reservation.writeback.service import WriteBack

__all__ = ["WriteBack"]
