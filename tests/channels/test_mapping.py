"""Every status value each channel lists maps to the state its table says; a value it
does not list is refused with the channel and the value named, never guessed."""

from __future__ import annotations

from typing import Any

import pytest

from reservation.clients.channels import adapter, adapters
from reservation.clients.channels.base import CHANNEL_STATES, MappingError, UnknownStatus
from tests.helpers.channels import CHANNELS, payloads


def _cases(kind: str) -> list[Any]:
    return [pytest.param(c, case, id=f"{c}-{case['field']}-{case['value']}")
            for c in CHANNELS for case in payloads(c)[kind]]


def test_every_channel_has_an_adapter() -> None:
    assert sorted(adapters()) == sorted(CHANNELS)


@pytest.mark.parametrize("channel", CHANNELS)
def test_tables_name_only_states_an_adapter_may_report(channel: str) -> None:
    a = adapter(channel)
    for table in (a.status_table, *a.extra_tables.values()):
        assert {s for s in table.values() if s is not None} <= CHANNEL_STATES


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_payloads_cover_every_listed_value(channel: str) -> None:
    a = adapter(channel)
    seen: dict[str, set[Any]] = {}
    for case in payloads(channel)["statuses"]:
        seen.setdefault(case["field"], set()).add(case["value"])
    main_field = next(f for f in seen if f not in a.extra_tables)
    assert set(a.status_table) <= seen[main_field]
    for name, table in a.extra_tables.items():
        assert set(table) <= seen.get(name, set()), name


@pytest.mark.parametrize("channel,case", _cases("statuses"))
def test_a_listed_value_maps_to_its_state(channel: str, case: dict[str, Any]) -> None:
    order = adapter(channel).to_order(case["raw"], "shop-1")
    assert order.state == case["state"]
    assert order.channel == channel
    assert str(case["value"]) in order.raw_status  # the raw value stays for the audit
    assert order.modified_at_ms > 0 and order.lines
    assert all(line.sku and line.quantity > 0 for line in order.lines)
    assert order.address.province and order.address.city and order.receiver_phone


@pytest.mark.parametrize("channel,case", _cases("refused"))
def test_an_unlisted_value_is_refused_by_name(channel: str, case: dict[str, Any]) -> None:
    with pytest.raises(MappingError) as caught:
        adapter(channel).to_order(case["raw"], "shop-1")
    message = str(caught.value)
    assert message.startswith(channel)
    if "error" in case:
        assert case["error"] in message
    else:
        assert isinstance(caught.value, UnknownStatus)
        assert caught.value.field == case["field"]
        assert repr(case["value"]) in message


def test_jd_locked_is_not_a_cancellation() -> None:
    case = next(c for c in payloads("jd")["statuses"] if c["value"] == "LOCKED")
    assert adapter("jd").to_order(case["raw"], "s").state == "REFUND_REQUESTED"


def test_amounts_are_exact_cents_and_times_china_time() -> None:
    raw = payloads("taobao")["statuses"][4]["raw"]  # WAIT_SELLER_SEND_GOODS
    order = adapter("taobao").to_order({**raw, "payment": "19.90", "total_fee": "0.1"}, "s")
    assert (order.paid_cents, order.total_cents) == (1990, 10)
    assert order.created_at_ms == 1794326400000  # 2026-11-11 00:00:00 +08:00
    with pytest.raises(MappingError, match="payment '19.999' is not an amount"):
        adapter("taobao").to_order({**raw, "payment": "19.999"}, "s")


def test_a_missing_id_or_modified_time_is_refused() -> None:
    raw = payloads("jd")["statuses"][0]["raw"]
    with pytest.raises(MappingError, match="missing orderId"):
        adapter("jd").to_order({**raw, "orderId": ""}, "s")
    with pytest.raises(MappingError, match="missing modified"):
        adapter("jd").to_order({k: v for k, v in raw.items() if k != "modified"}, "s")


@pytest.mark.parametrize("channel", CHANNELS)
def test_made_up_samples_map_back_to_their_state(channel: str) -> None:
    """The demo's orders (samples.build) are in shapes the adapters read as meant."""
    from reservation.clients.channels.samples import RAW_STATUS, Sample, build
    for state in RAW_STATUS[channel]:
        s = Sample("S-1", state, (("PHONE-X", 1, 399900), ("EARBUDS", 2, 19900)),
                   "13900000001", ("浙江省", "杭州市", "西湖区", "文三路 1 号"),
                   1794326400, 1794326460)
        raw = build(channel, s)
        if channel == "pos":
            raw = {**raw, "file_mtime_ms": 1794326460000}
        order = adapter(channel).to_order(raw, "shop")
        assert order.state == state
        assert [(ln.sku, ln.quantity, ln.price_cents) for ln in order.lines] == list(s.lines)
        assert order.total_cents == 399900 + 2 * 19900
        assert order.paid_cents == (order.total_cents if state == "PAID" else 0)
