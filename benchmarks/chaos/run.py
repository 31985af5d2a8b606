"""One chaos run: start the system, load stock, traffic + seeded faults, settle, check."""

from __future__ import annotations

import asyncio
import collections
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import redis.asyncio as aioredis

from benchmarks.chaos import checks, faults, orders, workload
from benchmarks.chaos.processes import System
from reservation.storage import keys
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import admin_service_pb2_grpc as apb_grpc
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc as opb_grpc
from reservation.v1 import reservation_service_pb2 as rpb
from reservation.v1 import reservation_service_pb2_grpc as rpb_grpc
from reservation.v1 import types_pb2 as pb
from reservation.v1 import write_back_service_pb2 as wpb
from reservation.v1 import write_back_service_pb2_grpc as wpb_grpc

SETTLE_BOUND_S = 120.0
UNSETTLED = {"RESERVED", "QUEUED"}


@dataclass
class Result:
    seed: int
    faults: faults.FaultLog
    traffic: workload.Traffic
    final: checks.Final
    checks: list[checks.Check]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def final_states(self) -> collections.Counter[str]:
        return collections.Counter(self.final.states.values())


async def load_stock(target: str) -> None:
    items = [pb.StockItem(sku=sku, warehouse_id=wh, quantity=qty // 2 or 1)
             for sku, qty in workload.STOCK.items() for wh in workload.WAREHOUSES]
    items += [pb.StockItem(sku=sku, warehouse_id=wh, quantity=qty)
              for sku, wh, qty in orders.stock_items()]
    async with grpc.aio.insecure_channel(target) as channel:
        await apb_grpc.AdminServiceStub(channel).LoadStock(
            apb.LoadStockRequest(items=items, mode=apb.LOAD_MODE_SET), timeout=10)


async def _state(stub: rpb_grpc.ReservationServiceStub, oid: str) -> str | None:
    try:
        reply = await stub.GetReservation(
            rpb.GetReservationRequest(channel="chaos", order_id=oid), timeout=5)
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            return "NOT_FOUND"
        return None  # being placed, or a replica still warming up: ask again
    return pb.ReservationState.Name(reply.reservation.state).removeprefix("RESERVATION_STATE_")


async def settle(system: System, traffic: workload.Traffic) -> checks.Final:
    """Wait until every order is settled and the WMS caught up; read the final state."""
    deadline = time.monotonic() + SETTLE_BOUND_S
    async with grpc.aio.insecure_channel(system.targets[0]) as channel:
        stub = rpb_grpc.ReservationServiceStub(channel)
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            for oid in traffic.records:
                if states.get(oid) in (None, *UNSETTLED):
                    state = await _state(stub, oid)
                    if state is not None:
                        states[oid] = state
            if len(states) == len(traffic.records) and not UNSETTLED & set(states.values()):
                break
            await asyncio.sleep(0.5)
        while time.monotonic() < deadline and await _hub_held(stub):
            await asyncio.sleep(0.5)  # the unpaid orders' holds expire
        wb = wpb_grpc.WriteBackServiceStub(channel)
        while time.monotonic() < deadline:
            stats = await wb.GetWriteBackStats(wpb.GetWriteBackStatsRequest(), timeout=5)
            if stats.pending == 0 and stats.undelivered == 0:
                break
            await asyncio.sleep(0.5)
        levels = {}
        for sku in [*workload.STOCK, *orders.HUB_STOCK]:
            reply = await stub.GetStock(rpb.GetStockRequest(sku=sku), timeout=5)
            for lv in reply.levels:
                levels[(sku, lv.warehouse_id)] = {
                    "loaded": lv.loaded, "available": lv.available, "held": lv.held,
                    "confirmed": lv.confirmed, "returned": lv.returned}
        hub = await _hub_orders(opb_grpc.OrderServiceStub(channel), traffic)
    parts: dict[str, list[str]] = {}
    async with aioredis.Redis.from_url(system.redis.url, decode_responses=True) as r:
        for oid, rec in traffic.records.items():
            if rec.multi:
                raw = [await r.get(k) for k in checks.part_keys(rec)]
                parts[oid] = [x.split("\t")[4] if x else "" for x in raw]
        for oid, events in (await _hub_stream(r)).items():
            if oid in hub:
                hub[oid].stream = events
    ledger = system.ledger_url.removeprefix("sqlite:///")
    return checks.Final(states, parts, levels, ledger, hub)


async def _hub_held(stub: rpb_grpc.ReservationServiceStub) -> int:
    held = 0
    for sku in orders.HUB_STOCK:
        reply = await stub.GetStock(rpb.GetStockRequest(sku=sku), timeout=5)
        held += sum(lv.held for lv in reply.levels)
    return held


async def _hub_orders(stub: opb_grpc.OrderServiceStub,
                      traffic: workload.Traffic) -> dict[str, checks.HubFinal]:
    """GetOrder and GetOrderHistory of every order the hub workload sent."""
    out = {}
    for oid, rec in traffic.hub.items():
        try:
            o = (await stub.GetOrder(opb.GetOrderRequest(key=rec.key), timeout=5)).order
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
            out[oid] = checks.HubFinal("NOT_FOUND")
            continue
        events = (await stub.GetOrderHistory(opb.GetOrderHistoryRequest(
            key=rec.key), timeout=5)).events
        out[oid] = checks.HubFinal(
            o.state, o.version, o.reservation_state, o.HasField("shipped_at"),
            o.HasField("paid_at"),
            [(e.version, e.type, e.from_state, e.to_state, e.actor, e.reason) for e in events])
    return out


async def _hub_stream(r: aioredis.Redis) -> dict[str, list[checks.Event]]:
    """The hub workload's events in every shard's order event stream (audit group)."""
    out: dict[str, list[checks.Event]] = collections.defaultdict(list)
    for shard in range(workload.SHARDS):
        for _, fields in await r.xrange(f"{keys.prefix(shard)}olog"):
            if fields.get("g") != "audit":
                continue
            e = json.loads(fields["e"])
            if e["shop"] == orders.SHOP:
                out[e["order_id"]].append((e["version"], e["type"], e["from"], e["to"],
                                           e["actor"], e["reason"]))
    return out


async def run_seed(seed: int, fault_count: int, replicas: int, workers: int,
                   workdir: Path, kinds: Sequence[str] = faults.KINDS,
                   first: Sequence[str] = ()) -> Result:
    """One seed: `fault_count` faults of `kinds` (the kinds in `first` first)."""
    started = time.monotonic()
    rng = random.Random(seed)
    system = System(workdir / f"seed-{seed}", replicas)
    await asyncio.to_thread(system.start)
    try:
        await load_stock(system.targets[0])
        traffic, log, stop = workload.Traffic(), faults.FaultLog(), asyncio.Event()
        work = asyncio.gather(
            workload.run_workers(system.targets, random.Random(rng.random()), workers, stop,
                                 traffic),
            orders.run_hub_workers(system.targets, random.Random(rng.random()),
                                   max(2, workers // 3), stop, traffic))
        await faults.run_schedule(system, random.Random(rng.random()), fault_count, log,
                                  kinds, first)
        await asyncio.sleep(0.5)
        stop.set()
        await work
        await asyncio.to_thread(system.ensure_up)
        final = await settle(system, traffic)
        return Result(seed, log, traffic, final, checks.run_all(traffic, final),
                      time.monotonic() - started)
    finally:
        await asyncio.to_thread(system.stop)
