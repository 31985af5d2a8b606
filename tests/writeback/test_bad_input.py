"""Bad write-back requests: INVALID_ARGUMENT naming the field; acknowledging twice is fine."""

from __future__ import annotations

import grpc
import pytest

from reservation.v1 import write_back_service_pb2 as wpb
from tests.helpers.errors import bad_request_fields
from tests.helpers.reservations import load, ms
from tests.helpers.writeback import pull_request


async def invalid_field(call) -> list[str]:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    return bad_request_fields(info.value)


@pytest.mark.parametrize("max_events", [0, -1, 1001, 2**31 - 1])
async def test_pull_with_max_events_out_of_range_is_refused(wb, max_events):
    fields = await invalid_field(wb.PullBatch(pull_request(max_events=max_events)))
    assert fields == ["max_events"]


@pytest.mark.parametrize("consumer", ["", "has space", "x" * 65])
async def test_pull_with_a_bad_consumer_name_is_refused(wb, consumer):
    assert await invalid_field(wb.PullBatch(pull_request(consumer))) == ["consumer"]


async def test_pull_as_a_group_that_is_not_configured_is_refused(wb):
    assert await invalid_field(wb.PullBatch(pull_request(group="wsm"))) == ["group"]


async def test_pull_waiting_longer_than_the_maximum_is_refused(wb):
    request = pull_request()
    request.wait.CopyFrom(ms(31_000))
    assert await invalid_field(wb.PullBatch(request)) == ["wait"]


def tampered(batch_id: str) -> str:
    """The same batch id with one character of the signed payload changed."""
    version, payload, mac = batch_id.split(".")
    flip = "A" if payload[5] != "A" else "B"
    return f"{version}.{payload[:5]}{flip}{payload[6:]}.{mac}"


@pytest.mark.parametrize("make_bad", [
    lambda good: "",
    lambda good: "not-a-batch",
    lambda good: "wb1.!!!.???",
    lambda good: good + "x",
    tampered,
    lambda good: "wb2" + good[3:],
], ids=["empty", "garbage", "bad-base64", "truncated-signature", "tampered", "other-version"])
async def test_ack_with_a_malformed_or_unknown_batch_id_is_refused(stubs, wb, make_bad):
    await load(stubs, ("apple", "sh", 3))
    good = (await wb.PullBatch(pull_request())).batch_id

    fields = await invalid_field(wb.AckBatch(wpb.AckBatchRequest(batch_id=make_bad(good))))

    assert fields == ["batch_id"]


async def test_acknowledging_a_batch_twice_is_harmless(stubs, wb):
    await load(stubs, ("apple", "sh", 3), ("pear", "sh", 2))
    batch = await wb.PullBatch(pull_request())

    first = await wb.AckBatch(wpb.AckBatchRequest(batch_id=batch.batch_id))
    second = await wb.AckBatch(wpb.AckBatchRequest(batch_id=batch.batch_id))

    assert (first.acknowledged, second.acknowledged) == (2, 0)
    assert list((await wb.PullBatch(pull_request(wait_ms=500))).events) == []


@pytest.mark.parametrize("event_id", ["", "12", "x-1-0", "64-1-0"])
async def test_replay_with_a_malformed_event_id_is_refused(wb, event_id):
    request = wpb.ReplayWriteBackDeadLettersRequest(event_ids=["0-1-0", event_id])
    assert await invalid_field(wb.ReplayWriteBackDeadLetters(request)) == ["event_ids[1]"]


@pytest.mark.parametrize("page_size", [-1, 1001])
async def test_listing_dead_letters_with_page_size_out_of_range_is_refused(wb, page_size):
    request = wpb.ListWriteBackDeadLettersRequest(page_size=page_size)
    assert await invalid_field(wb.ListWriteBackDeadLetters(request)) == ["page_size"]
