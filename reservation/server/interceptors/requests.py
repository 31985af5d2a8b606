"""Requests that cannot mean anything are refused INVALID_ARGUMENT before any handler runs.

Two kinds, both the caller's doing, neither a server fault:

- bytes that do not parse as the method's request message (grpcio would answer UNKNOWN
  for a unary call and INTERNAL mid-stream);
- a parsed message whose enum fields hold a number the enum does not define (protobuf
  keeps unknown enum numbers in proto3), whose Timestamp / Duration fields lie outside
  the range those types define (so no later conversion overflows), whose float or
  double fields hold NaN or an infinity (no weight, amount or coordinate means anything
  then), or whose google.protobuf.Struct values nest deeper than MAX_DEPTH or hold a
  non-finite number (a rule document; named by its JSON path, e.g.
  `document.weights.load`).

The deserializer cannot raise (grpcio turns that into UNKNOWN), so it returns a `Refused`
marker instead, and the edge (edge.py) raises the marker's `InvalidArgument` just before
the handler gets the request, inside the error mapping, which turns it into the status
with BadRequest details. Every handler kind is checked: for streamed requests the
refusal surfaces when the handler reads the bad message.
"""

from __future__ import annotations

import functools
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from reservation.errors import InvalidArgument

# Ranges defined by google/protobuf/timestamp.proto and duration.proto.
_TS_MIN, _TS_MAX = -62_135_596_800, 253_402_300_799  # 0001-01-01 .. 9999-12-31 UTC
_DURATION_MAX = 315_576_000_000  # 10,000 years in seconds
_NANOS_MAX = 999_999_999


@dataclass(frozen=True)
class Refused:
    """What the deserializer hands on for a request that is refused."""

    error: InvalidArgument


_RANGED = ("google.protobuf.Timestamp", "google.protobuf.Duration")
_JSON = ("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue")
_FLOATS = (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT)
MAX_DEPTH = 16
"""Deepest nesting of a Struct value: a rule document needs 5; protobuf's own decoder
refuses about 33 (three messages per level), as `request`. Deeper than this is refused
naming the path, so nothing later walks an unbounded tree."""


@functools.cache
def _checked_type(descriptor: Descriptor) -> bool:
    """Whether messages of this type can hold anything check() refuses: an enum field,
    or a Timestamp / Duration, in it or in any message inside it. The others (order
    lines, a batch's thousand order lines) are not walked at all: the walk is pure
    Python per field, and a ReserveBatch would pay it for every line of every order."""
    return _reaches_checked(descriptor, set())


def _reaches_checked(descriptor: Descriptor, seen: set[str]) -> bool:
    if descriptor.full_name in _RANGED or descriptor.full_name in _JSON:
        return True
    if descriptor.full_name in seen:  # recursive types: decided where the cycle began
        return False
    seen.add(descriptor.full_name)
    for field in descriptor.fields:
        if field.type == FieldDescriptor.TYPE_ENUM or field.type in _FLOATS:
            return True
        if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type is not None \
                and _reaches_checked(field.message_type, seen):
            return True
    return False


@dataclass(frozen=True, slots=True)
class _Field:
    """A field check() looks at: one that can hold something refused (see _plan)."""

    name: str
    kind: int          # FieldDescriptor.TYPE_ENUM, _FLOATS or TYPE_MESSAGE
    repeated: bool
    enum: Any = None   # the EnumDescriptor of an enum field


@functools.cache
def _plan(descriptor: Descriptor) -> tuple[_Field, ...]:
    """The fields of this type check() must look at, in field-number order (so the first
    refused field named is the same as a walk of every set field would name). Made once
    per type: a stream checks every message it reads, and walking every set field with
    ListFields was 7% of ReserveStream's profile where one or two fields matter."""
    out = []
    for field in sorted(descriptor.fields, key=lambda f: f.number):
        if field.type == FieldDescriptor.TYPE_ENUM:
            out.append(_Field(field.name, field.type, field.is_repeated, field.enum_type))
        elif field.type in _FLOATS or _walked(field):
            out.append(_Field(field.name, field.type, field.is_repeated))
    return tuple(out)


