"""A routing decision and its explanation: per line the warehouses in the order Reserve
tries them and the planned allocation, per group of lines every warehouse's score, terms
and note. Built by router.py; read by Reserve, the order hub, backtests and the API edge.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from reservation.routing import kernel
from reservation.routing.geography import Place


class Candidate(NamedTuple):
    """One warehouse as a candidate for a group of lines (a tuple: a decision makes one
    per warehouse, so construction cost counts)."""

    warehouse_id: str
    name: str
    score: float                # +inf: not allowed (see note)
    terms: Mapping[str, float]
    note: str = ""
    preferred: bool = False


class LineDecision(NamedTuple):
    """One line's decision (a tuple: a backtest makes one per line of 100,000 orders,
    and a frozen dataclass costs several times as much to build)."""

    sku: str
    quantity: int
    group: int
    candidates: tuple[str, ...]          # warehouse ids in the order Reserve tries them
    allocations: tuple[tuple[str, int], ...]
    decided_by: str
    rules: tuple[str, ...] = ()

    @property
    def short(self) -> int:
        return self.quantity - sum(q for _, q in self.allocations)


@dataclass(frozen=True)
class Explained:
    """One group's candidates as the kernel left them: every warehouse's score, terms
    and note, and the order by score. `Decision.groups` makes Candidates of it when
    asked, and the gRPC edge writes its messages straight from it: a decision only
    pays for the explanation it hands out."""

    ids: tuple[str, ...]
    names: tuple[str, ...]
    scores: list[float]
    terms: list[list[float]]        # per warehouse, in kernel.TERMS order
    notes: list[str]
    preferred: frozenset[str]
    by_score: list[int]             # warehouse indexes, best first (stable)

    def candidates(self) -> tuple[Candidate, ...]:
        return tuple(Candidate(self.ids[j], self.names[j], self.scores[j],
                               dict(zip(kernel.TERMS, self.terms[j], strict=True)),
                               self.notes[j], self.ids[j] in self.preferred)
                     for j in self.by_score)


@dataclass(frozen=True)
class Decision:
    order_id: str
    place: Place
    lines: tuple[LineDecision, ...]
    explained: tuple[Explained, ...]   # empty when decided without the explanation
    review: bool = False
    review_reason: str = ""
    rush: bool = False
    rules_version: int = 0
    matched_rules: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @functools.cached_property
    def groups(self) -> tuple[tuple[Candidate, ...], ...]:
        """Per group of lines, every warehouse as a candidate, best score first."""
        return tuple(e.candidates() for e in self.explained)

    @property
    def routed(self) -> bool:
        return all(ln.short == 0 for ln in self.lines)

    def warehouses(self) -> list[str]:
        return sorted({wh for ln in self.lines for wh, _ in ln.allocations})
