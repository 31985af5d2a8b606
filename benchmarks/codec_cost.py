"""What a stored order document costs the hub in Python: `python -m benchmarks.codec_cost`.

Encodes and decodes one order document as the hub stores it after a sync (a PAID order
of one line, routed), `--number` times each, best of `--repeat`, and prints microseconds
per call. In process, no Redis: the hub decodes a document for every order it changes
(and the records follower for every order it applies), so this is the part of an order
event's Python cost that the document's format decides. Compare commits by running it in
a checkout of each.
"""

from __future__ import annotations

import argparse
import timeit

from reservation.ordersync import codec
from reservation.ordersync.effects import Units
from reservation.ordersync.model import Address, Line, Order
from reservation.ordersync.states import OrderState


def routed_order() -> Order:
    return Order(channel="taobao", shop="shop-1", order_id="bench-0000001", raw_status="paid",
                 modified_at_ms=1_796_661_337_403, created_at_ms=1_796_661_278_403,
                 address=Address("Zhejiang", "Hangzhou", "Xihu", "0 West Lake Rd"),
                 lines=(Line("SKU-0000", 1, 1999),), total_cents=1999,
                 paid_at_ms=1_796_661_338_406, state=OrderState.ROUTED, version=1,
                 channel_state=OrderState.PAID, buyer_hash="17d1dac6acbc60e84f3e7582f992dbc8",
                 routed_at_ms=1_796_661_338_406, updated_at_ms=1_796_661_338_406,
                 units=Units.CONFIRMED, state_at_ms=1_796_661_338_406)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.codec_cost",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--number", type=int, default=20_000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    order = routed_order()
    doc = codec.encode(order)
    assert codec.decode(doc) == order
    for name, call in (("encode", lambda: codec.encode(order)),
                       ("decode", lambda: codec.decode(doc))):
        best = min(timeit.repeat(call, number=args.number, repeat=args.repeat))
        print(f"{name}: {best / args.number * 1e6:.2f} us per document ({len(doc)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
