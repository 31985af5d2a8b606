"""ReserveStream's flow control: each order is started as it is read, and its outcome
handed back as soon as it is ready (so not necessarily in the order read: callers tag
each command, and get the tag back beside its outcome). At most max_batch orders of one
stream are in flight; beyond that reading waits (backpressure). The usual order is
started as it is read and answered from its reply's callback (batch.start /
batch.finished), without a task per message; others take a task."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Any, Generic, TypeVar

from reservation.domain.models import ReserveCommand
from reservation.errors import ReservationError
from reservation.reserving import batch
from reservation.reserving.reservations import Reservations, Started

T = TypeVar("T")
Command = ReserveCommand | ReservationError
"""An order's command, or the error that refused it at the edge (answered as is)."""


async def reserve_each(reservations: Reservations,
                       commands: AsyncIterator[tuple[T, Command]]
                       ) -> AsyncIterator[tuple[T, batch.Outcome]]:
    """Every command's (tag, outcome), as each is ready; the end after the last one."""
    flow: _Flow[T] = _Flow(reservations)
    reader = asyncio.create_task(flow.read(commands))
    try:
        while (item := await flow.done.get()) is not None:
            yield item
        await reader  # re-raises a failed read (e.g. the client went away)
    finally:
        reader.cancel()
        for task in list(flow.tasks):
            task.cancel()


class _Flow(Generic[T]):
    def __init__(self, reservations: Reservations) -> None:
        self.reservations = reservations
        self.done: asyncio.Queue[tuple[T, batch.Outcome] | None] = asyncio.Queue()
        self.window = asyncio.Semaphore(reservations.settings.max_batch)
        self.tasks: set[asyncio.Task[None]] = set()
        self.sent: set[asyncio.Future[Any]] = set()

    async def read(self, commands: AsyncIterator[tuple[T, Command]]) -> None:
        try:
            async for tag, cmd in commands:
                await self.window.acquire()
                started = batch.start(self.reservations, cmd)
                if isinstance(started, Started):
                    self.sent.add(started.sent)
                    started.sent.add_done_callback(functools.partial(self._finish, tag,
                                                                     started))
                elif started is not None:  # refused before any Redis call
                    self._answer(tag, started)
                else:
                    self._spawn(tag, cmd)
            # Every outcome before the end marker: replies still on their way (whose
            # callbacks may spawn a task for a retry) and the tasks.
            while self.sent or self.tasks:
                if self.sent:
                    await asyncio.wait(set(self.sent))
                if self.tasks:
                    await asyncio.gather(*self.tasks)
        finally:
            self.done.put_nowait(None)  # end of outcomes (or of reading, on error)

    def _answer(self, tag: T, outcome: batch.Outcome) -> None:
        try:
            self.done.put_nowait((tag, outcome))
        finally:
            self.window.release()

    def _finish(self, tag: T, started: Started, _: asyncio.Future[Any]) -> None:
        """The usual order's reply came back: its outcome, without a task of its own."""
        self.sent.discard(started.sent)
        if started.sent.cancelled():  # the stream is being torn down
            self.window.release()
            return
        outcome = batch.finished(self.reservations, started)
        if outcome is None:  # a retry: a task takes it on (and releases the window)
            self._spawn(tag, started.cmd, started)
            return
        self._answer(tag, outcome)

    def _spawn(self, tag: T, cmd: Command, started: Started | None = None) -> None:
        task = asyncio.create_task(self._one(tag, cmd, started))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _one(self, tag: T, cmd: Command, started: Started | None) -> None:
        try:
            if started is not None:  # a retry of a recorded order (see _finish)
                outcome = await batch.after_claimed(self.reservations, started)
            else:
                outcome = await batch.reserve_one(self.reservations, cmd)
        except BaseException:
            self.window.release()
            raise
        self._answer(tag, outcome)
