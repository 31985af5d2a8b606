"""The shared poller against the fake channel server: pages, a repeated page boundary,
errors with backoff, late, duplicate and out-of-order writes, a durable cursor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reservation.clients.channels import adapter
from reservation.clients.channels.base import CanonicalOrder, ChannelError
from reservation.clients.channels.fake_server import FakeChannels
from reservation.clients.channels.poller import Backoff, Poller
from reservation.clients.channels.store import AdapterStore
from tests.helpers.channels import CHANNELS, at, payloads

POLLS = {1: 105, 2: 135, 3: 145}  # the minute each poll runs at


class Clock:
    def __init__(self, minute: float) -> None:
        self.now = at(minute)

    def __call__(self) -> float:
        return self.now


def make_poller(channel: str, fake: FakeChannels, store: AdapterStore, got: list[Any],
                clock: Clock, overlap_s: float = 600) -> Poller:
    return Poller(adapter(channel), fake.api(channel, page_size=2), "shop-1", store,
                  got.extend, overlap_s=overlap_s, lookback_s=3 * 3600, clock=clock,
                  backoff=Backoff(base_s=0.01, sleep=lambda s: None))


def arrive(fake: FakeChannels, channel: str, poll: int) -> None:
    """What the channel wrote before poll `poll` (in arrival order)."""
    data = payloads(channel)
    if channel == "pos":
        for f in data["files"]:
            if f["poll"] == poll:
                fake.write_pos_file(f["name"], f["rows"], int(at(f["mtime_minute"]) * 1000))
        return
    for a in data["arrivals"]:
        if a["poll"] == poll:
            fake.put(channel, a["raw"])


def newest(orders: list[CanonicalOrder]) -> dict[str, str]:
    best: dict[str, CanonicalOrder] = {}
    for o in orders:
        if o.order_id not in best or o.modified_at_ms >= best[o.order_id].modified_at_ms:
            best[o.order_id] = o
    return {k: o.state for k, o in best.items()}


@pytest.mark.parametrize("channel", CHANNELS)
def test_three_polls_see_every_write_once_the_dust_settles(
        channel: str, fake: FakeChannels, store: AdapterStore) -> None:
    got: list[CanonicalOrder] = []
    clock = Clock(0)
    poller = make_poller(channel, fake, store, got, clock)
    for poll, minute in POLLS.items():
        arrive(fake, channel, poll)
        if channel != "pos":
            fake.fail_next(channel, 1)  # every poll meets a rate limit first, and retries
        clock.now = at(minute)
        result = poller.poll_once()
        assert result.refused == []
        assert store.cursor(channel, "shop-1") == int(at(minute) * 1000)
    # the newest copy of each order reached the sink, the late one included
    assert newest(got) == payloads(channel)["final"]
    # the out-of-order copy (older than one already delivered) reached it too: the hub
    # decides it is STALE, not the adapter
    if channel != "pos":
        stale = [a for a in payloads(channel)["arrivals"] if "out of order" in a["note"]]
        ids = {(o.order_id, o.modified_at_ms) for o in got}
        mapped = [adapter(channel).to_order(a["raw"], "shop-1") for a in stale]
        assert all((m.order_id, m.modified_at_ms) in ids for m in mapped)


def test_without_the_overlap_a_late_write_is_missed(fake: FakeChannels,
                                                    store: AdapterStore) -> None:
    """Why the overlap exists: a write landing after the poll with an earlier modified
    time is only seen because the next window starts before the cursor."""
    got: list[CanonicalOrder] = []
    clock = Clock(0)
    poller = make_poller("taobao", fake, store, got, clock, overlap_s=0)
    for poll, minute in POLLS.items():
        arrive(fake, "taobao", poll)
        clock.now = at(minute)
        poller.poll_once()
    assert "3400C" not in newest(got)


def test_the_cursor_survives_a_restart(fake: FakeChannels, tmp_path: Path) -> None:
    got: list[CanonicalOrder] = []
    path = tmp_path / "cursor.db"
    first = AdapterStore(path)
    arrive(fake, "jd", 1)
    make_poller("jd", fake, first, got, Clock(105)).poll_once()
    first.close()
    again = AdapterStore(path)
    poller = make_poller("jd", fake, again, got, Clock(135))
    windows = poller.windows(int(at(135) * 1000))
    assert windows[0].start_ms == int(at(105 - 10) * 1000)  # cursor less the overlap
    again.close()


def test_an_unknown_status_is_recorded_and_the_rest_synced(
        fake: FakeChannels, store: AdapterStore) -> None:
    for case in payloads("jd")["refused"] + payloads("jd")["statuses"][:3]:
        fake.put("jd", case["raw"])
    got: list[CanonicalOrder] = []
    result = make_poller("jd", fake, store, got, Clock(60)).poll_once()
    assert len({o.order_id for o in got}) == 3
    assert result.refused == [("299999991: jd order 299999991: unknown orderState "
                               "'WAIT_BUYER_PAY'")]
    [refused] = store.refused("jd")
    assert refused.raw["orderState"] == "WAIT_BUYER_PAY"


def test_a_refused_request_stops_the_poll_and_keeps_the_cursor(
        fake: FakeChannels, store: AdapterStore) -> None:
    fake.put("taobao", payloads("taobao")["statuses"][0]["raw"])
    fake.fail_next("taobao", 1, kind="auth")
    poller = make_poller("taobao", fake, store, [], Clock(60))
    with pytest.raises(ChannelError, match="taobao: error 25"):
        poller.poll_once()
    assert store.cursor("taobao", "shop-1") is None


def test_errors_back_off_and_give_up_after_the_attempts(
        fake: FakeChannels, store: AdapterStore) -> None:
    slept: list[float] = []
    fake.fail_next("douyin", 3, kind="http")
    poller = Poller(adapter("douyin"), fake.api("douyin"), "s", store, lambda o: None,
                    clock=Clock(60), backoff=Backoff(base_s=1, cap_s=4, attempts=3,
                                                     sleep=slept.append))
    with pytest.raises(ChannelError, match="http 503"):
        poller.poll_once()
    assert len(slept) == 2 and slept[0] <= 1 and slept[1] <= 2


def test_a_failing_sink_leaves_the_window_to_pull_again(
        fake: FakeChannels, store: AdapterStore) -> None:
    fake.put("wechat", payloads("wechat")["statuses"][1]["raw"])

    def broken(orders: list[CanonicalOrder]) -> None:
        raise ConnectionError("hub down")

    poller = make_poller("wechat", fake, store, [], Clock(60))
    poller.sink = broken
    with pytest.raises(ConnectionError):
        poller.poll_once()
    assert store.cursor("wechat", "shop-1") is None
    got: list[CanonicalOrder] = []
    make_poller("wechat", fake, store, got, Clock(61)).poll_once()
    assert [o.state for o in got] == ["PAID"]


def test_pinduoduo_windows_never_span_more_than_it_allows(store: AdapterStore) -> None:
    poller = Poller(adapter("pdd"), fake_api(), "s", store, lambda o: None,
                    lookback_s=3600, overlap_s=0, clock=Clock(120))
    spans = [w.end_ms - w.start_ms for w in poller.windows(int(at(120) * 1000))]
    assert spans == [30 * 60_000] * 2


def fake_api() -> Any:
    from reservation.clients.channels.http import ChannelApi
    return ChannelApi("pdd", "http://127.0.0.1:9")


def test_settings_come_from_the_environment() -> None:
    from reservation.clients.channels.http import ChannelApi
    api = ChannelApi.from_env("jd", env={"CHANNEL_JD_URL": "http://127.0.0.1:1",
                                         "CHANNEL_JD_APP_KEY": "k",
                                         "CHANNEL_JD_APP_SECRET": "s"})
    assert (api.app_key, api.app_secret) == ("k", "s") and "s'" not in repr(api)
    with pytest.raises(ValueError, match="set CHANNEL_JD_URL"):
        ChannelApi.from_env("jd", env={})
