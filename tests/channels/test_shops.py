"""Shops: each shop calls its channel with its own token (Taobao's session, the others'
access_token), refreshed by the channel's own flow before it expires or when the channel
says it has; several shops of one channel each see their own orders; the tokens come from
the environment, files or a shops file (written back when refreshed) and never reach a
log line, a repr or an error. All through the fake channel server, which enforces the
tokens and their expiry."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from reservation.clients.channels import adapter, credentials
from reservation.clients.channels.base import ChannelError, Window
from reservation.clients.channels.credentials import (
    REFRESH_MARGIN_MS,
    ShopCredentials,
    ShopToken,
    shop_variable,
)
from reservation.clients.channels.fake_server import FakeChannels
from reservation.clients.channels.http import ChannelApi
from tests.helpers.channels import payloads

TOKEN_CHANNELS = ("taobao", "jd", "pdd", "douyin")
EVERYTHING = Window(0, 4_000_000_000_000)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def raw_orders(channel: str) -> list[dict[str, Any]]:
    """The recorded payloads of the channel, one copy per order."""
    by_id: dict[str, dict[str, Any]] = {}
    for a in payloads(channel)["arrivals"]:
        by_id[str(a["raw"][ID[channel]])] = a["raw"]
    return list(by_id.values())


ID = {"taobao": "tid", "jd": "orderId", "pdd": "order_sn", "douyin": "order_id",
      "wechat": "order_id"}


def shop_api(fake: FakeChannels, channel: str, shop: str, token: ShopToken,
             clock: Clock) -> ChannelApi:
    creds = ShopCredentials(channel, shop, token, clock=clock)
    return ChannelApi(channel, fake.url, "fake-app-key", "fake-app-secret", rate=1000,
                      shop=shop, credentials=creds)


def ids(channel: str, api: ChannelApi) -> set[str]:
    page = adapter(channel).fetch(api, EVERYTHING, None)
    return {str(o[ID[channel]]) for o in page.orders}


@pytest.mark.parametrize("channel", TOKEN_CHANNELS)
def test_several_shops_each_see_their_own_orders(channel: str, fake: FakeChannels) -> None:
    first, second, *_ = raw_orders(channel)
    fake.put(channel, first, shop="north")
    fake.put(channel, second, shop="south")
    north, south = fake.api(channel, shop="north"), fake.api(channel, shop="south")
    assert ids(channel, north) == {str(first[ID[channel]])}
    assert ids(channel, south) == {str(second[ID[channel]])}
    assert (fake.shop_requests[(channel, "north")], fake.shop_requests[(channel, "south")]) \
        == (1, 1)


@pytest.mark.parametrize("channel", TOKEN_CHANNELS)
def test_a_call_without_a_valid_token_is_refused(channel: str, fake: FakeChannels) -> None:
    fake.put(channel, raw_orders(channel)[0])
    api = shop_api(fake, channel, "main", ShopToken("not-a-token", 0), Clock(0))
    with pytest.raises(ChannelError) as err:
        ids(channel, api)
    assert err.value.retryable  # expired or unknown: refresh and try again ...
    with pytest.raises(ChannelError) as again:  # ... but without a refresh token: stop
        ids(channel, api)
    assert again.value.auth and not again.value.retryable
    assert "authorize the shop again" in str(again.value)


@pytest.mark.parametrize("channel", TOKEN_CHANNELS)
def test_a_token_about_to_expire_is_refreshed_first(channel: str,
                                                    fake: FakeChannels) -> None:
    fake.put(channel, raw_orders(channel)[0])
    issued = fake.issue(channel, "main", ttl_s=3600)
    clock = Clock(issued.expires_at_ms / 1000 - REFRESH_MARGIN_MS / 1000 + 1)
    api = shop_api(fake, channel, "main", issued, clock)
    assert len(ids(channel, api)) == 1
    assert fake.refreshes[(channel, "main")] == 1
    assert api.credentials is not None and api.credentials.refreshes == 1
    # The old token is dead at the channel; the new one works without another refresh.
    with pytest.raises(ChannelError):
        ids(channel, shop_api(fake, channel, "main", ShopToken(issued.access_token, 0),
                              Clock(0)))
    assert len(ids(channel, api)) == 1
    assert fake.refreshes[(channel, "main")] == 1


@pytest.mark.parametrize("channel", TOKEN_CHANNELS)
def test_a_token_the_channel_says_expired_is_refreshed_and_the_call_retried(
        channel: str, fake: FakeChannels) -> None:
    """The shop's clock says the token is good; the channel's says it expired (skew, or
    revoked early): the call fails retryably, the next one refreshes and passes."""
    fake.put(channel, raw_orders(channel)[0])
    issued = fake.issue(channel, "main", ttl_s=3600)
    api = shop_api(fake, channel, "main", issued, Clock(issued.expires_at_ms / 1000 - 3600))
    fake.clock = lambda: issued.expires_at_ms / 1000 + 1
    with pytest.raises(ChannelError) as err:
        ids(channel, api)
    assert err.value.retryable and not err.value.auth
    fake.clock = lambda: issued.expires_at_ms / 1000 - 3000  # the refreshed one is valid
    assert len(ids(channel, api)) == 1
    assert fake.refreshes[(channel, "main")] == 1


def test_a_refresh_token_is_good_for_one_refresh(fake: FakeChannels) -> None:
    issued = fake.issue("douyin", "main", ttl_s=60)
    clock = Clock(issued.expires_at_ms / 1000)
    first = shop_api(fake, "douyin", "main", issued, clock)
    assert ids("douyin", first) == set()  # refreshed, then called
    # A second process still holding the old pair cannot refresh with it.
    second = shop_api(fake, "douyin", "main", issued, clock)
    with pytest.raises(ChannelError) as err:
        ids("douyin", second)
    assert err.value.auth and not err.value.retryable
    assert "authorize the shop again" in str(err.value)


def test_an_expired_refresh_token_says_to_authorize_again(fake: FakeChannels) -> None:
    issued = fake.issue("pdd", "main", ttl_s=60, refresh_ttl_s=120)
    api = shop_api(fake, "pdd", "main", issued, Clock(issued.refresh_expires_at_ms / 1000))
    with pytest.raises(ChannelError) as err:
        ids("pdd", api)
    assert err.value.auth and "shop main" in str(err.value)
    assert fake.refreshes[("pdd", "main")] == 0


def test_wechat_fetches_a_new_token_when_the_old_one_expired(fake: FakeChannels) -> None:
    raw = raw_orders("wechat")[0]
    fake.put("wechat", raw)
    api = fake.api("wechat", shop="shop-9")
    assert ids("wechat", api) == {str(raw["order_id"])}
    start = fake.clock()
    fake.clock = lambda: start + fake.wechat_ttl_s + 1  # every token issued so far expired
    with pytest.raises(ChannelError) as err:
        ids("wechat", api)
    assert err.value.code == "42001" and err.value.retryable
    assert ids("wechat", api) == {str(raw["order_id"])}


def test_credentials_from_the_environment_and_files(tmp_path: Path,
                                                    fake: FakeChannels) -> None:
    token = fake.issue("jd", "flagship store")
    secret_file = tmp_path / "app-secret"
    secret_file.write_text("fake-app-secret\n")
    token_file = tmp_path / "token"
    token_file.write_text(token.access_token + "\n")
    env = {"CHANNEL_JD_URL": fake.url, "CHANNEL_JD_APP_KEY": "fake-app-key",
           "CHANNEL_JD_APP_SECRET_FILE": str(secret_file),
           shop_variable("jd", "flagship store", "ACCESS_TOKEN") + "_FILE": str(token_file),
           shop_variable("jd", "flagship store", "EXPIRES_AT"):
               str(token.expires_at_ms // 1000)}
    assert shop_variable("jd", "flagship store", "ACCESS_TOKEN") == \
        "CHANNEL_JD_SHOP_FLAGSHIP_STORE_ACCESS_TOKEN"
    api = ChannelApi.from_env("jd", env=env, shop="flagship store")
    assert api.app_secret == "fake-app-secret"
    raw = raw_orders("jd")[0]
    fake.put("jd", raw, shop="flagship store")
    assert ids("jd", api) == {str(raw["orderId"])}
    # A shop without a token is refused at start, naming what to set.
    with pytest.raises(ValueError, match="CHANNEL_JD_SHOP_OUTLET_ACCESS_TOKEN"):
        ChannelApi.from_env("jd", env=env, shop="outlet")


def test_a_shops_file_is_written_back_when_a_token_is_refreshed(
        tmp_path: Path, fake: FakeChannels) -> None:
    """Several shops in one file; a refreshed token goes back to it (owner-only), so a
    restarted adapter starts from the new pair (Douyin's old refresh token is dead)."""
    north = fake.issue("douyin", "north", ttl_s=60)
    south = fake.issue("douyin", "south")
    path = tmp_path / "douyin-shops.json"
    path.write_text(json.dumps({"north": north.to_json(), "south": south.to_json()}))
    env = {"CHANNEL_DOUYIN_URL": fake.url, "CHANNEL_DOUYIN_APP_KEY": "fake-app-key",
           "CHANNEL_DOUYIN_APP_SECRET": "fake-app-secret",
           "CHANNEL_DOUYIN_SHOPS_FILE": str(path)}
    api = ChannelApi.from_env("douyin", env=env, shop="north")
    assert ids("douyin", api) == set()  # within the margin: refreshed first
    saved = json.loads(path.read_text())
    assert saved["north"]["refresh_token"] not in ("", north.refresh_token)
    assert saved["south"] == south.to_json()  # the other shop is left as it was
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = ChannelApi.from_env("douyin", env=env, shop="north")
    assert ids("douyin", again) == set()
    assert fake.refreshes[("douyin", "north")] == 1
    with pytest.raises(ValueError, match="'east' is not in"):
        ChannelApi.from_env("douyin", env=env, shop="east")


@pytest.mark.parametrize("channel", TOKEN_CHANNELS)
def test_tokens_and_secrets_never_reach_logs_reprs_or_errors(
        channel: str, fake: FakeChannels, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    issued = fake.issue(channel, "main", ttl_s=60)
    api = shop_api(fake, channel, "main", issued, Clock(issued.expires_at_ms / 1000))
    ids(channel, api)  # a refresh, then a call
    fresh = fake.token_of(channel, "main")
    forged = shop_api(fake, channel, "main", ShopToken("forged-secret-token", 0), Clock(0))
    errors = []
    for _ in range(2):
        try:
            ids(channel, forged)
        except ChannelError as exc:
            errors.append(str(exc))
    said = " ".join([caplog.text, repr(api), repr(api.credentials), repr(fresh),
                     repr(issued), *errors])
    for secret in (issued.access_token, issued.refresh_token, fresh.access_token,
                   fresh.refresh_token, "forged-secret-token", "fake-app-secret"):
        assert secret not in said


def test_the_fake_channels_command_prints_a_token_per_shop(fake: FakeChannels) -> None:
    env = fake.env("taobao", "main")
    assert env[shop_variable("taobao", "main", "ACCESS_TOKEN")] == \
        fake.token_of("taobao", "main").access_token
    creds = credentials.load("taobao", "main", env)
    assert creds is not None and os.environ.get("CHANNEL_TAOBAO_SHOPS_FILE") is None
