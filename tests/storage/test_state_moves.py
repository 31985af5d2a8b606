"""Every change of a reservation record's state goes through set_state (_lib.lua), which
allows only the moves of the lifecycle. The expectations here are the lifecycle as
docs/concepts/reservations.md states it, written out on their own: not read from the
table (domain/states.py MOVES) that the scripts enforce."""

from __future__ import annotations

import re
from importlib import resources

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from reservation.domain.states import State
from reservation.storage import scripts

S = State
# The lifecycle, rule by rule.
# A new record is held, queued, refused, or written RELEASED as a tombstone.
NEW = {S.RESERVED, S.QUEUED, S.REJECTED, S.RELEASED}
LIFECYCLE = {
    # A hold is paid, given back, or runs out of time.
    S.RESERVED: {S.CONFIRMED, S.RELEASED, S.EXPIRED},
    # A queued order is served, refused at the head of the queue, released, or waits
    # too long and is dead-lettered.
    S.QUEUED: {S.RESERVED, S.REJECTED, S.RELEASED, S.DEAD_LETTERED},
    # An operator requeues or rejects a dead letter; its order may be released.
    S.DEAD_LETTERED: {S.QUEUED, S.REJECTED, S.RELEASED},
    # Sold units come back only through the order hub's restock (cancelled after paid).
    S.CONFIRMED: {S.RELEASED},
    # Released, expired and rejected records never change again.
    S.RELEASED: set(),
    S.EXPIRED: set(),
    S.REJECTED: set(),
}

BODY = """
local h = {}
if ARGV[1] ~= '' then h.st = ARGV[1] end
set_state(h, ARGV[2])
return h.st
"""


def probe() -> str:
    """set_state with the prelude every script gets (the generated tables, the library)."""
    return scripts.source("get").rsplit("\nbegin()\n", 1)[0] + "\n" + BODY


@pytest.mark.parametrize("before", [None, *State], ids=lambda s: s or "none")
async def test_set_state_allows_exactly_the_lifecycle_moves(redis_url: str,
                                                            before: State | None) -> None:
    client = aioredis.from_url(redis_url, decode_responses=True)
    allowed = NEW if before is None else LIFECYCLE[before]
    try:
        for to in State:
            if to in allowed:
                assert await client.eval(probe(), 0, before or "", to.value) == to.value
            else:
                with pytest.raises(ResponseError, match=f"no move from {before or 'none'} "
                                                        f"to {to.value}"):
                    await client.eval(probe(), 0, before or "", to.value)
    finally:
        await client.aclose()


def test_no_script_sets_a_state_but_through_set_state() -> None:
    """`h.st = ...` outside set_state would bypass the table."""
    lua = resources.files("reservation.storage.lua")
    offenders = [f"{f.name}: {line.strip()}" for f in lua.iterdir() if f.name.endswith(".lua")
                 for line in f.read_text(encoding="utf-8").splitlines()
                 if re.search(r"\bh\.st\s*(,[^=]*)?=(?!=)|\bst\s*=\s*ST\.", line)
                 and "h.st = to" not in line]
    assert offenders == []
