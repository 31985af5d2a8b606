"""Tracking numbers back to the channel: pull the adapter's feed from the hub, push each
shipment to the channel, acknowledge the batch only after the channel accepted them.

    PullOrderEvents {group: feed-<channel>}  ->  push each SHIPMENT_REPORTED  ->  AckOrderEvents

The order of steps is what makes it safe. A shipment is marked pushed in the adapter's
SQLite file right after the channel accepted it, and the batch is acknowledged after
every shipment in it was accepted (or refused for good and recorded). Killed before the
ack, the adapter gets the batch again and skips what it marked. Killed in the instant
between the channel's acceptance and the mark, it pushes once more, and the channel's
"already shipped" answer for the same number is taken as accepted: the channel holds
each tracking number once. Other feed events (the hub's own holds) need nothing pushed.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from typing import Any

import grpc

from reservation.clients.channels.base import Adapter, ChannelError, Push
from reservation.clients.channels.http import ChannelApi
from reservation.clients.channels.poller import Backoff
from reservation.clients.channels.store import AdapterStore
from reservation.clients.pulling import PullLoop, long_poll
from reservation.v1 import order_service_pb2 as pb
from reservation.v1 import order_service_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

SHIPMENT = "SHIPMENT_REPORTED"

def feed_group(channel: str) -> str:
    return f"feed-{channel}"


def shipment_of(event: pb.OrderEvent) -> Push | None:
    """The Push a feed event asks for, or None when it asks for none."""
    if event.type != SHIPMENT or not event.changes_json:
        return None
    after: Any = json.loads(event.changes_json).get("shipments", {}).get("after")
    if isinstance(after, list):
        after = after[-1] if after else None
    if not isinstance(after, dict) or not after.get("tracking_number"):
        return None
    return Push(shop=event.shop, order_id=event.order_id, carrier=str(after.get("carrier", "")),
                tracking_number=str(after["tracking_number"]))


class PushBack(PullLoop):
    """The feed's pull-apply-ack loop (clients/pulling.py) whose apply step pushes each
    shipment to the channel; a channel's retryable error leaves the batch unacknowledged."""

    def __init__(self, adapter: Adapter, api: ChannelApi, channel: grpc.Channel,
                 store: AdapterStore, consumer: str, metadata: Sequence[tuple[str, str]] = (),
                 wait_s: float = 2.0, max_events: int = 100,
                 backoff: Backoff | None = None) -> None:
        super().__init__(self._push_all, consumer, max_events, wait_s)
        self.adapter, self.api, self.store = adapter, api, store
        self.stub = pb_grpc.OrderServiceStub(channel)
        self.metadata = tuple(metadata)
        self.backoff = backoff or Backoff()
        self.pushed = 0

    def pull(self) -> pb.PullOrderEventsResponse:
        return self.stub.PullOrderEvents(
            pb.PullOrderEventsRequest(group=feed_group(self.adapter.name),
                                      consumer=self.consumer, max_events=self.max_events,
                                      wait=long_poll(self.wait_s)),
            timeout=self.wait_s + 30, metadata=self.metadata)

    def send_ack(self, batch_id: str) -> None:
        self.stub.AckOrderEvents(pb.AckOrderEventsRequest(batch_id=batch_id), timeout=30,
                                 metadata=self.metadata)

    def _push_all(self, events: Sequence[pb.OrderEvent]) -> int:
        before = self.pushed
        for event in events:
            push = shipment_of(event)
            if push is not None:
                self._push(push)
        return self.pushed - before

    def _push(self, p: Push) -> None:
        name = self.adapter.name
        if self.store.was_pushed(name, p.shop, p.order_id, p.tracking_number):
            return
        try:
            self.backoff.run(f"{name} push", lambda: self.adapter.push(self.api, p))
        except ChannelError as exc:
            if exc.retryable:
                raise  # the batch stays unacknowledged and comes again
            log.error("%s refused tracking number for %s: %s", name, p.order_id, exc)
            self.store.refuse(name, p.shop, p.order_id, f"push: {exc}",
                              {"carrier": p.carrier, "tracking_number": p.tracking_number})
            return
        self.store.mark_pushed(name, p.shop, p.order_id, p.tracking_number, p.carrier)
        self.pushed += 1

    def run(self, until_idle: bool = False, stop: threading.Event | None = None) -> None:
        """Until `stop`: the channel's errors too are retried, backing off (the loop's
        own `run` retries only the service's)."""
        stop = stop or threading.Event()
        failures = 0
        while not stop.is_set():
            try:
                pulled = self.step()
                failures = 0
            except (grpc.RpcError, ChannelError) as exc:
                failures += 1
                wait = self.backoff.delay(failures)
                log.warning("%s push-back failed (%s); next try in %.1f s",
                            self.adapter.name, exc, wait)
                stop.wait(wait)
                continue
            if until_idle and pulled == 0:
                return
