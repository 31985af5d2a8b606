"""ChannelApi's HTTP against the fake channel server: connections kept open between
calls, and the channel's refusals and outages turned into ChannelErrors that say
whether a retry may help."""

from __future__ import annotations

import pytest

from reservation.clients.channels.base import ChannelError
from reservation.clients.channels.fake_server import FakeChannels
from reservation.clients.channels.http import ChannelApi
from reservation.storage.redis_process import free_port


def test_calls_reuse_one_connection(fake: FakeChannels) -> None:
    api = ChannelApi("jd", fake.url, rate=1000)
    before = fake.connections
    for _ in range(20):
        with pytest.raises(ChannelError):
            api.post("/no-such-method", {"x": "1"})  # answered 404, connection kept
    assert fake.connections - before == 1


def test_an_http_error_is_a_channel_error_retryable_only_for_5xx(
        fake: FakeChannels) -> None:
    api = ChannelApi("jd", fake.url, rate=1000)
    with pytest.raises(ChannelError) as err:
        api.post("/no-such-method")  # 404
    assert err.value.code == "http 404" and not err.value.retryable
    fake.failures["jd"].append("http")  # the next JD call: 503
    with pytest.raises(ChannelError) as err:
        api.post("/routerjson", {"method": "anything"})
    assert err.value.code == "http 503" and err.value.retryable
    # The connection survives both: the next call goes through on it.
    before = fake.connections
    with pytest.raises(ChannelError):
        api.post("/no-such-method")
    assert fake.connections == before


def test_nothing_listening_is_a_retryable_network_error() -> None:
    api = ChannelApi("jd", f"http://127.0.0.1:{free_port()}", rate=1000, timeout_s=2)
    with pytest.raises(ChannelError) as err:
        api.post("/anything")
    assert err.value.retryable and err.value.code == "network"
