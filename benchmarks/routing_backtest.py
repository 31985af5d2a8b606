"""Routing backtest, measured: `python -m benchmarks.routing_backtest`.

A `reservation serve` process on its own Redis (AOF everysec) with 8 warehouses and a
rule set; --orders orders synced through SyncOrders (500 a call, 1-3 lines of 300 SKUs
to 40 cities, created over the last 20 days), a fifth of them shipped (ReportShipment,
the warehouse filled in by the hub). Then a candidate rule set is backtested, --runs
times each:
- recorded: BacktestRouting over the period, the hub reading its own orders;
- uploaded: the same orders sent as HistoricalOrder messages in the call's stream
  (5,000 a message, as the CLI sends a file), built before the clock starts.
Measured per run: wall time of the call at the client, server-side CPU (service process
tree + Redis, from /proc), and what the reply says (orders, distinct decisions, match
rates). Medians of the runs; the load average at start and end.

Writes routing_backtest.{md,json} into --out (benchmarks/results); run it alone on the box.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import struct_pb2

from benchmarks import cpu, paths
from benchmarks.serve import Served, served
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import admin_service_pb2_grpc as agrpc
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc as ogrpc
from reservation.v1 import routing_service_pb2 as rpb
from reservation.v1 import routing_service_pb2_grpc as rgrpc
from reservation.v1 import types_pb2 as pb

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WAREHOUSES = [("WH-SH", "上海"), ("WH-HZ", "杭州"), ("WH-BJ", "北京"), ("WH-GZ", "广州"),
              ("WH-CD", "成都"), ("WH-WH", "武汉"), ("WH-XA", "西安"), ("WH-SY", "沈阳")]
CITIES = [("上海", "上海"), ("浙江", "杭州"), ("浙江", "宁波"), ("江苏", "南京"), ("江苏", "苏州"),
          ("北京", "北京"), ("天津", "天津"), ("河北", "石家庄"), ("山东", "济南"), ("山东", "青岛"),
          ("广东", "广州"), ("广东", "深圳"), ("广东", "东莞"), ("福建", "厦门"), ("福建", "福州"),
          ("四川", "成都"), ("重庆", "重庆"), ("湖北", "武汉"), ("湖南", "长沙"), ("河南", "郑州"),
          ("陕西", "西安"), ("辽宁", "沈阳"), ("辽宁", "大连"), ("吉林", "长春"), ("黑龙江", "哈尔滨"),
          ("安徽", "合肥"), ("江西", "南昌"), ("广西", "南宁"), ("云南", "昆明"), ("贵州", "贵阳"),
          ("山西", "太原"), ("内蒙古", "呼和浩特"), ("甘肃", "兰州"), ("新疆", "乌鲁木齐"),
          ("海南", "海口"), ("宁夏", "银川"), ("青海", "西宁"), ("西藏", "拉萨"), ("浙江", "温州"),
          ("江苏", "无锡")]
# Channels send the receiver's district with the address (东莞 has none: towns).
DISTRICTS = {"上海": "浦东新区", "杭州": "西湖区", "宁波": "海曙区", "南京": "鼓楼区",
             "苏州": "姑苏区", "北京": "朝阳区", "天津": "和平区", "石家庄": "长安区",
             "济南": "历下区", "青岛": "市南区", "广州": "天河区", "深圳": "南山区",
             "厦门": "思明区", "福州": "鼓楼区", "成都": "武侯区", "重庆": "渝中区",
             "武汉": "洪山区", "长沙": "岳麓区", "郑州": "金水区", "西安": "雁塔区",
             "沈阳": "和平区", "大连": "中山区", "长春": "朝阳区", "哈尔滨": "南岗区",
             "合肥": "蜀山区", "南昌": "东湖区", "南宁": "青秀区", "昆明": "五华区",
             "贵阳": "云岩区", "太原": "小店区", "呼和浩特": "新城区", "兰州": "城关区",
             "乌鲁木齐": "天山区", "海口": "龙华区", "银川": "兴庆区", "西宁": "城中区",
             "拉萨": "城关区", "温州": "鹿城区", "无锡": "梁溪区"}
CATEGORIES = ("奶粉", "纸尿裤", "冷链", "日用", "数码")
SKUS = 300
RULES = {"rules": [
    {"name": "milk East", "when": {"category": ["奶粉"], "region": ["华东"]},
     "then": {"prefer": ["WH-SH"]}},
    {"name": "digital North", "when": {"category": ["数码"], "region": ["华北"]},
     "then": {"prefer": ["WH-BJ"]}},
]}
CANDIDATE = {"rules": [
    {"name": "milk via Hangzhou", "when": {"category": ["奶粉"], "region": ["华东"]},
     "then": {"prefer": ["WH-HZ"]}},
    {"name": "digital North", "when": {"category": ["数码"], "region": ["华北"]},
     "then": {"prefer": ["WH-BJ"]}},
    {"name": "big orders South", "when": {"amount_above": 300, "region": ["华南"]},
     "then": {"prefer": ["WH-GZ"]}},
]}


def struct(doc: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(doc)
    return s


def sku_category(i: int) -> tuple[str, str]:
    return f"SKU-{i:04d}", CATEGORIES[i % len(CATEGORIES)]


def make_orders(n: int, seed: int, now_s: int) -> list[opb.ChannelOrder]:
    rnd = random.Random(seed)
    out = []
    for k in range(n):
        province, city = rnd.choice(CITIES)
        lines = []
        for i in rnd.sample(range(SKUS), rnd.choice((1, 1, 1, 2, 3))):
            sku, category = sku_category(i)
            lines.append(opb.OrderItem(sku=sku, quantity=rnd.choice((1, 1, 2)),
                                       price=rnd.choice((1999, 4999, 12900, 39900)),
                                       category=category))
        created = now_s - rnd.randrange(20 * 86400) - 60
        o = opb.ChannelOrder(channel="jd", shop="bench", order_id=f"B{k:07d}", state="PAID",
                             raw_status="paid", receiver_phone=f"138{k:08d}",
                             address=opb.Address(province=province, city=city,
                                                 district=DISTRICTS.get(city, ""),
                                                 detail=f"{k} Road"),
                             lines=lines)
        o.total = o.paid = sum(ln.price * ln.quantity for ln in lines)
        o.created_at.FromSeconds(created)
        o.modified_at.FromSeconds(created)
        o.paid_at.FromSeconds(created)
        out.append(o)
    return out


def historical(orders: list[opb.ChannelOrder], shipped: dict[str, str]
               ) -> list[rpb.HistoricalOrder]:
    return [rpb.HistoricalOrder(
        order_id=o.order_id, channel=o.channel,
        destination=rpb.Destination(province=o.address.province, city=o.address.city,
                                    district=o.address.district),
        lines=[rpb.RouteLine(sku=ln.sku, quantity=ln.quantity, category=ln.category)
               for ln in o.lines],
        amount_cents=o.total, shipped_warehouse_id=shipped.get(o.order_id, ""))
        for o in orders]


def setup(channel: grpc.Channel, orders: list[opb.ChannelOrder], ship_share: float,
          seed: int) -> dict[str, str]:
    """Warehouses, rules, stock; the orders synced; a share shipped. Returns the
    shipping warehouse per shipped order id."""
    admin = rgrpc.RoutingAdminServiceStub(channel)
    for wid, city in WAREHOUSES:
        admin.PutWarehouse(rpb.PutWarehouseRequest(warehouse=rpb.Warehouse(
            warehouse_id=wid, name=wid, city=city, cost_per_order=4.0 + len(city))))
    admin.PutRoutingRules(rpb.PutRoutingRulesRequest(document=struct(RULES), comment="bench"))
    stock = agrpc.AdminServiceStub(channel)
    items = [pb.StockItem(sku=sku_category(i)[0], warehouse_id=w, quantity=1_000_000)
             for i in range(SKUS) for w, _ in WAREHOUSES]
    for k in range(0, len(items), 500):
        stock.LoadStock(apb.LoadStockRequest(items=items[k:k + 500], mode=apb.LOAD_MODE_SET),
                        timeout=60)
    hub = ogrpc.OrderServiceStub(channel)
    for k in range(0, len(orders), 500):
        hub.SyncOrders(opb.SyncOrdersRequest(orders=orders[k:k + 500]), timeout=120)
    rnd = random.Random(seed + 1)
    shipped: dict[str, str] = {}
    for o in rnd.sample(orders, int(len(orders) * ship_share)):
        reply = hub.ReportShipment(opb.ReportShipmentRequest(
            key=opb.OrderKey(channel=o.channel, shop=o.shop, order_id=o.order_id),
            shipment=opb.Shipment(carrier="SF", tracking_number=f"SF{o.order_id}"),
            actor="wms:bench"), timeout=30)
        if reply.order.shipments and reply.order.shipments[-1].warehouse_id:
            shipped[o.order_id] = reply.order.shipments[-1].warehouse_id
    return shipped


def measure(s: Served, channel: grpc.Channel, requests: list[rpb.BacktestRoutingRequest]
            ) -> dict[str, Any]:
    def stream() -> Iterator[rpb.BacktestRoutingRequest]:
        yield from requests

    stub = rgrpc.RoutingAdminServiceStub(channel)
    meter = cpu.Meter([s.pid], s.redis_pid)
    meter.start()
    t0 = time.perf_counter()
    r = stub.BacktestRouting(stream(), timeout=600)
    wall = time.perf_counter() - t0
    meter.stop()
    return {"wall_s": round(wall, 3), "service_cpu_s": round(meter.service_s, 3),
            "redis_cpu_s": round(meter.redis_s, 3), "orders": r.orders,
            "distinct": r.distinct_orders, "vs_recorded": round(r.vs_recorded.match_rate, 4)
            if r.vs_recorded.orders else None,
            "vs_shipped": round(r.vs_shipped.match_rate, 4) if r.vs_shipped.orders else None}


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    now = int(time.time())
    orders = make_orders(args.orders, args.seed, now)
    env = {"default_hold_ttl_ms": "3600000", "order_event_groups": "audit",
           "max_batch": "1000"}
    with served(tmp, **env) as s, grpc.insecure_channel(
            s.target, options=[("grpc.max_send_message_length", 64 << 20),
                               ("grpc.max_receive_message_length", 64 << 20)]) as channel:
        t0 = time.perf_counter()
        shipped = setup(channel, orders, args.ship_share, args.seed)
        setup_s = time.perf_counter() - t0
        period = rpb.BacktestRoutingRequest(document=struct(CANDIDATE))
        period.recorded_from.FromSeconds(now - 21 * 86400)
        period.recorded_to.FromSeconds(now + 1)
        rows = historical(orders, shipped)
        first = rpb.BacktestRoutingRequest(document=struct(CANDIDATE), orders=rows[:5000])
        uploaded = [first] + [rpb.BacktestRoutingRequest(orders=rows[k:k + 5000])
                              for k in range(5000, len(rows), 5000)]
        runs: dict[str, list[dict[str, Any]]] = {"recorded": [], "uploaded": []}
        for _ in range(args.runs):
            runs["recorded"].append(measure(s, channel, [period]))
            runs["uploaded"].append(measure(s, channel, uploaded))
    return {"setup_s": round(setup_s, 1), "shipped": len(shipped), "runs": runs,
            "median": {k: {f: statistics.median(r[f] for r in v)
                           for f in ("wall_s", "service_cpu_s", "redis_cpu_s")}
                       for k, v in runs.items()}}


def write(result: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "routing_backtest.json").write_text(json.dumps(result, indent=2,
                                                          ensure_ascii=False) + "\n")
    m = result["meta"]
    first = result["runs"]["recorded"][0]
    lines = [(f"# Routing backtest ({m['when']}, {m['machine']}, load average "
             f"{m['load_start']} at the start, {m['load_end']} at the end)"), "",
             f"`{m['command']}` at commit {m['commit']}", "",
             (f"{first['orders']:,} orders ({first['distinct']:,} distinct decisions), "
             f"{result['shipped']:,} shipped; setup (sync and ship) {result['setup_s']} s. "
             f"Medians of {len(result['runs']['recorded'])} runs:"), "",
             "| sample | wall s | service CPU s | Redis CPU s | vs recorded | vs shipped |",
             "|---|---|---|---|---|---|"]
    for kind, med in result["median"].items():
        r = result["runs"][kind][0]
        lines.append(f"| {kind} | {med['wall_s']:.2f} | {med['service_cpu_s']:.2f} | "
                     f"{med['redis_cpu_s']:.2f} | {_pct(r['vs_recorded'])} | "
                     f"{_pct(r['vs_shipped'])} |")
    lines += ["", "Every run: " + "; ".join(
        f"{k} " + ", ".join(f"{r['wall_s']:.2f} s" for r in v)
        for k, v in result["runs"].items())]
    (out / "routing_backtest.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.routing_backtest",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=100_000)
    p.add_argument("--ship-share", type=float, default=0.2)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", default=str(RESULTS), help="folder of the results files")
    args = p.parse_args(argv)
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-backtest-") as tmp:
        result = run(args, Path(tmp))
    argv = argv if argv is not None else sys.argv[1:]
    result["meta"] = paths.run_meta("benchmarks.routing_backtest", argv, load_start)
    write(result, Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
