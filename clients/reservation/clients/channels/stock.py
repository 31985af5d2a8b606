"""What a channel's stock push takes, shared by the channels' modules and the stock-sync
worker (reservation.clients.stocksync).

A shop's listings are items (Taobao's num_iid, Pinduoduo's goods_id, Douyin's
product_id, WeChat's product_id, JD's ware) holding SKUs (the channel's sku_id); the
seller's SKU code maps to one (item, sku_id) per shop. That mapping is data: a CSV table
per shop (`sku,item_id,sku_id`), loaded by `load_mapping`.

A push gives the channel, per item, the quantity each changed SKU may show; the item's
other SKUs ride along unchanged so the channel module can decide the item-level call
(delisting when no SKU of the item may sell, listing again when one may).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from reservation.clients.channels.base import ChannelError


@dataclass(frozen=True)
class ListingRow:
    """One row of a shop's mapping table."""

    sku: str
    item_id: str
    sku_id: str


@dataclass(frozen=True)
class Target:
    row: ListingRow
    quantity: int
    listed: bool
    """False: the service closed this SKU's listing (its breaker is open)."""
    changed: bool = True
    """False: the SKU's current state, sent so the item-level decision sees every SKU."""


@dataclass(frozen=True)
class ItemPush:
    item_id: str
    targets: tuple[Target, ...]
    was_online: bool | None
    """Whether the item was on sale after the last accepted push (None: not known)."""

    @property
    def online(self) -> bool:
        """An item is on sale while one of its SKUs may sell a unit."""
        return any(t.listed and t.quantity > 0 for t in self.targets)

    @property
    def changed(self) -> list[Target]:
        return [t for t in self.targets if t.changed]

    @property
    def goes_offline(self) -> bool:
        return not self.online and self.was_online is not False

    @property
    def goes_online(self) -> bool:
        return self.online and self.was_online is not True


Outcome = dict[str, str | None]
"""sku -> None (the channel accepted it) or the channel's reason for refusing."""


def refused(item: ItemPush, exc: ChannelError) -> Outcome:
    """Every changed SKU of the item refused with the channel's error (not retryable)."""
    return {t.row.sku: f"{exc.code}: {exc}"[:200] for t in item.changed}


def accepted(item: ItemPush) -> Outcome:
    return {t.row.sku: None for t in item.changed}


def chunks(targets: list[Target], size: int) -> Iterable[list[Target]]:
    for i in range(0, len(targets), size):
        yield targets[i:i + size]


class MappingFileError(ValueError):
    """A mapping table that cannot be used: the message names the file and line."""


def load_mapping(path: str | Path) -> dict[str, ListingRow]:
    """sku -> its row, from a CSV with a header `sku,item_id,sku_id`."""
    rows: dict[str, ListingRow] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"sku", "item_id", "sku_id"} - set(reader.fieldnames or ())
        if missing:
            raise MappingFileError(f"{path}: no column {', '.join(sorted(missing))} "
                                   "(the header is sku,item_id,sku_id)")
        for line, raw in enumerate(reader, start=2):
            row = ListingRow(*(str(raw.get(k) or "").strip()
                               for k in ("sku", "item_id", "sku_id")))
            if not all((row.sku, row.item_id, row.sku_id)):
                raise MappingFileError(f"{path}:{line}: sku, item_id and sku_id are needed")
            if row.sku in rows:
                raise MappingFileError(f"{path}:{line}: {row.sku} is mapped twice")
            rows[row.sku] = row
    return rows


def items_of(mapping: Mapping[str, ListingRow]) -> dict[str, list[ListingRow]]:
    """item_id -> its rows, as mapped."""
    out: dict[str, list[ListingRow]] = {}
    for row in mapping.values():
        out.setdefault(row.item_id, []).append(row)
    return out
