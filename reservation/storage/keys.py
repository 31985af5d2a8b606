"""The Redis key scheme: every key of a SKU carries its virtual shard's hash tag.

    rsv:{N}:stock:<sku>          hash  "<wh>|a|h|c|r|l" counters (no TTL: stock counters)
    rsv:{N}:whs:<sku>            zset  the SKU's warehouses in priority order
    rsv:{N}:sale:<sku>           hash  the SKU's current flash sale (replaced by the next)
    rsv:{N}:buyers:<sale>:<sku>  hash  buyer -> units held+confirmed (TTL: sale end + retention)
    rsv:{N}:hold:<ch>:<oid>      string an order's part in shard N, tab-separated fields
                                       (TTL: hold/queue + retention; see _lib.lua)
    rsv:{N}:expiry               zset  held orders by expires_at (entries leave when handled)
    rsv:{N}:queue:<sku>          zset  retry queue, FIFO by arrival sequence (bounded)
    rsv:{N}:qdeadline            zset  queued orders by deadline
    rsv:{N}:dead                 zset  dead-lettered orders (trimmed after retention)
    rsv:{N}:wb                   stream write-back events of shard N (trimmed after ack)
    rsv:{N}:wbdl:<group>         stream a write-back group's dead letters (MAXLEN)
    rsv:{N}:wbstats:<group>      hash  a group's totals (TTL: retention, renewed)
    rsv:{N}:wb:cut, olog:cut     string the newest entry the stream's cap trimmed (no TTL:
                                       one per stream; see _lib.lua capped_xadd)
    rsv:{N}:olog, ologdl:<group>, ologstats:<group>  the same for the shard's order events
                                       (the group `records` marks what the records store
                                       has applied: storage/records.py)
    rsv:{0}:records:lease        string lease: one replica follows the order event streams
                                       into the records store (TTL 10 s, renewed)
    rsv:{N}:guard:<sku>          hash  safety stock and breakers of a SKU (see _guard.lua)
    rsv:{N}:sold:<sku>           hash  UTC day -> units confirmed (TTL: 92 days)
    rsv:{N}:guards               set   SKUs with a guard or sales: what guard_tick visits
    rsv:{N}:breakers             zset  "<sku>|<ch>" of OPEN breakers -> opened at (ms)
    rsv:{N}:breakers:new         list  breakers orders opened, not yet alerted
    rsv:{N}:guardtick            string lease: one replica ticks a shard per period
    rsv:{N}:told:<sku>           hash  "<channel>/<shop>" -> what that listing was last told
                                       (quantity, open, when; TTL 30 days, renewed)
    rsv:{N}:locks                zset  locked parts of multi-shard orders by lock lease end
    rsv:{N}:blocked              set   "b:<buyer>", "d:<device>", "i:<ip>": the flash sales'
                                       blocklist, a copy per shard (see _gate.lua)
    rsv:{N}:rate:<sale>:<sku>:<k>:<id>  string next allowed arrival (ms) of a buyer (k=b),
                                       device (d) or client address (i) for a SKU on sale
                                       (TTL: up to the limit's period)
    rsv:blocklist                hash  blocklist member -> JSON record (reason, when, who)
    rsv:{H}:order:<ch>:<oid>     string an order's identity (and, for a multi-shard order,
                                       its phase: see phase.lua), H = shard of "<ch>:<oid>"
    rsv:{H}:pending              zset  multi-shard orders homed in H not yet decided or
                                       compensated, by when recovery should look
    rsv:{H}:saledef:<sale>       hash  a flash sale's definition, H = shard of the sale id
    rsv:sales                    zset  sale ids by when their definition expires (entries
                                       past it are trimmed on every write: `sale list`)
    rsv:{N}:load:<yyyymmdd>      hash  warehouse -> routed orders held that day in shard N
                                       (TTL 2 days); a warehouse's load sums the shards
    rsv:{routing}:warehouses     hash  warehouse id -> JSON (few hundred at most)
    rsv:{routing}:rules          hash  current, next, v:<n> -> rule set version (JSON),
                                       wh -> warehouses version (last 500 versions kept)
    rsv:{routing}:recent         list  recently routed orders for SimulateRouting (capped)
    rsv:{routing}:interception   hash  the interception rule set's versions, as rules
                                       (routing's rules_put script writes both)
    rsv:{routing}:listing        hash  the listing rule set's versions, as rules
    rsv:{routing}:listing:resync hash  "<channel>/<shop>" or "<channel>/*" -> resyncs asked
    rsv:{icpt}:review:<ref>      string an order's review task (JSON; TTL: order retention)
    rsv:{icpt}:open              zset  refs of open reviews by when they were opened
    rsv:{icpt}:closed            zset  refs of closed reviews by when (trimmed to retention)
    rsv:{icpt}:phones:<day>:<h>  set   orders of one receiver phone hash that day (TTL 2 days)
    rsv:{icpt}:stats:<day>       hash  opened, by_person, automatic (TTL: retention)
    rsv:{health}:overdue         hash  at, doc: the latest evaluation of the overdue
                                       thresholds (JSON; TTL: 10 evaluation periods)
    rsv:{health}:overdue:lease   string lease: one replica evaluates per period

N = crc32(sku) % shards, so one Lua script reaches a SKU's counters, holds, queue and its
shard's write-back stream atomically, on one Redis and on Redis Cluster alike.
"""

from __future__ import annotations

from collections.abc import Callable

from reservation.domain.shards import shard_of

__all__ = ["shard_of"]  # keys are built from it; callers may take it from here

ROOT = "rsv"

