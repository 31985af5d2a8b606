"""ReserveBatch/ReserveStream limits (settings.max_batch), with a tiny max_batch."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from reservation.v1 import reservation_service_pb2 as pb
from tests.helpers.reservations import RESERVED
from tests.helpers.reserve_batch import load, order


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"max_batch": 2}


@pytest.mark.parametrize("count", [0, 3])
async def test_batch_size_limits_are_invalid_argument_naming_requests(
        stubs: Any, count: int) -> None:
    reqs = [order(f"o{i}", ("A", 1)) for i in range(count)]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.rs.ReserveBatch(pb.ReserveBatchRequest(requests=reqs))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "requests" in (err.value.details() or "")


async def test_stream_keeps_going_past_the_in_flight_window(stubs: Any) -> None:
    # max_batch is 2 here: the stream applies backpressure, it does not refuse.
    await load(stubs, "A", w1=100)
    reqs = [pb.ReserveStreamRequest(request=order(f"o{i}", ("A", 1))) for i in range(40)]
    responses = [r async for r in stubs.rs.ReserveStream(iter(reqs))]
    assert sorted(r.order_id for r in responses) == sorted(f"o{i}" for i in range(40))
    assert all(r.reservation.state == RESERVED for r in responses)
