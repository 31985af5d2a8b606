"""T+1 settlement statements for one shop: fetch the channel's statement of a day, parse
it (statements/<channel>.py) and import it into the service (SettlementService).

The channels generate a day's statement the next morning (WeChat Pay from 09:00, and
advises fetching after 10:00), and some files come late or are replaced. So, every
`interval_s`, once China time is past `at` (10:00), the fetcher asks for each of the
last `days` days; a day not generated yet is asked again at the next round. Asking
again is harmless: the service keeps a file by its digest, so a repeat changes nothing
and a replaced file supersedes the earlier one.

A file the parser refuses (StatementError naming the line) is logged and not imported;
so is one the service refuses (INVALID_ARGUMENT naming the line); the next round tries
again, in case the channel replaced it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

import grpc

from reservation.clients.channels import statements
from reservation.clients.channels.base import CST, ChannelError
from reservation.clients.channels.http import ChannelApi
from reservation.clients.channels.statements.common import StatementError, StatementLine
from reservation.v1 import settlement_service_pb2 as pb
from reservation.v1 import settlement_service_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

NOT_READY = "NOT_READY"
DEFAULT_AT = "10:00"
DEFAULT_DAYS = 3
DEFAULT_INTERVAL_S = 3600.0
DOWNLOAD = "/settlement/statement"
_KINDS = {"SALE": pb.SETTLEMENT_LINE_KIND_SALE, "REFUND": pb.SETTLEMENT_LINE_KIND_REFUND,
          "FEE": pb.SETTLEMENT_LINE_KIND_FEE, "ADJUSTMENT": pb.SETTLEMENT_LINE_KIND_ADJUSTMENT}


@dataclass(frozen=True)
class Fetched:
    day: str
    outcome: str
    """NOT_READY (the channel has no file yet), else the service's NEW, SAME or
    SUPERSEDED."""
    lines: int = 0


def to_proto(line: StatementLine) -> pb.SettlementLine:
    return pb.SettlementLine(
        line_no=line.line_no, kind=_KINDS[line.kind], channel_order_id=line.channel_order_id,
        hub_ref=line.hub_ref, tracking_number=line.tracking_number,
        goods_cents=line.goods_cents, discount_cents=line.discount_cents,
        fee_cents=line.fee_cents, subsidy_cents=line.subsidy_cents,
        refund_cents=line.refund_cents, payout_cents=line.payout_cents)


def takings_file(shop: str, day: str) -> str:
    """The POS's daily takings file of a store and day, in the POS folder."""
    return f"takings_{shop}_{day.replace('-', '')}.csv"


def due_days(now_s: float, at: str = DEFAULT_AT, days: int = DEFAULT_DAYS) -> list[str]:
    """The settlement days to ask for at `now_s` (epoch s): yesterday and the days
    before it, China time, once today's `at` has passed; none before."""
    now = datetime.fromtimestamp(now_s, CST)
    if now.time() < time.fromisoformat(at):
        return []
    return [(now.date() - timedelta(days=n)).isoformat() for n in range(1, days + 1)]


class StatementFetcher:
    def __init__(self, api: ChannelApi, shop: str, channel: grpc.Channel,
                 metadata: Sequence[tuple[str, str]] = ()) -> None:
        self.api, self.shop, self.metadata = api, shop, tuple(metadata)
        self.stub = pb_grpc.SettlementServiceStub(channel)

    def fetch(self, day: str) -> Fetched:
        """One day's statement, fetched, parsed and imported (or NOT_READY)."""
        content = self._content(day)
        if content is None:
            return Fetched(day, NOT_READY)
        lines = statements.parse(self.api.channel, content)
        answer = self.stub.ImportStatement(pb.ImportStatementRequest(
            channel=self.api.channel, shop=self.shop, settle_day=day,
            name=f"{self.api.channel}_{self.shop}_{day}.csv",
            sha256=hashlib.sha256(content).hexdigest(), lines=[to_proto(x) for x in lines]),
            metadata=self.metadata, timeout=60)
        return Fetched(day, answer.outcome, answer.lines)

    def _content(self, day: str) -> bytes | None:
        url = urllib.parse.urlsplit(self.api.base_url)
        if url.scheme == "file":  # the store POS: a daily takings file in its folder
            path = Path(urllib.request.url2pathname(url.path)) / takings_file(self.shop, day)
            return path.read_bytes() if path.exists() else None
        return self.api.download(DOWNLOAD, {"channel": self.api.channel, "shop": self.shop,
                                            "day": day, "app_key": self.api.app_key})

    def round(self, days: Sequence[str]) -> list[Fetched]:
        """Each day once; a failure is logged and that day is asked again next round."""
        done = []
        for day in days:
            try:
                done.append(self.fetch(day))
            except (ChannelError, StatementError) as exc:
                log.warning("%s %s statement of %s: %s", self.api.channel, self.shop, day, exc)
            except grpc.RpcError as exc:
                log.warning("%s %s statement of %s refused: %s %s", self.api.channel,
                            self.shop, day, exc.code().name, exc.details())
        return done

    def run(self, stop: threading.Event, clock: Callable[[], float],
            at: str = DEFAULT_AT, days: int = DEFAULT_DAYS,
            interval_s: float = DEFAULT_INTERVAL_S) -> None:
        while not stop.is_set():
            for fetched in self.round(due_days(clock(), at, days)):
                if fetched.outcome != "SAME":
                    log.info("%s %s statement of %s: %s (%d lines)", self.api.channel,
                             self.shop, fetched.day, fetched.outcome, fetched.lines)
            stop.wait(interval_s)
