"""The Lua scripts: read once from package data, the shared library prepended.

Each script is one file in reservation/storage/lua/ with a KEYS/ARGV/return header. The files
starting with '_' are libraries: LIBRARIES are prepended to every script (EXTRA_LIBRARIES
to a few more), so each script stays one atomic unit while the helpers exist once.
STANDALONE scripts get only _compat.lua (Redis 7 flags with a 6.2 fallback) and their
EXTRA_LIBRARIES. Every other
script starts with the `ST` table of state names generated from reservation/domain/states.py,
so Lua and Python name the states from one place, then _compat.lua and the libraries, and
runs _lib.lua's begin() before its body.

Two ways to run the same files, built here at load time (the .lua files stay the only
source, whoever edits them):

- `source(name)`: the script for EVAL/EVALSHA (Redis 6.2, Cluster, or functions off).
  Redis runs the whole prelude, defining every helper again, on each call.
- `library(name)`: the same code as a Redis Functions library (Redis >= 7) with one
  function, `function_name(name)`: loaded once (FUNCTION LOAD), the helpers defined
  once, each call (FCALL) runs only the body. KEYS and ARGV become locals the function
  sets from its arguments. The names carry a hash of the code, so a changed script is
  a new function and an old one never answers for it.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources

from reservation.domain import states

LIBRARIES = ("_lib.lua", "_queue.lua", "_guard.lua", "_gate.lua", "_reserve.lua")
# Libraries only some scripts need, prepended after LIBRARIES.
EXTRA_LIBRARIES = {
    **{name: ("_wb.lua",) for name in
       ("wb_pull", "wb_ack", "wb_stats", "wb_replay", "wb_snapshot", "wb_bootstrap")},
    **{name: ("_guard_admin.lua",) for name in ("guard_tick", "guard_set")},
}
EXTRA_LIBRARIES["order_apply_many"] = ("_order.lua",)
EXTRA_LIBRARIES["order_lookup"] = EXTRA_LIBRARIES["order_locator"] = ("_oloc.lua",)
# Scripts that need none of the libraries: sent with only _compat.lua, without the
# library prelude every other script pays for on each call.
STANDALONE = frozenset({"claim", "claim_many", "shorten", "drop_identity", "intent", "phase",
                        "due", "rules_put", "order_lookup", "order_locator", "order_docs"})
NAMES = (
    "claim",
    "claim_many",
    "shorten",
    # A REJECTED order's identity, replaced by a corrected request under the same key.
    "drop_identity",
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
    # Multi-shard orders on one Redis: each placed whole in one step (no saga calls).
    "place_many",
    "confirm",
    "release",
    "get",
    "sweep",
    "load_stock",
    "start_sale",
    "stop_sale",
    # Pause, resume or reschedule a sale (its SKUs of one shard).
    "update_sale",
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
    # An order's locator: read, claimed, or moved into a shared bucket once it left.
    "order_locator",
    "order_docs",
    # Routing (reservation/routing/).
    "rules_put",
    # Oversell guard: safety stock and circuit breakers (reservation/guard/).
    "guard_tick",
    "guard_set",
)


def _read(filename: str) -> str:
    return resources.files("reservation.storage.lua").joinpath(filename).read_text(encoding="utf-8")


COMPAT = "_compat.lua"
"""Redis 7 flags with a Redis 6.2 fallback: before every script, standalone ones too."""


def _prelude(name: str) -> str:
    """What comes before a script's body: the state names and the libraries."""
    if name in STANDALONE:
        return "\n".join(_read(lib) for lib in (COMPAT, *EXTRA_LIBRARIES.get(name, ()))) + "\n"
    # The state names come first, from the one table in domain/states.py.
    parts = [states.lua_table(), _read(COMPAT)]
    parts += [_read(lib) for lib in (*LIBRARIES, *EXTRA_LIBRARIES.get(name, ()))]
    return "\n".join(parts) + "\n"


@cache
def source(name: str) -> str:
    """Full source of a script for EVAL: libraries first, then the script's own file."""
    if name in STANDALONE:
        return _prelude(name) + _read(f"{name}.lua")
    return _prelude(name) + "begin()\n" + _read(f"{name}.lua")


@cache
def function_name(name: str) -> str:
    """The Redis Function (and its library) that runs script `name`: FCALL this."""
    digest = hashlib.sha1(source(name).encode()).hexdigest()[:12]
    return f"rsv_{name}_{digest}"


@cache
def library(name: str) -> str:
    """Script `name` as a Redis Functions library (FUNCTION LOAD): the prelude once,
    the body as a function run on each FCALL."""
    fn = function_name(name)
    begin = "" if name in STANDALONE else "  begin()\n"
    return (f"#!lua name={fn}\n"
            "local KEYS, ARGV\n"
            + _prelude(name)
            + "local function body()\n" + _read(f"{name}.lua") + "\nend\n"
            + f"redis.register_function('{fn}', function(keys, args)\n"
            "  KEYS, ARGV = keys, args\n" + begin + "  return body()\nend)\n")
