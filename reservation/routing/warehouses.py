"""Warehouses: where stock ships from, what each can handle and how much a day.

Stored as JSON beside the stock counters (see reservation/storage/routing.py); the
stock counters themselves stay per SKU and warehouse id.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from reservation.domain import validation
from reservation.errors import InvalidArgument
from reservation.routing.geography import REGIONS, Geography, short

CAPABILITIES = ("COLD_CHAIN", "OVERSIZE", "FRAGILE", "HAZMAT")
MAX_WAREHOUSES = 500
MAX_NAME = 64


@dataclass(frozen=True)
class Warehouse:
    warehouse_id: str
    name: str
    region: str = ""
    province: str = ""
    city: str = ""
    latitude: float = 0.0
    longitude: float = 0.0
    capabilities: tuple[str, ...] = ()
    daily_capacity: int = 0          # orders a day; 0 = unlimited
    cutoff_hour: int = 24            # local hour after which today's orders ship tomorrow
    cost_per_order: float = 0.0
    priority: int = 0                # higher is preferred when scores tie
    safety_stock: int = 0            # units of a SKU kept back: below it, overflow
    active: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    def encode(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def decode(cls, raw: str) -> Warehouse:
        data = json.loads(raw)
        data["capabilities"] = tuple(data.get("capabilities", ()))
        return cls(**data)


def validate(wh: Warehouse, geo: Geography, field_: str = "warehouse") -> Warehouse:
    """Check a warehouse and fill what the geography knows (region, coordinates from the
    city when none were given). Returns the completed warehouse."""
    validation.code(f"{field_}.warehouse_id", wh.warehouse_id)
    if not wh.name or len(wh.name) > MAX_NAME or not wh.name.isprintable():
        raise InvalidArgument(f"{field_}.name", f"must be 1..{MAX_NAME} printable characters")
    for i, cap in enumerate(wh.capabilities):
        if cap not in CAPABILITIES:
            raise InvalidArgument(f"{field_}.capabilities[{i}]",
                                  f"unknown capability {cap!r}; one of {', '.join(CAPABILITIES)}")
    if wh.daily_capacity < 0 or wh.daily_capacity > 10_000_000:
        raise InvalidArgument(f"{field_}.daily_capacity", "must be 0 (unlimited)..10,000,000")
    if not 0 <= wh.cutoff_hour <= 24:
        raise InvalidArgument(f"{field_}.cutoff_hour", "must be 0..24")
    if not 0 <= wh.cost_per_order <= 1_000_000:
        raise InvalidArgument(f"{field_}.cost_per_order", "must be 0..1,000,000")
    if not -1000 <= wh.priority <= 1000:
        raise InvalidArgument(f"{field_}.priority", "must be -1000..1000")
    if not 0 <= wh.safety_stock <= 1_000_000:
        raise InvalidArgument(f"{field_}.safety_stock", "must be 0..1,000,000")
    return _locate(wh, geo, field_)


def _locate(wh: Warehouse, geo: Geography, field_: str) -> Warehouse:
    has_point = (wh.latitude, wh.longitude) != (0.0, 0.0)
    if has_point and not (-90 <= wh.latitude <= 90 and -180 <= wh.longitude <= 180):
        raise InvalidArgument(f"{field_}.latitude", "latitude -90..90, longitude -180..180")
    if not (wh.city or wh.province or has_point):
        raise InvalidArgument(f"{field_}.city", "give a city (or province), or coordinates")
    _known_places(wh, geo, field_)
    try:
        place = geo.resolve(province=wh.province, city=wh.city) \
            if (wh.city or wh.province) else None
    except InvalidArgument:
        place = None
        if not has_point:
            raise InvalidArgument(f"{field_}.city", f"unknown city {wh.city!r}") from None
    if wh.city and (place is None or place.level != "city"):
        raise InvalidArgument(f"{field_}.city", f"unknown city {wh.city!r}")
    region = wh.region or (place.region if place else "")
    if region not in REGIONS:
        raise InvalidArgument(f"{field_}.region", f"must be one of {', '.join(REGIONS)}")
    if place is None:
        return replace(wh, region=region)
    lat, lon = (wh.latitude, wh.longitude) if has_point else (place.latitude, place.longitude)
    return replace(wh, region=region, province=place.province, city=place.city,
                   latitude=lat, longitude=lon)


def _known_places(wh: Warehouse, geo: Geography, field_: str) -> None:
    """A province or city the geography does not know is refused, with the closest known
    name; a city in another province than the one given too (never silently resolved)."""
    for name, value, rank in (("province", wh.province, 0), ("city", wh.city, 1)):
        if value and not geo.known(value, rank):
            close = geo.suggest(value, rank)
            hint = f" (did you mean {close}?)" if close else ""
            raise InvalidArgument(f"{field_}.{name}", f"unknown {name} {value!r}{hint}")
    if wh.province and wh.city:
        actual = geo.province_of(wh.city)
        if actual and actual != short(wh.province):
            raise InvalidArgument(f"{field_}.province",
                                  f"{wh.city} is in {actual}, not {wh.province}")


def from_dict(data: dict[str, Any]) -> Warehouse:
    """A warehouse from a plain mapping (CLI files, JSON)."""
    known = {f for f in Warehouse.__dataclass_fields__}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidArgument(f"warehouse.{unknown[0]}", "unknown field")
    data = dict(data)
    data["capabilities"] = tuple(data.get("capabilities", ()))
    return Warehouse(**data)
