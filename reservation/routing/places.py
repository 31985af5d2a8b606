"""Where an order goes: its destination resolved by the geography, kept per destination
(most recently used) since every routed order asks and most ask for the same places."""

from __future__ import annotations

from collections import OrderedDict

from reservation.errors import InvalidArgument
from reservation.routing.geography import Geography, Place
from reservation.routing.matching import RouteOrder

PLACES_KEPT = 4096  # resolved destinations kept in process (most-recently used)


class Places:
    def __init__(self, geo: Geography) -> None:
        self.geo = geo
        self._kept: OrderedDict[tuple[str, str, str, str, str], Place] = OrderedDict()

    def place(self, order: RouteOrder, field: str = "") -> Place:
        """Where the order goes; InvalidArgument names `field`.destination when the
        geography cannot place it."""
        d = order.destination
        key = (d.province, d.city, d.district, d.region, d.address)
        place = self._kept.get(key)
        if place is not None:
            self._kept.move_to_end(key)
            return place
        try:
            place = self.geo.resolve(province=d.province, city=d.city, district=d.district,
                                     region=d.region, address=d.address)
        except InvalidArgument as exc:
            where = f"{field}.destination" if field else "destination"
            raise InvalidArgument(where, exc.description) from None
        self._kept[key] = place
        if len(self._kept) > PLACES_KEPT:
            self._kept.popitem(last=False)
        return place
