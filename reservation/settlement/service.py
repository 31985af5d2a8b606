"""Settlement's use cases for the server: each runs its SQL in a thread (the event loop
never waits on the database) and turns a database failure into Unavailable, in one
place; without a records store every call is FailedPrecondition naming the setting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from reservation.errors import FailedPrecondition, Unavailable
from reservation.records.database import first_line
from reservation.settlement import statements
from reservation.settlement.lines import Statement

T = TypeVar("T")


@contextmanager
def _database() -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as exc:
        raise Unavailable(f"records store: {first_line(exc)}") from None


class Settlement:
    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine

    def _engine(self) -> Engine:
        if self.engine is None:
            raise FailedPrecondition("settlement needs a records store: set "
                                     "RESERVATION_RECORDS_URL")
        return self.engine

    async def _run(self, call: Callable[[Engine], T]) -> T:
        engine = self._engine()

        def run() -> T:
            with _database():
                return call(engine)

        return await asyncio.to_thread(run)

    async def import_statement(self, statement: Statement) -> statements.Stored:
        return await self._run(lambda engine: statements.store(engine, statement))
