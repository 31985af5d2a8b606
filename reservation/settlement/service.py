"""Settlement's use cases for the server: each runs its SQL in a thread (the event loop
never waits on the database) and turns a database failure into Unavailable, in one
place; without a records store every call is FailedPrecondition naming the setting."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from reservation import clock
from reservation.errors import FailedPrecondition, InvalidArgument, Unavailable
from reservation.records.database import first_line
from reservation.settlement import differences as diffs
from reservation.settlement import statements
from reservation.settlement.differences import Difference, Filter
from reservation.settlement.lines import DAY, Statement
from reservation.settlement.report import DayReport, day_report
from reservation.settlement.run import DEFAULT_UNSETTLED_DAYS, RunResult, run

T = TypeVar("T")
DEFAULT_PAGE, MAX_PAGE = 100, 1000


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

    async def run_day(self, day: str, unsettled_days: int = DEFAULT_UNSETTLED_DAYS
                      ) -> RunResult:
        return await self._run(lambda engine: run(engine, day, unsettled_days))

    async def report(self, day: str, channel: str = "") -> DayReport:
        if not DAY.match(day):
            raise InvalidArgument("day", f"{day!r} is not YYYY-MM-DD")

        def read(engine: Engine) -> DayReport:
            with engine.connect() as c:
                return day_report(c, day, channel)

        return await self._run(read)

    async def differences(self, where: Filter, page_token: str = "",
                          page_size: int = 0) -> tuple[list[Difference], str]:
        """A page of differences and the token of the next ('' after the last)."""
        if where.day and not DAY.match(where.day):
            raise InvalidArgument("day", f"{where.day!r} is not YYYY-MM-DD")
        if not 0 <= page_size <= MAX_PAGE:
            raise InvalidArgument("page_size", f"0 to {MAX_PAGE}")
        size = page_size or DEFAULT_PAGE
        after = _after(page_token)

        def read(engine: Engine) -> list[Difference]:
            with engine.connect() as c:
                return diffs.page(c, where, after, size + 1)

        found = await self._run(read)
        more = len(found) > size
        found = found[:size]
        return found, (_token(found[-1].diff_id) if more else "")

    async def resolve(self, diff_id: str, who: str, why: str) -> Difference:
        if not diff_id:
            raise InvalidArgument("difference_id", "required")
        if not who.strip():
            raise InvalidArgument("operator", "required: who decided")

        def write(engine: Engine) -> Difference:
            with engine.begin() as c:
                return diffs.resolve(c, diff_id, who, why, clock.now_ms())

        return await self._run(write)


def _token(diff_id: str) -> str:
    return base64.urlsafe_b64encode(diff_id.encode()).decode()


def _after(token: str) -> str:
    if not token:
        return ""
    try:
        return base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("page_token", "not a token this call gave") from None
