"""Suspicion without disclosure: an adapter whose order is held as a suspected
cross-channel duplicate learns that, and the id of the review that decides it; only a
caller who may read the other order (an operator, a reader) is told which it is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from reservation.access.tokens import hash_token
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import interception_service_pb2 as ipb
from reservation.v1 import interception_service_pb2_grpc as igrpc
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc, types_pb2
from tests.helpers.orders import channel_order, key

TOKENS = {"jd": "tok-jd", "taobao": "tok-taobao", "ops": "tok-ops"}
TAOBAO_ORDER = "TB-778899"


def bearer(who: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {TOKENS[who]}"),)


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "principals.yaml"
    path.write_text(yaml.safe_dump({"principals": [
        {"name": "jd-adapter", "role": "adapter", "channels": ["jd"],
         "token_hash": hash_token(TOKENS["jd"])},
        {"name": "taobao-adapter", "role": "adapter", "channels": ["taobao"],
         "token_hash": hash_token(TOKENS["taobao"])},
        {"name": "ops", "role": "operator", "token_hash": hash_token(TOKENS["ops"])}]}))
    return {"auth_file": str(path), "auth_reload_interval_ms": 0,
            "write_back_batch_key": "test-key"}


@pytest.fixture
async def hub(stubs) -> order_service_pb2_grpc.OrderServiceStub:
    await stubs.admin.LoadStock(_load_request(), metadata=bearer("ops"))
    return order_service_pb2_grpc.OrderServiceStub(stubs.channel)


def _load_request() -> apb.LoadStockRequest:
    return apb.LoadStockRequest(mode=apb.LOAD_MODE_SET, items=[types_pb2.StockItem(
        sku="SKU-1", warehouse_id="WH-A",
                                                           quantity=10)])


async def sync_as(hub, who: str, o: opb.ChannelOrder) -> opb.SyncResult:
    reply = await hub.SyncOrders(opb.SyncOrdersRequest(orders=[o]), metadata=bearer(who),
                                 timeout=10)
    return reply.results[0]


async def test_an_adapter_learns_of_the_suspicion_not_of_the_other_order(hub, stubs):
    """Defect 9: the jd adapter was told suspected_duplicates=['taobao:tb-1/TB-...']."""
    await sync_as(hub, "taobao", channel_order(TAOBAO_ORDER, "PAID", ("SKU-1", 1),
                                               channel="taobao", shop="tb-1", created_s=1000))

    r = await sync_as(hub, "jd", channel_order("JD-1", "PAID", ("SKU-1", 1), channel="jd",
                                               created_s=1000 + 600))

    assert list(r.suspected_duplicates) == []
    assert (r.outcome, r.state) == (opb.SYNC_OUTCOME_ON_HOLD, "ON_HOLD")
    assert r.suspected_duplicate and r.review_id == "jd/shop-1/JD-1"
    order = (await hub.GetOrder(opb.GetOrderRequest(key=key("JD-1")), metadata=bearer("jd"),
                                timeout=10)).order
    events = (await hub.GetOrderHistory(opb.GetOrderHistoryRequest(key=key("JD-1")),
                                        metadata=bearer("jd"), timeout=10)).events
    seen_by_adapter = str(r) + str(order) + "".join(str(e) for e in events)
    assert TAOBAO_ORDER not in seen_by_adapter
    assert "DUPLICATE_SUSPECTED" in [e.type for e in events]

    reviews = await igrpc.InterceptionServiceStub(stubs.channel).ListReviews(
        ipb.ListReviewsRequest(status="open"), metadata=bearer("ops"), timeout=10)
    [review] = [v for v in reviews.reviews if v.key.order_id == "JD-1"]
    assert review.rule == "suspected duplicate" and TAOBAO_ORDER in review.reason
    operator_view = (await hub.GetOrderHistory(opb.GetOrderHistoryRequest(key=key("JD-1")),
                                               metadata=bearer("ops"), timeout=10)).events
    [suspected] = [e for e in operator_view if e.type == "DUPLICATE_SUSPECTED"]
    assert TAOBAO_ORDER in suspected.reason + json.dumps(suspected.changes_json)


async def test_an_operator_syncing_is_told_which_order(hub):
    await sync_as(hub, "ops", channel_order(TAOBAO_ORDER, "PAID", ("SKU-1", 1),
                                            channel="taobao", shop="tb-1", created_s=1000))

    r = await sync_as(hub, "ops", channel_order("JD-2", "PAID", ("SKU-1", 1), channel="jd",
                                                created_s=1000 + 600))

    assert list(r.suspected_duplicates) == [f"taobao:tb-1/{TAOBAO_ORDER}"]
    assert r.suspected_duplicate and r.review_id == "jd/shop-1/JD-2"


async def test_a_resolved_suspicion_releases_the_order(hub, stubs):
    await sync_as(hub, "taobao", channel_order(TAOBAO_ORDER, "PAID", ("SKU-1", 1),
                                               channel="taobao", shop="tb-1", created_s=1000))
    await sync_as(hub, "jd", channel_order("JD-3", "PAID", ("SKU-1", 1), channel="jd",
                                           created_s=1000 + 600))

    decided = await igrpc.InterceptionServiceStub(stubs.channel).ResolveReview(
        ipb.ResolveReviewRequest(key=key("JD-3"), decision="approve", operator="ann"),
        metadata=bearer("ops"), timeout=10)

    assert decided.order.state == "ROUTED"
