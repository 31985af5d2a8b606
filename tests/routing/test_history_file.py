"""History files for BacktestRouting (reservation/api/history.py): CSV and XLSX as older
systems export them, English or Chinese headers; a bad row is refused with where."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from reservation.api import history

CSV_EN = """order_id,province,city,sku,quantity,category,amount,shipped_warehouse
T1,浙江,杭州,MILK-1,2,奶粉,39.98,WH-HZ
T1,浙江,杭州,DIAPER-1,1,,"1,299.00",WH-HZ
T2,北京,北京,MILK-1,1,奶粉,19.99,WH-BJ
"""

CSV_ZH = "订单号,省,市,商品编码,数量,发货仓,分仓结果\nZ1,上海,上海,MILK-1,3,WH-EAST,WH-EAST-A\n"


def test_lines_of_an_order_are_grouped_with_exact_cents(tmp_path: Path) -> None:
    f = tmp_path / "h.csv"
    f.write_text(CSV_EN, encoding="utf-8-sig")  # with a BOM, as Excel saves UTF-8
    found = history.read(f)
    assert found.rows == 3 and [o.order_id for o in found.orders] == ["T1", "T2"]
    t1 = found.orders[0]
    assert [(ln.sku, ln.quantity) for ln in t1.lines] == [("MILK-1", 2), ("DIAPER-1", 1)]
    assert t1.amount_cents == 3998 + 129900
    assert (t1.destination.city, t1.shipped_warehouse_id) == ("杭州", "WH-HZ")


def test_chinese_headers_in_gb18030(tmp_path: Path) -> None:
    f = tmp_path / "h.csv"
    f.write_bytes(CSV_ZH.encode("gb18030"))
    [z1] = history.read(f).orders
    assert (z1.order_id, z1.shipped_warehouse_id) == ("Z1", "WH-EAST")
    assert list(z1.decided_warehouses) == ["WH-EAST-A"]
    assert (z1.lines[0].sku, z1.lines[0].quantity) == ("MILK-1", 3)


def test_xlsx_numbers_and_sheets(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "orders"
    ws.append(["订单号", "城市", "SKU", "数量", "金额", "发货仓"])
    ws.append(["X1", "杭州", "MILK-1", 2.0, 12.5, "WH-HZ"])  # Excel keeps numbers as floats
    ws.append([None, None, None, None, None, None])      # blank rows at the end
    f = tmp_path / "h.xlsx"
    book.save(f)
    [x1] = history.read(f, sheet="orders").orders
    assert (x1.lines[0].quantity, x1.amount_cents) == (2, 1250)
    with pytest.raises(history.HistoryError, match="no sheet 'nope'"):
        history.read(f, sheet="nope")


@pytest.mark.parametrize(("text", "where"), [
    ("order_id,city,sku\nA,杭州,S\n", "row 1: no column for quantity"),
    ("order_id,sku,quantity\nA,S,1\n", "no destination column"),
    ("order_id,city,sku,quantity\nA,杭州,S,0\n", "row 2, quantity"),
    ("order_id,city,sku,quantity\n,杭州,S,1\n", "row 2, order_id"),
    ("order_id,city,sku,quantity,amount\nA,杭州,S,1,abc\n", "row 2, amount"),
    ("order_id,city,sku,quantity,amount\nA,杭州,S,1,-1\n", "row 2, amount"),
    ("", "the file is empty"),
])
def test_bad_files_say_where(tmp_path: Path, text: str, where: str) -> None:
    f = tmp_path / "h.csv"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(history.HistoryError, match=where):
        history.read(f)


def test_not_text_and_not_a_workbook(tmp_path: Path) -> None:
    f = tmp_path / "h.csv"
    f.write_bytes(b"\xff\xfe\x00\x81\x30" * 10)
    with pytest.raises(history.HistoryError):
        history.read(f)
    g = tmp_path / "h.xlsx"
    g.write_text("not a zip")
    with pytest.raises(history.HistoryError, match="not an XLSX workbook"):
        history.read(g)
    with pytest.raises(history.HistoryError, match="cannot read"):
        history.read(tmp_path / "missing.csv")


def test_a_history_is_uploaded_in_messages_of_at_most_a_batch() -> None:
    from reservation.v1 import routing_service_pb2 as pb
    orders = [pb.HistoricalOrder(order_id=f"O{i}") for i in range(2 * history.BATCH + 1)]
    first = pb.BacktestRoutingRequest(recorded_from=None)
    first.document.update({"rules": []})
    stream = history.requests(first, orders)
    assert [len(r.orders) for r in stream] == [history.BATCH, history.BATCH, 1]
    assert stream[0].HasField("document") and not stream[1].HasField("document")
    assert [o.order_id for r in stream for o in r.orders] == [o.order_id for o in orders]
