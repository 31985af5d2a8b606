"""Bad requests through the real gRPC server: INVALID_ARGUMENT naming the field, Redis
unchanged (a key scan with every value before and after), never UNKNOWN or INTERNAL.

Covers what the request-check interceptor refuses for every method (unparseable bytes,
undefined enum numbers, Timestamp/Duration out of range) and the bounds on flash sales.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import reservation_service_pb2 as rpb
from reservation.v1 import types_pb2 as pb
from reservation.v1 import write_back_service_pb2 as wpb
from tests.helpers.errors import bad_request_fields
from tests.helpers.reservations import at, line, load, ms, order, reserve
from tests.helpers.snapshots import redis_snapshot

FILES = (rpb, apb, wpb)
METHODS = [(svc.full_name, m) for f in FILES for svc in f.DESCRIPTOR.services_by_name.values()
           for m in svc.methods]
DAY_S = 86_400


def method_id(item: tuple[str, object]) -> str:
    return item[1].name  # type: ignore[attr-defined]


def raw_call(channel: grpc.aio.Channel, service: str, method, payload: bytes, timeout: float):
    """Call `method` with `payload` as the (serialized) request, whatever its kind."""
    path = f"/{service}/{method.name}"
    if method.client_streaming:
        call = channel.stream_stream(path, request_serializer=None,
                                     response_deserializer=None)(iter([payload]),
                                                                 timeout=timeout)
    elif method.server_streaming:
        call = channel.unary_stream(path, request_serializer=None,
                                    response_deserializer=None)(payload, timeout=timeout)
    else:
        return channel.unary_unary(path, request_serializer=None,
                                   response_deserializer=None)(payload, timeout=timeout)

    async def drain() -> None:
        async for _ in call:
            pass
    return drain()


async def refused(awaitable) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await awaitable
    return info.value


async def invalid(awaitable) -> list[str]:
    err = await refused(awaitable)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (err.code(), err.details())
    return bad_request_fields(err)


@pytest.fixture
async def seeded(stubs, redis_url):
    """Some state (stock, a held order) so 'nothing changed' means something."""
    await load(stubs, ("PHONE", "W1", 10))
    await reserve(stubs, order("o-1", line("PHONE")))
    return redis_url


# -- unparseable bytes -------------------------------------------------------------------

# A field tag of wire type 7 (no such type): no message parses it.
MALFORMED = b"\x0f\x01"


@pytest.mark.parametrize("method", METHODS, ids=method_id)
async def test_bytes_that_do_not_parse_are_invalid_argument_on_every_method(
        stubs, seeded, method):
    service, m = method
    before = await redis_snapshot(seeded)
    fields = await invalid(raw_call(stubs.channel, service, m, MALFORMED, timeout=10))
    assert fields == ["request"]
    assert await redis_snapshot(seeded) == before


@pytest.mark.parametrize("method", METHODS, ids=method_id)
async def test_random_bytes_never_get_unknown_or_internal(stubs, seeded, method):
    service, m = method
    rng = random.Random(f"{service}/{m.name}")
    for _ in range(25):
        payload = rng.randbytes(rng.randint(1, 64))
        try:
            await raw_call(stubs.channel, service, m, payload, timeout=2)
        except grpc.aio.AioRpcError as err:
            assert err.code() not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL), (
                m.name, payload, err.code(), err.details())


# -- enum numbers no enum defines --------------------------------------------------------

def enum_paths(desc: Descriptor, prefix: str = "", depth: int = 0
               ) -> Iterator[tuple[str, list[FieldDescriptor]]]:
    """Every enum field reachable in a request type, as (field path, descriptor chain)."""
    for field in desc.fields:
        path = f"{prefix}.{field.name}" if prefix else field.name
        if field.is_repeated:
            path += "[0]"
        if field.type == FieldDescriptor.TYPE_ENUM:
            yield path, [field]
        elif field.type == FieldDescriptor.TYPE_MESSAGE and depth < 4 \
                and not field.message_type.GetOptions().map_entry:
            for sub, chain in enum_paths(field.message_type, path, depth + 1):
                yield sub, [field, *chain]


def with_enum(message: Message, chain: list[FieldDescriptor], number: int) -> None:
    field, rest = chain[0], chain[1:]
    if not rest:
        if field.is_repeated:
            getattr(message, field.name).append(number)
        else:
            setattr(message, field.name, number)
        return
    sub = (getattr(message, field.name).add() if field.is_repeated
           else getattr(message, field.name))
    with_enum(sub, rest, number)


ENUM_CASES = [(service, m, path, chain) for service, m in METHODS
              for path, chain in enum_paths(m.input_type)]


def test_the_requests_have_enum_fields_to_check():
    # LoadStockRequest.mode at least; a new enum field is picked up by the test below.
    assert ("mode" in {path for _, m, path, _ in ENUM_CASES if m.name == "LoadStock"})


@pytest.mark.parametrize("case", ENUM_CASES, ids=lambda c: f"{c[1].name}.{c[2]}")
async def test_an_undefined_enum_number_is_invalid_argument_naming_the_field(
        stubs, seeded, case):
    service, m, path, chain = case
    from google.protobuf import message_factory
    request = message_factory.GetMessageClass(m.input_type)()
    with_enum(request, chain, 99)
    before = await redis_snapshot(seeded)
    fields = await invalid(raw_call(stubs.channel, service, m, request.SerializeToString(),
                                    timeout=10))
    assert fields == [path]
    assert await redis_snapshot(seeded) == before


async def test_load_stock_with_mode_99_names_mode_and_loads_nothing(stubs, seeded):
    before = await redis_snapshot(seeded)
    request = apb.LoadStockRequest(
        items=[pb.StockItem(sku="PHONE", warehouse_id="W1", quantity=5)], mode=99)
    assert await invalid(stubs.admin.LoadStock(request)) == ["mode"]
    assert await redis_snapshot(seeded) == before


# -- times and counts --------------------------------------------------------------------

def seconds_from_now(seconds: int) -> Timestamp:
    ts = at(0)
    return Timestamp(seconds=ts.seconds + seconds)


def sale(**fields) -> apb.StartFlashSaleRequest:
    req = apb.StartFlashSaleRequest(
        sale_id="s1", items=[pb.StockItem(sku="TV", warehouse_id="W1", quantity=10)],
        ends_at=at(3_600_000))
    for name, value in fields.items():
        if isinstance(value, Message):
            getattr(req, name).CopyFrom(value)
        else:
            setattr(req, name, value)
    return req


BAD_SALES = {
    "ends_at 2^62 s": ("ends_at", sale(ends_at=Timestamp(seconds=2**62))),
    "ends_at in 400 days": ("ends_at", sale(ends_at=seconds_from_now(400 * DAY_S))),
    "ends_at past": ("ends_at", sale(ends_at=seconds_from_now(-60))),
    "starts_at -2^40 s": ("starts_at", sale(starts_at=Timestamp(seconds=-2**40))),
    "starts_at 1970": ("starts_at", sale(starts_at=Timestamp(seconds=0, nanos=1_000_000))),
    "starts_at nanos": ("starts_at", sale(starts_at=Timestamp(seconds=1, nanos=-1))),
    "per_buyer_limit 2^62": ("per_buyer_limit", sale(per_buyer_limit=2**62)),
    "per_buyer_limit -1": ("per_buyer_limit", sale(per_buyer_limit=-1)),
    "queue_deadline 2^62 s": ("queue_deadline", sale(queue_deadline=ms(0))),
    "queue_deadline 2 days": ("queue_deadline", sale(queue_deadline=ms(2 * DAY_S * 1000))),
    "hold_ttl 2^40 s": ("hold_ttl", sale(hold_ttl=ms(2**40 * 1000))),
    "hold_ttl negative": ("hold_ttl", sale(hold_ttl=ms(-1000))),
}
BAD_SALES["queue_deadline 2^62 s"][1].queue_deadline.seconds = 2**62


@pytest.mark.parametrize("case", sorted(BAD_SALES))
async def test_a_flash_sale_with_an_unbounded_time_or_count_is_refused_before_any_write(
        stubs, seeded, case):
    field, request = BAD_SALES[case]
    before = await redis_snapshot(seeded)
    assert await invalid(stubs.admin.StartFlashSale(request)) == [field]
    assert await redis_snapshot(seeded) == before
    err = await refused(stubs.admin.GetFlashSale(apb.GetFlashSaleRequest(sale_id="s1")))
    assert err.code() != grpc.StatusCode.OK


@pytest.mark.parametrize("hold_ttl", [ms(2**40 * 1000), ms(-5), ms(25 * 3600 * 1000)])
async def test_reserve_with_a_hold_ttl_out_of_range_names_hold_ttl(stubs, seeded, hold_ttl):
    before = await redis_snapshot(seeded)
    request = order("o-2", line("PHONE"))
    request.hold_ttl.CopyFrom(hold_ttl)
    assert await invalid(stubs.rs.Reserve(request)) == ["hold_ttl"]
    assert await redis_snapshot(seeded) == before


async def test_a_streamed_request_with_a_bad_time_fails_the_stream_naming_it(stubs, seeded):
    request = order("o-3", line("PHONE"))
    request.hold_ttl.seconds = 2**62
    before = await redis_snapshot(seeded)
    call = stubs.rs.ReserveStream(iter([rpb.ReserveStreamRequest(request=request)]))

    async def drain() -> None:
        async for _ in call:
            pass
    assert await invalid(drain()) == ["request.hold_ttl"]
    assert await redis_snapshot(seeded) == before


async def test_list_dead_letters_with_a_huge_page_size_names_page_size(stubs, seeded):
    before = await redis_snapshot(seeded)
    request = apb.ListDeadLettersRequest(page_size=2**31 - 1)
    assert await invalid(stubs.admin.ListDeadLetters(request)) == ["page_size"]
    assert await redis_snapshot(seeded) == before
