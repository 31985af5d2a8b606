"""What the service's edge costs per call, in process: `python -m benchmarks.edge_cost`.

The end-to-end rows (`benchmarks.run --systems noop noop-chain`) price the edge as the
difference of two noisy figures, each mostly gRPC's own transport. This measures the
edge alone: the handler lookup through `app.interceptors(settings)` (as grpc.aio runs
its interceptors: one continuation per interceptor), then the handler it gives, around
the no-op servicer's Reserve, with a stand-in context; the same with no interceptors
beside it. Three edges: as the benchmarks run the service (no auth, no metrics: error
mapping, the in-flight cap, request checks), with metrics on, and with auth (a sha256
token), caller limits and metrics on. CPU time per call, median of `--repeats` rounds of
`--calls` calls, on uvloop; writes benchmarks/results/NAME.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import grpc
import uvloop

from benchmarks import paths, report
from benchmarks.baselines import NoopServicer
from benchmarks.run import RESULTS, machine
from reservation.access.tokens import hash_token
from reservation.server.app import interceptors
from reservation.settings import Settings
from reservation.v1 import reservation_service_pb2 as pb
from reservation.v1 import reservation_service_pb2_grpc as pb_grpc
from reservation.v1 import types_pb2

METHOD = "/reservation.v1.ReservationService/Reserve"
TOKEN = "edge-cost-token"


class Context:
    """What the edge and the no-op servicer ask of a call's context."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self.metadata = metadata

    def code(self) -> None:
        return None

    def peer(self) -> str:
        return "ipv4:127.0.0.1:1"

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.metadata

    async def abort(self, code: Any, details: str = "", trailing_metadata: Any = ()) -> None:
        raise RuntimeError(f"the edge refused the call: {code} {details}")


class Details:
    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self.method = METHOD
        self.invocation_metadata = metadata


def _resolver() -> Callable[[Any], grpc.RpcMethodHandler | None]:
    """The server's own lookup: the generated handlers of the no-op servicer."""
    found: dict[str, grpc.RpcMethodHandler] = {}

    class Collect:
        def add_generic_rpc_handlers(self, handlers: Sequence[Any]) -> None:
            pass

        def add_registered_method_handlers(self, service: str,
                                           handlers: dict[str, grpc.RpcMethodHandler]) -> None:
            found.update({f"/{service}/{name}": h for name, h in handlers.items()})
    pb_grpc.add_ReservationServiceServicer_to_server(NoopServicer(), Collect())  # type: ignore[arg-type]
    return lambda details: found.get(details.method)


async def _lookup(chain: Sequence[grpc.aio.ServerInterceptor], details: Any,
                  query: Callable[[Any], Any]) -> Any:
    """grpc.aio's _run_interceptor: each interceptor gets a continuation to the next."""
    it = iter(chain)

    async def continuation(d: Any) -> Any:
        interceptor = next(it, None)
        if interceptor is None:
            return query(d)
        return await interceptor.intercept_service(continuation, d)
    return await continuation(details)


async def _per_call_us(chain: Sequence[grpc.aio.ServerInterceptor],
                       metadata: tuple[tuple[str, str], ...], raw: bytes, calls: int,
                       repeats: int) -> float:
    query = _resolver()
    details, context = Details(metadata), Context(metadata)

    async def one() -> None:
        handler = await _lookup(chain, details, query)
        request = handler.request_deserializer(raw) if handler.request_deserializer else raw
        reply = await handler.unary_unary(request, context)
        if handler.response_serializer:
            handler.response_serializer(reply)

    for _ in range(min(calls, 1000)):  # warm: the edge's first call builds its handler
        await one()
    rounds = []
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(calls):
            await one()
        rounds.append((time.process_time() - started) / calls * 1e6)
    return round(statistics.median(rounds), 2)


def _edges(auth_file: Path) -> list[tuple[str, Settings, tuple[tuple[str, str], ...]]]:
    base: dict[str, Any] = {"redis_url": "redis://127.0.0.1:1/0", "port": 0}
    auth: dict[str, Any] = {"auth_file": str(auth_file), "write_back_batch_key": "k",
                            "order_buyer_hash_key": "edge-cost-buyer-hash-key"}
    return [
        ("none (no interceptors)", Settings(**base), ()),
        ("as benchmarked: errors, in-flight cap, request checks", Settings(**base), ()),
        ("+ metrics", Settings(**base, metrics_port=1), ()),
        ("+ metrics, auth (sha256 token, adapter), caller limits",
         Settings(**base, **auth, metrics_port=1),
         (("authorization", f"Bearer {TOKEN}"),)),
    ]


async def measure(calls: int, repeats: int) -> list[dict[str, Any]]:
    raw = pb.ReserveRequest(channel="web", order_id="o-1", buyer_id="b-1", lines=[
        types_pb2.OrderLine(sku="SKU-1", quantity=1)]).SerializeToString()
    with tempfile.TemporaryDirectory() as tmp:
        auth_file = Path(tmp) / "principals.yaml"
        auth_file.write_text("principals:\n- name: web\n  role: adapter\n  channels: [web]\n"
                             f"  token_hash: '{hash_token(TOKEN, 'sha256')}'\n")
        rows: list[dict[str, Any]] = []
        for name, settings, metadata in _edges(auth_file):
            chain = [] if name.startswith("none") else interceptors(settings)
            us = await _per_call_us(chain, metadata, raw, calls, repeats)
            rows.append({"edge": name, "cpu_us_per_call": us})
    bare: float = rows[0]["cpu_us_per_call"]
    for row in rows:
        row["edge_us_per_call"] = round(row["cpu_us_per_call"] - bare, 2)
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("name", help="results/<name>.md")
    p.add_argument("--commit", required=True, help="the code measured")
    p.add_argument("--calls", type=int, default=20_000)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    rows = uvloop.run(measure(args.calls, args.repeats))
    header = (f"`python -m benchmarks.edge_cost {args.name} --calls {args.calls} --repeats "
              f"{args.repeats}` on {machine()}, code at {args.commit}: CPU µs per Reserve "
              "call through the edge and the no-op servicer (lookup, parse, handler, "
              f"serialize), median of {args.repeats} rounds; edge = minus no interceptors.")
    text = report.markdown(rows, header, ("edge", "cpu_us_per_call", "edge_us_per_call"))
    (RESULTS / f"{args.name}.md").write_text(paths.scrub(text))
    print(text)


if __name__ == "__main__":
    main()
