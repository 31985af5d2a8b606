"""What many shops run today: a reservation is a PostgreSQL row-lock transaction.

Per order, one transaction: insert the order (the idempotency key is its primary key),
count the buyer's units against the per-buyer limit, then for each warehouse in priority
order `UPDATE stock SET available = available - q, held = held + q WHERE sku = .. AND
warehouse = .. AND available >= q` until one row takes it. Every buyer of the hot SKU
queues on the same row lock. Reserve and ReserveBatch (one line per order, as in the
flash sale) and GetStock are implemented: that is what the flash-sale scenario calls.

ReserveBatch is what batching means in PostgreSQL: one transaction (one commit) for the
whole batch, each order in its own savepoint, so an order that fails rolls back alone
and the others of the batch still commit together. The batch holds its row locks until
that one commit, which is the price of saving the per-order commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import grpc
import psycopg

from reservation.v1 import reservation_service_pb2 as pb
from reservation.v1 import reservation_service_pb2_grpc as pb_grpc
from reservation.v1 import types_pb2 as types_pb

SCHEMA = """
DROP TABLE IF EXISTS bench_stock, bench_reservation, bench_buyer;
CREATE TABLE bench_stock (sku text, warehouse text, priority int, available bigint,
  held bigint, loaded bigint, PRIMARY KEY (sku, warehouse));
CREATE TABLE bench_reservation (channel text, order_id text, buyer text, sku text,
  warehouse text, quantity bigint, state text, reason text, PRIMARY KEY (channel, order_id));
CREATE TABLE bench_buyer (sku text, buyer text, units bigint, PRIMARY KEY (sku, buyer));
"""

STATES = {"RESERVED": types_pb.RESERVATION_STATE_RESERVED,
          "REJECTED": types_pb.RESERVATION_STATE_REJECTED}
REASONS = {"": 0, "SOLD_OUT": types_pb.REJECT_REASON_SOLD_OUT,
           "BUYER_LIMIT_EXCEEDED": types_pb.REJECT_REASON_BUYER_LIMIT_EXCEEDED}


async def setup(dsn: str, items: Sequence[tuple[str, str, int]]) -> None:
    """Fresh tables holding `items` (sku, warehouse, quantity) in priority order."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(SCHEMA)
        for prio, (sku, wh, qty) in enumerate(items):
            await conn.execute("INSERT INTO bench_stock VALUES (%s, %s, %s, %s, 0, %s)",
                               (sku, wh, prio, qty, qty))


DEADLOCK_RETRIES = 5
"""How often a batch aborted by PostgreSQL's deadlock detector is run again."""


