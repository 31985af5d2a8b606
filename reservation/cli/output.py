"""How every command prints a reply: JSON that `jq` reads as people expect.

protobuf's JSON mapping writes 64-bit integers as strings and leaves out fields at their
default (so `jq .levels[].available` gives null for a warehouse with nothing left).
Here every field is printed, zeros included, and 64-bit integers are numbers (Python's
json has no precision limit; jq keeps integers exact up to 2^53, past every quantity
limit of the service). Timestamps and durations stay RFC 3339 / "1.5s" strings.
"""

from __future__ import annotations

import json
import sys
from typing import Any, cast

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

_INT64 = {FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT64,
          FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64}


def to_dict(message: Message) -> dict[str, Any]:
    data = json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
    _numbers(cast(Descriptor, message.DESCRIPTOR), data)
    return data


def to_json(message: Message) -> str:
    return json.dumps(to_dict(message), indent=2, ensure_ascii=False)


def print_reply(message: Message) -> None:
    print(to_json(message))


def print_error(code: str, details: str | None) -> None:
    """Errors go to stderr, one line, whatever the command."""
    print(f"error: {code}: {details or ''}", file=sys.stderr)


def _numbers(descriptor: Descriptor, data: dict[str, Any]) -> None:
    """int64 strings back to numbers, in place, through nested messages and maps."""
    for field in descriptor.fields:
        if field.json_name not in data:
            continue
        value = data[field.json_name]
        if field.message_type is not None:
            if field.message_type.full_name.startswith("google.protobuf."):
                continue  # Timestamp, Duration...: their JSON is a string on purpose
            if field.message_type.GetOptions().map_entry:
                _map(field.message_type, value)
            elif field.is_repeated:
                for item in value:
                    _numbers(field.message_type, item)
            else:
                _numbers(field.message_type, value)
        elif field.type in _INT64:
            data[field.json_name] = ([int(v) for v in value] if field.is_repeated
                                     else int(value))


def _map(entry: Descriptor, data: dict[str, Any]) -> None:
    value_field = entry.fields_by_name["value"]
    for key, value in data.items():
        if value_field.message_type is not None:
            _numbers(value_field.message_type, value)
        elif value_field.type in _INT64:
            data[key] = int(value)

