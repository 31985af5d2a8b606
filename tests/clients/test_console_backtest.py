"""The console's backtest page, served by uvicorn on loopback in front of the real
server: a stored rule set version against an uploaded history (multipart CSV) and a
pasted rule set against the hub's recorded orders; what cannot be run says why."""

from __future__ import annotations

import asyncio
import datetime
import http.client
import uuid

from reservation.server.app import App
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc as ogrpc
from reservation.v1 import routing_service_pb2 as rpb
from tests.helpers.console import console_for
from tests.helpers.orders import channel_order
from tests.helpers.reservations import load
from tests.helpers.routing import RoutingStubs, struct

HZ_RULES = {"rules": [{"name": "milk via Hangzhou", "when": {"category": ["奶粉"]},
                       "then": {"prefer": ["WH-HZ"]}}]}
HISTORY = ("订单号,省,市,商品编码,数量,类目,发货仓\n"
           "H1,上海,上海,MILK-1,1,奶粉,WH-HZ\nH2,上海,上海,MILK-1,1,奶粉,WH-EAST-A\n")
COOKIE = "op_name=alice; op_token=x"


def post(port: int, fields: dict[str, str], files: dict[str, tuple[str, bytes]]
         ) -> tuple[int, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
             .encode() for k, v in fields.items()]
    parts += [(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; '
               f'filename="{name}"\r\nContent-Type: text/csv\r\n\r\n').encode() + data + b"\r\n"
              for k, (name, data) in files.items()]
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/backtest", body=body, headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", "Cookie": COOKIE})
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


async def test_backtest_page_runs_a_history_file_and_a_period(app: App, stubs) -> None:
    rs = RoutingStubs(stubs.channel)
    for wid, city in (("WH-HZ", "杭州"), ("WH-EAST-A", "苏州")):
        await rs.routing_admin.PutWarehouse(rpb.PutWarehouseRequest(
            warehouse=rpb.Warehouse(warehouse_id=wid, name=wid, city=city)))
    await load(rs, ("MILK-1", "WH-HZ", 100), ("MILK-1", "WH-EAST-A", 100))
    version = (await rs.routing_admin.PutRoutingRules(rpb.PutRoutingRulesRequest(
        document=struct(HZ_RULES), comment="via Hangzhou"))).rules.version
    now = int(datetime.datetime.now(datetime.UTC).timestamp()) - 60
    await ogrpc.OrderServiceStub(stubs.channel).SyncOrders(opb.SyncOrdersRequest(orders=[
        channel_order("P1", "PAID", opb.OrderItem(sku="MILK-1", quantity=1, price=1999,
                                                  category="奶粉"),
                      province="浙江", city="杭州", created_s=now, modified_s=now)]))
    today = datetime.datetime.now(datetime.UTC).date().isoformat()

    async with console_for(app) as console:
        # The stored version against an uploaded history: 1 of 2 shipped via Hangzhou.
        status, body = await asyncio.to_thread(
            post, console.port, {"version": str(version), "rules": "", "sheet": ""},
            {"orders": ("history.csv", HISTORY.encode())})
        assert status == 200, body
        assert '<td id="vs-shipped">1 of 2 (50.0%)</td>' in body
        assert "WH-EAST-A → WH-HZ" in body

        # A pasted rule set against today's recorded orders: P1 was decided by it.
        status, body = await asyncio.to_thread(
            post, console.port, {"version": str(version), "from": today, "to": today,
                                 "rules": "rules:\n  - name: milk via Hangzhou\n"
                                          "    when: {category: [奶粉]}\n"
                                          "    then: {prefer: [WH-HZ]}\n"}, {})
        assert status == 200, body
        assert '<td id="vs-recorded">1 of 1 (100.0%)</td>' in body

        # What cannot be run is said on the page, with the form kept.
        status, body = await asyncio.to_thread(
            post, console.port, {"version": str(version), "from": "yesterday", "to": today,
                                 "rules": ""}, {})
        assert status == 400 and "from: &#39;yesterday&#39; is not a date" in body
        status, body = await asyncio.to_thread(
            post, console.port, {"rules": "rules: [{name: x, when: {city: [Atlantis]}, "
                                          "then: {prefer: [WH-HZ]}}]", "from": today,
                                 "to": today}, {})
        assert status == 400 and "INVALID_ARGUMENT" in body and "Atlantis" in body