def _walked(field: FieldDescriptor) -> bool:
    """A message field whose type can hold something refused (map fields are not)."""
    return (field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type is not None
            and not field.message_type.GetOptions().map_entry
            and _checked_type(field.message_type))


def check(message: Message, path: str = "") -> None:
    """Raise InvalidArgument naming the first field (as a path) that cannot be valid."""
    name = message.DESCRIPTOR.full_name
    if name == "google.protobuf.Timestamp":
        _timestamp(path, message)
        return
    if name == "google.protobuf.Duration":
        _duration(path, message)
        return
    if name in _JSON:
        _json(path, message)
        return
    if not _checked_type(message.DESCRIPTOR):
        return
    for field in _plan(message.DESCRIPTOR):
        if field.repeated:
            values = getattr(message, field.name)
        elif field.kind == FieldDescriptor.TYPE_MESSAGE:
            if not message.HasField(field.name):
                continue  # unset: nothing in it
            values = (getattr(message, field.name),)
        else:
            values = (getattr(message, field.name),)
        if values:
            _check_values(field, values, f"{path}.{field.name}" if path else field.name)


def _check_values(field: _Field, values: Any, where: str) -> None:
    for i, value in enumerate(values):
        at = f"{where}[{i}]" if field.repeated else where
        if field.kind == FieldDescriptor.TYPE_ENUM:
            if value not in field.enum.values_by_number:
                raise InvalidArgument(at, f"{value} is not a {field.enum.name} value")
        elif field.kind in _FLOATS:
            if not math.isfinite(value):
                raise InvalidArgument(at, f"must be a finite number, not {value}")
        else:
            check(value, at)


def _json(path: str, message: Any) -> None:
    """A Struct, Value or ListValue: no non-finite number, nesting at most MAX_DEPTH;
    walked with an explicit stack (never recursion), paths as JSON paths."""
    stack: list[tuple[str, Any, int]] = [(path, message, 1)]
    while stack:
        where, item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidArgument(where, f"nests deeper than {MAX_DEPTH} levels")
        kind = item.DESCRIPTOR.full_name
        if kind == "google.protobuf.Struct":
            stack.extend((_key(where, k), v, depth + 1) for k, v in item.fields.items())
        elif kind == "google.protobuf.ListValue":
            stack.extend((f"{where}[{i}]", v, depth + 1) for i, v in enumerate(item.values))
        else:
            which = item.WhichOneof("kind")
            if which == "number_value" and not math.isfinite(item.number_value):
                raise InvalidArgument(where, f"must be a finite number, not {item.number_value}")
            if which == "struct_value":
                stack.append((where, item.struct_value, depth))
            elif which == "list_value":
                stack.append((where, item.list_value, depth))


def _key(where: str, key: str) -> str:
    shown = key if len(key) <= 64 else f"{key[:64]}..."
    return f"{where}.{shown}" if where else shown


def _timestamp(path: str, ts: Any) -> None:
    if not _TS_MIN <= ts.seconds <= _TS_MAX or not 0 <= ts.nanos <= _NANOS_MAX:
        raise InvalidArgument(path, "is outside the Timestamp range (years 1 to 9999)")


def _duration(path: str, d: Any) -> None:
    if abs(d.seconds) > _DURATION_MAX or abs(d.nanos) > _NANOS_MAX \
            or (d.seconds > 0 > d.nanos) or (d.seconds < 0 < d.nanos):
        raise InvalidArgument(path, "is outside the Duration range (10,000 years)")


def deserializer(parse: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """`parse` (a method's request deserializer), checked: a refused request becomes a
    Refused marker, which `first` or `checked` raise when the handler reads it."""
    if parse is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            message = parse(data)
        except (DecodeError, ValueError, TypeError) as exc:
            return Refused(InvalidArgument("request", f"is not a valid message: {exc}"))
        if isinstance(message, Message):
            try:
                check(message)
            except InvalidArgument as exc:
                return Refused(exc)
        return message
    return deserialize


async def checked(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for request in requests:
        if isinstance(request, Refused):
            raise request.error
        yield request


def first(request: Any) -> Any:
    if isinstance(request, Refused):
        raise request.error
    return request