# The stock hash's field for a counter is "<warehouse>|<letter>".
COUNTER_LETTERS = {"loaded": "l", "available": "a", "held": "h", "confirmed": "c",
                   "returned": "r"}
_COUNTER_NAMES = {letter: name for name, letter in COUNTER_LETTERS.items()}


def prefix(shard: int) -> str:
    """Key prefix of a shard, hash tag included; the Lua scripts build keys from it."""
    return f"{ROOT}:{{{shard}}}:"


# Most keys are one shard's: rsv:{N}:<name>, or rsv:{N}:<name>:<item> for one SKU, order
# ref or day of it. Their builders are made here, so each key below is one line naming it.

def _of_shard(name: str) -> Callable[[int], str]:
    def key(shard: int) -> str:
        return f"{prefix(shard)}{name}"
    return key


def _per_shard(name: str) -> Callable[[int, str], str]:
    def key(shard: int, item: str) -> str:
        return f"{prefix(shard)}{name}:{item}"
    return key


def order_ref(channel: str, order_id: str) -> str:
    # Channels cannot contain ':' (validation), so the ref is unambiguous.
    return f"{channel}:{order_id}"


hold = _per_shard("hold")  # (shard, ref)
expiry = _of_shard("expiry")
queue_deadline = _of_shard("qdeadline")
dead = _of_shard("dead")


STOCK_EVENTS = "wb"
"""The shard's stock write-back stream (the WMS's)."""
ORDER_EVENTS = "olog"
"""The shard's order event stream (audit trail and channel feeds; see storage/orders.py)."""


def write_back(shard: int, stream: str = STOCK_EVENTS) -> str:
    return f"{prefix(shard)}{stream}"


stock = _per_shard("stock")  # (shard, sku)
warehouses = _per_shard("whs")  # (shard, sku)
queue = _per_shard("queue")  # (shard, sku)
sale = _per_shard("sale")  # (shard, sku)


def order_home(ref: str, shards: int) -> str:
    return f"{prefix(shard_of(ref, shards))}order:{ref}"


SALE_INDEX = f"{ROOT}:sales"
"""One key for every sale id: operators list sales; writes are one per sale start."""


def sale_definition(sale_id: str, shards: int) -> str:
    return f"{prefix(shard_of(sale_id, shards))}saledef:{sale_id}"


def parse_counters(stock_hash: dict[str, str]) -> dict[str, dict[str, int]]:
    """HGETALL of a stock hash -> {warehouse: {counter name: value}}; every counter of a
    warehouse present, 0 when its field is missing."""
    out: dict[str, dict[str, int]] = {}
    for field, value in stock_hash.items():
        wh, _, letter = field.rpartition("|")
        if letter in _COUNTER_NAMES:
            out.setdefault(wh, dict.fromkeys(COUNTER_LETTERS, 0))[_COUNTER_NAMES[letter]] = int(value)
    return out


# -- write-back machinery beside the shard's stream; same hash tag, so one script
#    reaches the stream, the group's dead letters and its totals.

def write_back_dead_letter(shard: int, group: str, stream: str = STOCK_EVENTS) -> str:
    """stream: the group's dead letters (MAXLEN write_back_dead_letter_max)."""
    return f"{prefix(shard)}{stream}dl:{group}"


def write_back_stats(shard: int, group: str, stream: str = STOCK_EVENTS) -> str:
    """hash: delivered/acked/dead/replayed totals (TTL: retention, renewed on change)."""
    return f"{prefix(shard)}{stream}stats:{group}"


locks = _of_shard("locks")
pending = _of_shard("pending")


def home_shard(ref: str, shards: int) -> int:
    return shard_of(ref, shards)


ROUTING = f"{ROOT}:{{routing}}:"


def routing_warehouses() -> str:
    return f"{ROUTING}warehouses"


def routing_rules() -> str:
    return f"{ROUTING}rules"


def routing_recent() -> str:
    return f"{ROUTING}recent"


def interception_rules() -> str:
    return f"{ROUTING}interception"


INTERCEPTION = f"{ROOT}:{{icpt}}:"
HEALTH = f"{ROOT}:{{health}}:"


def overdue() -> str:
    return f"{HEALTH}overdue"


def overdue_lease() -> str:
    return f"{HEALTH}overdue:lease"


def review(ref: str) -> str:
    return f"{INTERCEPTION}review:{ref}"


def reviews_open() -> str:
    return f"{INTERCEPTION}open"


def reviews_closed() -> str:
    return f"{INTERCEPTION}closed"


def phone_orders(day: str, buyer_hash: str) -> str:
    return f"{INTERCEPTION}phones:{day}:{buyer_hash}"


def review_stats(day: str) -> str:
    return f"{INTERCEPTION}stats:{day}"


load = _per_shard("load")  # (shard, day)


# -- the oversell guard (reservation/guard/, _guard.lua); same hash tag as the SKU.

guard = _per_shard("guard")  # (shard, sku)
sold = _per_shard("sold")  # (shard, sku)
guards = _of_shard("guards")
breakers = _of_shard("breakers")
guard_tick_lease = _of_shard("guardtick")


# -- channel listings (reservation/listings/): what each listing was told, per SKU.

listing_told = _per_shard("told")  # (shard, sku)


def listing_rules() -> str:
    return f"{ROUTING}listing"


def listing_resync() -> str:
    return f"{ROUTING}listing:resync"


blocked = _of_shard("blocked")


BLOCKLIST = f"{ROOT}:blocklist"
"""The blocklist's entries with their records (what ListBlocklist reads)."""


def stream_cut(stream: str) -> str:
    """string: the newest entry of `stream` its cap trimmed (_lib.lua cut_key)."""
    return f"{stream}:cut"