class PgServicer(pb_grpc.ReservationServiceServicer):
    def __init__(self, dsn: str, per_buyer_limit: int, pool_size: int = 16) -> None:
        self.dsn = dsn
        self.limit = per_buyer_limit
        self.pool_size = pool_size
        self._pool: asyncio.Queue[psycopg.AsyncConnection] = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(self.pool_size):
            self._pool.put_nowait(await psycopg.AsyncConnection.connect(self.dsn))

    async def Reserve(self, request: pb.ReserveRequest,
                      context: grpc.aio.ServicerContext) -> pb.ReserveResponse:
        conn = await self._pool.get()
        try:
            state, reason, wh = await self._reserve(conn, request)
        finally:
            self._pool.put_nowait(conn)
        return pb.ReserveResponse(reservation=self._message(request, state, reason, wh))

    async def ReserveBatch(self, request: pb.ReserveBatchRequest,
                           context: grpc.aio.ServicerContext) -> pb.ReserveBatchResponse:
        conn = await self._pool.get()
        try:
            for attempt in range(DEADLOCK_RETRIES + 1):
                try:
                    async with conn.transaction():  # one commit; each order is a savepoint
                        decided = [await self._reserve(conn, r) for r in request.requests]
                    break
                except psycopg.errors.DeadlockDetected:
                    # Two batches lock buyer and stock rows in different orders (a batch
                    # of one SKU: buyer row, then the SKU's stock rows, order by order):
                    # PostgreSQL aborts one; it rolled back whole, so it runs again, as
                    # any application on row locks must.
                    if attempt == DEADLOCK_RETRIES:
                        raise
        finally:
            self._pool.put_nowait(conn)
        return pb.ReserveBatchResponse(results=[
            pb.ReserveBatchResult(reservation=self._message(r, *d))
            for r, d in zip(request.requests, decided)])

    def _message(self, request: pb.ReserveRequest, state: str, reason: str,
                 wh: str) -> types_pb.Reservation:
        line = request.lines[0]
        msg = types_pb.Reservation(channel=request.channel, order_id=request.order_id,
                                   buyer_id=request.buyer_id, state=STATES[state],
                                   reject_reason=REASONS[reason], lines=request.lines)
        if wh:
            msg.allocations.append(types_pb.Allocation(sku=line.sku, warehouse_id=wh,
                                                       quantity=line.quantity))
        return msg

    async def _reserve(self, conn: psycopg.AsyncConnection,
                       req: pb.ReserveRequest) -> tuple[str, str, str]:
        sku, qty = req.lines[0].sku, req.lines[0].quantity
        async with conn.transaction():
            cur = await conn.execute(
                "INSERT INTO bench_reservation VALUES (%s, %s, %s, %s, '', %s, 'PENDING', '')"
                " ON CONFLICT DO NOTHING RETURNING 1",
                (req.channel, req.order_id, req.buyer_id, sku, qty))
            if await cur.fetchone() is None:  # a retry: answer what was decided
                cur = await conn.execute(
                    "SELECT state, reason, warehouse FROM bench_reservation"
                    " WHERE channel = %s AND order_id = %s", (req.channel, req.order_id))
                row = await cur.fetchone()
                assert row is not None
                return row[0], row[1], row[2]
            state, reason, wh = await self._decide(conn, sku, qty, req.buyer_id)
            await conn.execute(
                "UPDATE bench_reservation SET state = %s, reason = %s, warehouse = %s"
                " WHERE channel = %s AND order_id = %s",
                (state, reason, wh, req.channel, req.order_id))
            return state, reason, wh

    async def _decide(self, conn: psycopg.AsyncConnection, sku: str, qty: int,
                      buyer: str) -> tuple[str, str, str]:
        cur = await conn.execute(
            "INSERT INTO bench_buyer VALUES (%s, %s, %s) ON CONFLICT (sku, buyer) DO UPDATE"
            " SET units = bench_buyer.units + EXCLUDED.units"
            " WHERE bench_buyer.units + EXCLUDED.units <= %s RETURNING units",
            (sku, buyer, qty, self.limit))
        if await cur.fetchone() is None:
            return "REJECTED", "BUYER_LIMIT_EXCEEDED", ""
        cur = await conn.execute(
            "SELECT warehouse FROM bench_stock WHERE sku = %s ORDER BY priority", (sku,))
        for (wh,) in await cur.fetchall():
            cur = await conn.execute(
                "UPDATE bench_stock SET available = available - %s, held = held + %s"
                " WHERE sku = %s AND warehouse = %s AND available >= %s RETURNING 1",
                (qty, qty, sku, wh, qty))
            if await cur.fetchone() is not None:
                return "RESERVED", "", wh
        # Give the allowance back: nothing was held (the transaction still commits the order).
        await conn.execute("UPDATE bench_buyer SET units = units - %s WHERE sku = %s AND buyer = %s",
                           (qty, sku, buyer))
        return "REJECTED", "SOLD_OUT", ""

    async def GetStock(self, request: pb.GetStockRequest,
                       context: grpc.aio.ServicerContext) -> pb.GetStockResponse:
        conn = await self._pool.get()
        try:
            cur = await conn.execute(
                "SELECT warehouse, available, held, loaded FROM bench_stock WHERE sku = %s"
                " ORDER BY priority", (request.sku,))
            rows = await cur.fetchall()
            await conn.commit()
        finally:
            self._pool.put_nowait(conn)
        return pb.GetStockResponse(sku=request.sku, levels=[
            types_pb.StockLevel(warehouse_id=wh, available=a, held=h, loaded=lo)
            for wh, a, h, lo in rows])


async def reserved_units(dsn: str) -> int:
    """Units the reservations table says are held (cross-check of the counters)."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute(
            "SELECT coalesce(sum(quantity), 0) FROM bench_reservation WHERE state = 'RESERVED'")
        row = await cur.fetchone()
        return int(row[0]) if row else 0


