"""The Lua scripts: read once from package data, the shared library prepended.

Each script is one file in reservation/storage/lua/ with a KEYS/ARGV/return header. The files
starting with '_' are libraries: LIBRARIES are prepended to every script (EXTRA_LIBRARIES
to a few more), so each script stays one atomic unit while the helpers exist once.
STANDALONE scripts get no prelude at all. Every other script starts with the `ST` table
of state names generated from reservation/domain/states.py, so Lua and Python name the
states from one place.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from reservation.domain import states

LIBRARIES = ("_lib.lua", "_queue.lua", "_guard.lua", "_reserve.lua")
# Libraries only some scripts need, prepended after LIBRARIES.
EXTRA_LIBRARIES = {
    **{name: ("_wb.lua",) for name in
       ("wb_pull", "wb_ack", "wb_stats", "wb_replay", "wb_snapshot", "wb_bootstrap")},
    **{name: ("_guard_admin.lua",) for name in ("guard_tick", "guard_set")},
}
EXTRA_LIBRARIES["order_apply_many"] = ("_order.lua",)
# Scripts that need none of the libraries: sent as they are, without the library
# prelude every other script pays for on each call.
STANDALONE = frozenset({"claim", "claim_many", "shorten", "intent", "phase", "due",
                        "rules_put", "order_lookup"})
NAMES = (
    "claim",
    "claim_many",
    "shorten",
    # Multi-shard orders: intent and decision at the home key, locks on the parts.
    "intent",
    "phase",
    "due",
    "lock",
    "unlock",
    "reserve",
    "reserve_many",
    # The usual single-shard order: claim and reserve in one call.
    "claim_reserve",
    "claim_reserve_many",
    "confirm",
    "release",
    "get",
    "sweep",
    "load_stock",
    "start_sale",
    "stop_sale",
    "dead_letter",
    # WMS write-back (reservation/writeback/).
    "wb_pull",
    "wb_ack",
    "wb_stats",
    "wb_replay",
    "wb_snapshot",
    "wb_bootstrap",
    # Orders (reservation/ordersync/).
    "order_apply_many",
    "order_lookup",
    # Routing (reservation/routing/).
    "rules_put",
    # Oversell guard: safety stock and circuit breakers (reservation/guard/).
    "guard_tick",
    "guard_set",
)


def _read(filename: str) -> str:
    return resources.files("reservation.storage.lua").joinpath(filename).read_text(encoding="utf-8")


@cache
def source(name: str) -> str:
    """Full source of a script: libraries first, then the script's own file."""
    if name in STANDALONE:
        return _read(f"{name}.lua")
    # The state names come first, from the one table in domain/states.py.
    parts = [states.lua_table()]
    parts += [_read(lib) for lib in (*LIBRARIES, *EXTRA_LIBRARIES.get(name, ()))]
    parts.append(_read(f"{name}.lua"))
    return "\n".join(parts)
