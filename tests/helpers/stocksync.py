"""The stock-sync tests' worker in this process, its channels and mapping rows."""

from __future__ import annotations

import grpc

from reservation.clients.channels.stock import ListingRow
from reservation.clients.stocksync.worker import StockSync
from reservation.clients.wms.puller import Puller

CHANNELS = ("taobao", "jd", "pdd", "douyin", "wechat")


SHOP = "main"


def rows_of(items: dict[str, list[str]]) -> dict[str, ListingRow]:
    """{item_id: [sku, ...]} -> the mapping table (sku_id = 'S-' + sku)."""
    return {sku: ListingRow(sku, item, f"S-{sku}") for item, skus in items.items()
            for sku in skus}


class Worker:
    """A stock-sync worker in this process: `sync()` pulls and pushes until idle."""

    def __init__(self, sync: StockSync, puller: Puller, channel: grpc.Channel) -> None:
        self.sync, self.puller, self.channel = sync, puller, channel

    def sync_all(self) -> None:
        while True:
            pulled = self.puller.step()
            while self.sync.step():
                pass
            if not pulled:
                return
