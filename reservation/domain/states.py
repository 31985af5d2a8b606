"""The reservation states, in one table: what each means, which are final, how a
multi-shard order's parts combine. Python reads it here; the Lua scripts get the same
names from it (storage/scripts.py generates their `ST` table from STATES).
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    RESERVED = "RESERVED"
    CONFIRMED = "CONFIRMED"
    RELEASED = "RELEASED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"
    QUEUED = "QUEUED"
    DEAD_LETTERED = "DEAD_LETTERED"

    @property
    def terminal(self) -> bool:
        return STATES[self].terminal

    @property
    def settled(self) -> bool:
        return STATES[self].settled


class _Row:
    __slots__ = ("holds_units", "meaning", "settled", "terminal")

    def __init__(self, terminal: bool, settled: bool, holds_units: bool, meaning: str) -> None:
        self.terminal = terminal
        self.settled = settled
        self.holds_units = holds_units
        self.meaning = meaning


STATES: dict[State, _Row] = {
    #                                terminal settled holds units
    State.RESERVED:      _Row(False, False, True, "units held until expires_at"),
    State.QUEUED:        _Row(False, False, False, "waiting in the overflow queue"),
    # A dead letter waits for a person, which can take long: watches end there (settled),
    # but an operator may still requeue or reject it (not terminal).
    State.DEAD_LETTERED: _Row(False, True, False, "queued too long; an operator decides"),
    State.CONFIRMED:     _Row(True, True, True, "paid: the units are sold"),
    State.RELEASED:      _Row(True, True, False, "given back by the caller"),
    State.EXPIRED:       _Row(True, True, False, "not confirmed in time; units returned"),
    State.REJECTED:      _Row(True, True, False, "refused: see the reject reason"),
}

TERMINAL = frozenset(s for s, row in STATES.items() if row.terminal)
SETTLED = frozenset(s for s, row in STATES.items() if row.settled)

# When a multi-shard order's parts disagree (caught mid-way), the first state here is the
# order's: any part refused or ended makes the whole order so.
PRECEDENCE = (State.REJECTED, State.EXPIRED, State.RELEASED, State.DEAD_LETTERED,
              State.QUEUED, State.RESERVED, State.CONFIRMED)
# Parts in these states keep the order going (a reserve goes on to its next part).
PROCEEDING = frozenset({State.RESERVED, State.CONFIRMED, State.QUEUED})

assert set(PRECEDENCE) == set(State) == set(STATES)

# Every move of a reservation record's state, the only ones the Lua scripts may make
# (set_state in _lib.lua checks each against this table, generated into the prelude).
# None: no record yet.
MOVES: dict[State | None, frozenset[State]] = {
    # A new record: held, queued, refused; or a tombstone, RELEASED before any reserve
    # (a part of an aborted multi-shard order, so a late copy of its reserve holds nothing).
    None: frozenset({State.RESERVED, State.QUEUED, State.REJECTED, State.RELEASED}),
    State.RESERVED: frozenset({State.CONFIRMED, State.RELEASED, State.EXPIRED}),
    # Served from the queue, refused there, released, or out of time.
    State.QUEUED: frozenset({State.RESERVED, State.REJECTED, State.RELEASED,
                             State.DEAD_LETTERED}),
    # An operator requeues or rejects it; its order may be released meanwhile.
    State.DEAD_LETTERED: frozenset({State.QUEUED, State.REJECTED, State.RELEASED}),
    # The order hub's restock: paid, then cancelled or refunded before shipping.
    State.CONFIRMED: frozenset({State.RELEASED}),
    State.RELEASED: frozenset(),
    State.EXPIRED: frozenset(),
    State.REJECTED: frozenset(),
}

assert set(MOVES) == {None, *State}
assert all(not MOVES[s] for s in TERMINAL if s != State.CONFIRMED)


class ReplyCode(StrEnum):
    """The first field of every order script's reply (see reply() in _lib.lua)."""

    OK = "OK"
    NOT_FOUND = "NOT_FOUND"
    PRECONDITION = "PRECONDITION"
    CONFLICT = "CONFLICT"
    QUEUE_FULL = "QUEUE_FULL"


def lua_table() -> str:
    """The Lua prelude naming every state: scripts write ST.RESERVED, never 'RESERVED';
    PROCEEDING as a set (PROCEEDING[state] is true for those states); and MOVES, the
    moves set_state allows (MOVES[from][to], '' for no record yet)."""
    fields = ", ".join(f"{s.name} = '{s.value}'" for s in State)
    going = ", ".join(f"[ST.{s.name}] = true" for s in sorted(PROCEEDING))

    def targets(to: frozenset[State]) -> str:
        return "{" + ", ".join(f"[ST.{s.name}] = true" for s in sorted(to)) + "}"

    moves = ", ".join(f"[{'ST.' + s.name if s else repr('')}] = {targets(to)}"
                      for s, to in MOVES.items())
    return (f"local ST = {{{fields}}}\nlocal PROCEEDING = {{{going}}}\n"
            f"local MOVES = {{{moves}}}\n")
