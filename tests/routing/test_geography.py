"""Destinations resolve through cpca's adcode data, falling back and saying so."""

from __future__ import annotations

import pytest

from reservation.errors import InvalidArgument
from reservation.routing.geography import geography, haversine_km, parse_address


def test_city_resolves_to_province_region_and_coordinates() -> None:
    p = geography().resolve(city="杭州")
    assert (p.province, p.city, p.region, p.level, p.note) == ("浙江", "杭州", "华东", "city", "")
    assert 30 < p.latitude < 31 and 120 < p.longitude < 121


def test_municipality_and_district() -> None:
    p = geography().resolve(city="上海市", district="浦东新区")
    assert (p.province, p.city, p.district, p.level) == ("上海", "上海", "浦东新区", "district")


def test_address_string_is_parsed() -> None:
    assert parse_address("浙江省杭州市西湖区文三路100号") == ("浙江省", "杭州市", "西湖区")
    p = geography().resolve(address="广州天河区体育西路")
    assert (p.province, p.city, p.district, p.region) == ("广东", "广州", "天河区", "华南")


def test_unknown_city_falls_back_to_province_then_region() -> None:
    g = geography()
    p = g.resolve(city="火星", province="浙江")
    assert (p.level, p.province, p.region) == ("province", "浙江", "华东")
    assert "unknown city" in p.note and "routed by province" in p.note
    r = g.resolve(city="火星", region="华南")
    assert (r.level, r.region) == ("region", "华南") and "routed by region" in r.note


def test_nothing_known_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument) as err:
        geography().resolve(city="火星")
    assert err.value.field == "destination"


def test_haversine_shanghai_beijing() -> None:
    g = geography()
    sh, bj = g.resolve(city="上海"), g.resolve(city="北京")
    assert 1000 < haversine_km(sh.latitude, sh.longitude, bj.latitude, bj.longitude) < 1100


def test_every_province_has_a_region() -> None:
    g = geography()
    for name in ("新疆", "西藏", "黑龙江", "海南", "香港", "重庆", "内蒙古"):
        assert g.region_of(name), name
