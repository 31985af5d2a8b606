"""Hypothesis strategies for every request message, built from its descriptor.

Valid shapes with extreme values: every field may be left unset or set to an edge of
its type (0, -1, the type's bounds, huge counts of lines, empty and very long strings,
NUL and non-ASCII text, enum numbers the enum does not define, Timestamps and Durations
far outside their ranges), and strings are often names the server knows (a loaded SKU,
a configured channel or group), so calls get past the first check. Raw bytes, beside
these, stand for what a broken or hostile client sends. Floats are often NaN or
infinite, Structs nest from shallow to deeper than the server accepts, and JSON sent as
text (`*_json` fields) is often nested 100,000 deep or holds NaN.
"""

from __future__ import annotations

import math
from typing import Any

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

# Names the fuzz server knows (tests/fuzz/test_fuzz.py loads and configures them).
KNOWN = ["jd", "tmall", "A", "B", "W1", "W2", "wms", "audit", "feed-jd", "o-1", "b-1",
         "sale-1", "shop-1", "PAID", "SHIPPED"]

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_UINT32 = (0, 2**32 - 1)
_UINT64 = (0, 2**64 - 1)

_RANGES = {
    FieldDescriptor.TYPE_INT32: _INT32, FieldDescriptor.TYPE_SINT32: _INT32,
    FieldDescriptor.TYPE_SFIXED32: _INT32, FieldDescriptor.TYPE_INT64: _INT64,
    FieldDescriptor.TYPE_SINT64: _INT64, FieldDescriptor.TYPE_SFIXED64: _INT64,
    FieldDescriptor.TYPE_UINT32: _UINT32, FieldDescriptor.TYPE_FIXED32: _UINT32,
    FieldDescriptor.TYPE_UINT64: _UINT64, FieldDescriptor.TYPE_FIXED64: _UINT64,
}


def _integers(low: int, high: int) -> st.SearchStrategy[int]:
    edges = sorted({low, high, 0, 1, -1 if low < 0 else 0, 2**31 - 1 if high > 2**31 else high,
                    2**53 + 1 if high > 2**53 else high, 1_000_000, 1_000_001})
    # Small valid values half of the time, so calls get past the first check.
    small = st.integers(max(low, 1), min(high, 5))
    return st.one_of(small, small, st.sampled_from([e for e in edges if low <= e <= high]),
                     st.integers(low, high))


_TEXT = st.one_of(
    st.sampled_from(KNOWN), st.sampled_from(KNOWN),
    st.sampled_from(["", " ", "\x00", "é", "订单", "a" * 129, "x" * 5000, "-", "../..", "*"]),
    st.text(max_size=40),
)


_NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])

# JSON documents sent as text (document_json): nested far too deep, non-finite numbers
# (NaN, Infinity, 1e400 which parses as one), integers past Python's conversion limit.
_JSON_TEXT = st.one_of(
    st.integers(1, 100_000).map(lambda n: "[" * n + "]" * n),
    st.sampled_from(['{"rules": [{"when": {"amount_above": NaN}}]}',
                     '{"rules": [{"when": {"amount_above": Infinity}}]}',
                     '{"rules": [{"when": {"amount_above": 1e400}}]}',
                     '{"rules": [{"when": {"amount_above": ' + "9" * 5000 + "}}]}",
                     '"' * 10_000, '{"rules": []}']),
)


@st.composite
def _struct_value(draw: st.DrawFn) -> dict[str, Any]:
    """A Struct's content: a few keys, a leaf that may be NaN or infinite, and nesting
    from shallow to deeper than the server accepts (requests.MAX_DEPTH)."""
    depth = draw(st.sampled_from([0, 1, 3, 17, 30]))
    leaf: Any = draw(st.one_of(_NON_FINITE, st.floats(), st.text(max_size=8),
                               st.booleans(), st.none()))
    value: Any = {"leaf": leaf, "list": [leaf, 1]}
    for i in range(depth):
        value = {"n": value} if i % 2 else [value]
    return value if isinstance(value, dict) else {"rules": value}


def _scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    t = field.type
    if t in _RANGES:
        return _integers(*_RANGES[t])
    if t == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        # NaN and the infinities often, not only when the float strategy happens on them.
        return st.one_of(_NON_FINITE, st.floats(allow_nan=True, allow_infinity=True, width=32
                         if t == FieldDescriptor.TYPE_FLOAT else 64))
    if t == FieldDescriptor.TYPE_STRING:
        if field.name.endswith("_json"):
            return st.one_of(_TEXT, _JSON_TEXT)
        return _TEXT
    if t == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if t == FieldDescriptor.TYPE_ENUM:
        defined = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(defined), _integers(*_INT32))
    raise TypeError(f"no strategy for field type {t}")


def _timestamp_like(descriptor: Descriptor) -> st.SearchStrategy[dict[str, int]]:
    seconds = st.one_of(st.sampled_from([0, -1, 253_402_300_800, -62_135_596_801]),
                        _integers(*_INT64), st.integers(-10**9, 4 * 10**9))
    nanos = st.one_of(st.sampled_from([0, 999_999_999, 10**9, -1]), _integers(*_INT32))
    return st.fixed_dictionaries({"seconds": seconds, "nanos": nanos})


@st.composite
def _message(draw: st.DrawFn, descriptor: Descriptor, depth: int) -> Message:
    msg = message_factory.GetMessageClass(descriptor)()
    if descriptor.full_name in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
        values = draw(_timestamp_like(descriptor))
        msg.seconds, msg.nanos = values["seconds"], values["nanos"]  # type: ignore[attr-defined]
        return msg
    if descriptor.full_name == "google.protobuf.Struct":
        msg.update(draw(_struct_value()))  # type: ignore[attr-defined]
        return msg
    for field in descriptor.fields:
        if draw(st.integers(0, 4)) == 0:
            continue  # unset (one field in five)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key_f, value_f = field.message_type.fields_by_name["key"], \
                field.message_type.fields_by_name["value"]
            if value_f.message_type is not None:
                continue  # maps of messages: none in the API today
            entries = draw(st.dictionaries(_scalar(key_f), _scalar(value_f), max_size=3))
            getattr(msg, field.name).update(entries)
            continue
        if field.message_type is not None:
            if depth > 3:
                continue
            if field.is_repeated:
                count = draw(st.sampled_from([0, 1, 2, 3]))
                for _ in range(count):
                    getattr(msg, field.name).add().CopyFrom(
                        draw(_message(field.message_type, depth + 1)))
            else:
                getattr(msg, field.name).CopyFrom(draw(_message(field.message_type, depth + 1)))
            continue
        if field.is_repeated:
            getattr(msg, field.name).extend(draw(st.lists(_scalar(field), max_size=4)))
        else:
            setattr(msg, field.name, draw(_scalar(field)))
    return msg


def requests(descriptor: Descriptor) -> st.SearchStrategy[bytes]:
    """Serialized requests of this message type: valid shapes with extreme values."""
    return _message(descriptor, 0).map(lambda m: m.SerializeToString())


def raw_bytes() -> st.SearchStrategy[bytes]:
    """What a broken client sends: any bytes, or a valid field number with a bad wire type."""
    return st.one_of(st.binary(max_size=200),
                     st.sampled_from([b"\x0a\xff\xff\xff\xff\x0f", b"\x08", b"\xff",
                                      b"\x12\x05abc", b"\x0a\x02\x08\x80"]))
