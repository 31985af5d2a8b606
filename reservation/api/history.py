"""Historical orders from a file, for BacktestRouting: CSV or XLSX as an older system
exports them, one row per order line, the lines of an order sharing its id.

Columns are found by header, in English or Chinese (订单号, 省, 市, 商品编码, 数量, 发货仓...):
order id, SKU and quantity are required; a destination (province/city/district or a
full address) too; the shipping warehouse and the decided warehouse are what a backtest
compares with. CSV is read as UTF-8 (with or without BOM), else GB18030 (what Excel
in Chinese saves). A bad row is refused with its row number and column, never skipped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from reservation.v1 import routing_service_pb2 as pb

COLUMNS: dict[str, tuple[str, ...]] = {
    "order_id": ("order_id", "order", "订单号", "订单编号", "单号"),
    "channel": ("channel", "platform", "渠道", "平台", "店铺平台"),
    "province": ("province", "省", "省份"),
    "city": ("city", "市", "城市"),
    "district": ("district", "区", "区县"),
    "address": ("address", "地址", "收货地址", "详细地址"),
    "sku": ("sku", "商品编码", "货品编码", "商家编码"),
    "quantity": ("quantity", "qty", "数量"),
    "category": ("category", "类目", "品类"),
    "brand": ("brand", "品牌"),
    "amount": ("amount", "total", "金额", "订单金额", "实付金额"),
    "payment": ("payment", "payment_method", "支付方式"),
    "shipped_warehouse": ("shipped_warehouse", "shipped_from", "warehouse", "发货仓",
                          "发货仓库", "仓库"),
    "decided_warehouse": ("decided_warehouse", "routed_warehouse", "分仓结果", "路由仓"),
}
REQUIRED = ("order_id", "sku", "quantity")
MAX_ROWS = 1_000_000
BATCH = 5000
"""Historical orders per BacktestRouting stream message (well under gRPC's 4 MB)."""


class HistoryError(ValueError):
    """A file that cannot be read as a history: says where (row, column) and why."""


@dataclass(frozen=True)
class History:
    orders: list[pb.HistoricalOrder]
    rows: int


def requests(first: pb.BacktestRoutingRequest, orders: Sequence[pb.HistoricalOrder]
             ) -> list[pb.BacktestRoutingRequest]:
    """The stream that uploads `orders`: `first` (the candidate) carries the first BATCH,
    each later message the next BATCH."""
    first.orders.extend(orders[:BATCH])
    return [first] + [pb.BacktestRoutingRequest(orders=orders[k:k + BATCH])
                      for k in range(BATCH, len(orders), BATCH)]


def read(path: str | Path, sheet: str = "") -> History:
    """The orders of a CSV or XLSX file (by its suffix)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise HistoryError(f"cannot read {p}: {exc.strerror or exc}") from None
    return read_bytes(data, p.name, sheet)


def read_bytes(data: bytes, filename: str, sheet: str = "") -> History:
    """The orders of an uploaded file's bytes; XLSX when the name says so, else CSV."""
    if filename.lower().endswith((".xlsx", ".xlsm")):
        return parse(_xlsx_rows(data, filename, sheet))
    return parse(_csv_rows(data))


def _csv_rows(data: bytes) -> Iterator[Sequence[object]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise HistoryError("the CSV file is neither UTF-8 nor GB18030 text") from None
    return iter(csv.reader(io.StringIO(text)))


def _xlsx_rows(data: bytes, filename: str, sheet: str) -> Iterator[Sequence[object]]:
    # openpyxl: the maintained reader of Excel's XML format; read-only mode streams rows
    # instead of building the whole workbook (a month of orders is a large sheet).
    import zipfile

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise HistoryError(f"{filename} is not an XLSX workbook: {exc}") from None
    if sheet and sheet not in book.sheetnames:
        raise HistoryError(f"no sheet {sheet!r} (sheets: {', '.join(book.sheetnames)})")
    ws = book[sheet] if sheet else book.worksheets[0]
    return ws.iter_rows(values_only=True)


def _header(cells: Sequence[object]) -> dict[str, int]:
    aliases = {a.lower(): name for name, names in COLUMNS.items() for a in names}
    found: dict[str, int] = {}
    for i, cell in enumerate(cells):
        name = aliases.get(str(cell or "").strip().lower())
        if name and name not in found:
            found[name] = i
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        raise HistoryError(f"row 1: no column for {', '.join(missing)} (headers: "
                           f"{', '.join(str(c) for c in cells if c)})")
    if not {"province", "city", "address"} & found.keys():
        raise HistoryError("row 1: no destination column (province, city or address)")
    return found


def parse(rows: Iterator[Sequence[object]]) -> History:
    header = next(rows, None)
    if header is None:
        raise HistoryError("the file is empty")
    cols = _header(header)
    orders: dict[str, pb.HistoricalOrder] = {}
    n = 0
    for n, cells in enumerate(rows, start=2):
        if n > MAX_ROWS + 1:
            raise HistoryError(f"more than {MAX_ROWS} rows")
        if not any(str(c or "").strip() for c in cells):
            continue  # a blank line (Excel leaves them at the end)
        _add(orders, n, cells, cols)
    return History(list(orders.values()), max(0, n - 1))


def _cell(cells: Sequence[object], cols: dict[str, int], name: str) -> str:
    i = cols.get(name)
    if i is None or i >= len(cells) or cells[i] is None:
        return ""
    value = cells[i]
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel keeps every number as a float
    return str(value).strip()


def _add(orders: dict[str, pb.HistoricalOrder], n: int, cells: Sequence[object],
         cols: dict[str, int]) -> None:
    def get(name: str) -> str:
        return _cell(cells, cols, name)

    order_id = get("order_id")
    if not order_id:
        raise HistoryError(f"row {n}, order_id: empty")
    qty = get("quantity")
    if not qty.isdigit() or int(qty) <= 0:
        raise HistoryError(f"row {n}, quantity: {qty!r} is not a positive whole number")
    o = orders.get(order_id)
    if o is None:
        o = orders[order_id] = pb.HistoricalOrder(
            order_id=order_id, channel=get("channel").lower(),
            destination=pb.Destination(province=get("province"), city=get("city"),
                                       district=get("district"), address=get("address")),
            payment_method=get("payment"), shipped_warehouse_id=get("shipped_warehouse"))
        decided = get("decided_warehouse")
        if decided:
            o.decided_warehouses.extend(w.strip() for w in decided.split("+") if w.strip())
    o.lines.append(pb.RouteLine(sku=get("sku"), quantity=int(qty), category=get("category"),
                                brand=get("brand")))
    amount = get("amount")
    if amount:
        o.amount_cents += _cents(amount, n)


def _cents(text: str, n: int) -> int:
    """Exact cents from a decimal amount ("12.5", "¥1,299.00"); never via a float."""
    cleaned = text.replace(",", "").replace("¥", "").replace("￥", "").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise HistoryError(f"row {n}, amount: {text!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise HistoryError(f"row {n}, amount: {text!r} must be a sum of money >= 0")
    return int((value * 100).to_integral_value())
