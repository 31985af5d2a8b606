"""Tracking numbers back to each channel, in its own request shape; the same number
twice is accepted once (the channel says "already shipped", the adapter takes that as
done)."""

from __future__ import annotations

import pytest

from reservation.clients.channels import adapter
from reservation.clients.channels.base import ChannelError, Push
from reservation.clients.channels.fake_server import FakeChannels, Pushed
from tests.helpers.channels import CHANNELS, payloads

ID = {"taobao": "tid", "jd": "orderId", "pdd": "order_sn", "douyin": "order_id",
      "wechat": "order_id", "pos": "order_no"}


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_tracking_number_reaches_the_channel_once(channel: str,
                                                    fake: FakeChannels) -> None:
    raw = payloads(channel)["statuses"][1]["raw"]
    order_id = str(raw[ID[channel]])
    if channel != "pos":
        fake.put(channel, raw)
    api = fake.api(channel)
    push = Push("shop-1", order_id, "SF", "SF1234567890")
    adapter(channel).push(api, push)
    adapter(channel).push(api, push)  # again, as after a crash before the ack
    accepted = fake.pos_pushed() if channel == "pos" else fake.accepted
    assert accepted == [Pushed(channel, order_id, "SF", "SF1234567890")]


@pytest.mark.parametrize("channel", ["taobao", "jd", "pdd", "douyin", "wechat"])
def test_a_push_for_an_unknown_order_is_an_error(channel: str, fake: FakeChannels) -> None:
    with pytest.raises(ChannelError):
        adapter(channel).push(fake.api(channel), Push("s", "NO-SUCH", "SF", "SF1"))
    assert fake.accepted == []
