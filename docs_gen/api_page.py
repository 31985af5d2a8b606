"""The API reference: every service, RPC, message, field and enum of protos/, with the
comments written above each in the .proto files.

protoc (grpc_tools, the version uv.lock pins) compiles the protos into a descriptor set
with source info, whose locations carry each element's leading comment; nothing is
parsed by hand. An element without a comment shows as such, so a missing one is visible.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from google.protobuf import descriptor_pb2 as d

from docs_gen import md

ROOT = Path(__file__).resolve().parents[1]
PROTOS = ROOT / "protos"
PACKAGE_DIR = "reservation/v1"
NO_COMMENT = "*no comment*"

# Field numbers of the descriptor messages, as SourceCodeInfo.Location.path uses them.
FILE_MESSAGE, FILE_ENUM, FILE_SERVICE = 4, 5, 6
MESSAGE_FIELD, MESSAGE_NESTED, MESSAGE_ENUM = 2, 3, 4
ENUM_VALUE = 2
SERVICE_METHOD = 2

_TYPES = {
    d.FieldDescriptorProto.TYPE_DOUBLE: "double", d.FieldDescriptorProto.TYPE_FLOAT: "float",
    d.FieldDescriptorProto.TYPE_INT64: "int64", d.FieldDescriptorProto.TYPE_UINT64: "uint64",
    d.FieldDescriptorProto.TYPE_INT32: "int32", d.FieldDescriptorProto.TYPE_FIXED64: "fixed64",
    d.FieldDescriptorProto.TYPE_FIXED32: "fixed32", d.FieldDescriptorProto.TYPE_BOOL: "bool",
    d.FieldDescriptorProto.TYPE_STRING: "string", d.FieldDescriptorProto.TYPE_BYTES: "bytes",
    d.FieldDescriptorProto.TYPE_UINT32: "uint32", d.FieldDescriptorProto.TYPE_SFIXED32:
    "sfixed32", d.FieldDescriptorProto.TYPE_SFIXED64: "sfixed64",
    d.FieldDescriptorProto.TYPE_SINT32: "sint32", d.FieldDescriptorProto.TYPE_SINT64: "sint64",
}


def descriptor_set(protos: Path = PROTOS) -> d.FileDescriptorSet:
    """The project's protos compiled by protoc, with source info and every import."""
    files = sorted(str(p.relative_to(protos)) for p in (protos / PACKAGE_DIR).glob("*.proto"))
    include = resources.files("grpc_tools") / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "api.pb"
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{protos}",
                        f"-I{include}", f"--descriptor_set_out={out}", "--include_source_info",
                        "--include_imports", *files], check=True, capture_output=True)
        return d.FileDescriptorSet.FromString(out.read_bytes())


def comments(proto: d.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    """Path -> the leading comment there (detached comments are not an element's)."""
    return {tuple(loc.path): " ".join(loc.leading_comments.split())
            for loc in proto.source_code_info.location if loc.leading_comments.strip()}


def _anchor(name: str) -> str:
    """The heading id MkDocs' toc gives a heading that is just `name`."""
    return name.lower().replace(".", "")


def _type(field: d.FieldDescriptorProto, own: set[str], maps: dict[str, str]) -> str:
    if field.type in (d.FieldDescriptorProto.TYPE_MESSAGE, d.FieldDescriptorProto.TYPE_ENUM):
        full = field.type_name.lstrip(".")
        if full in maps:
            return maps[full]
        short = full.removeprefix("reservation.v1.")
        text = f"[`{short}`](#{_anchor(short)})" if full in own else f"`{full}`"
    else:
        text = f"`{_TYPES[field.type]}`"
    if field.label == d.FieldDescriptorProto.LABEL_REPEATED:
        return f"repeated {text}"
    return f"optional {text}" if field.proto3_optional else text


def _cell(text: str) -> str:
    return md.cell(text) if text else NO_COMMENT


def _para(text: str) -> str:
    return md.text(text) if text else NO_COMMENT


def _messages(proto: d.FileDescriptorProto) -> Iterator[tuple[str, d.DescriptorProto,
                                                              tuple[int, ...]]]:
    """(dotted name, message, location path) of every message, nested ones after their
    parent; map entries are fields' types, not messages of their own."""
    def walk(prefix: str, items: list[d.DescriptorProto], path: tuple[int, ...]
             ) -> Iterator[tuple[str, d.DescriptorProto, tuple[int, ...]]]:
        for i, m in enumerate(items):
            if m.options.map_entry:
                continue
            name = f"{prefix}{m.name}"
            yield name, m, (*path, i)
            yield from walk(f"{name}.", list(m.nested_type), (*path, i, MESSAGE_NESTED))
    yield from walk("", list(proto.message_type), (FILE_MESSAGE,))


def _enums(proto: d.FileDescriptorProto) -> Iterator[tuple[str, d.EnumDescriptorProto,
                                                           tuple[int, ...]]]:
    for i, e in enumerate(proto.enum_type):
        yield e.name, e, (FILE_ENUM, i)
    for name, m, path in _messages(proto):
        for i, e in enumerate(m.enum_type):
            yield f"{name}.{e.name}", e, (*path, MESSAGE_ENUM, i)


def render(fds: d.FileDescriptorSet | None = None) -> str:
    fds = fds or descriptor_set()
    ours = [f for f in fds.file if f.name.startswith(PACKAGE_DIR + "/")]
    own: set[str] = set()
    maps: dict[str, str] = {}
    for proto in ours:
        for name, m, _ in _messages(proto):
            own.add(f"{proto.package}.{name}")
        for name, _, _ in _enums(proto):
            own.add(f"{proto.package}.{name}")
    for proto in ours:  # map<K, V> fields name a generated entry message
        def entries(prefix: str, items: list[d.DescriptorProto]) -> None:
            for m in items:
                full = f"{prefix}.{m.name}"
                if m.options.map_entry:
                    key, value = m.field
                    maps[full] = f"map&lt;{_type(key, own, {})}, {_type(value, own, {})}&gt;"
                entries(full, list(m.nested_type))
        entries(proto.package, list(proto.message_type))

    out = ["# API reference", "",
           "Generated from `protos/reservation/v1/*.proto` when the site is built",
           "(`make docs`): every service, method, message, field and enum, with the comment",
           f"written above it in the .proto file; one without a comment says {NO_COMMENT}.",
           "[The API](../integrating/api.md) explains how to use it.", ""]
    services = [(proto, i, s) for proto in ours for i, s in enumerate(proto.service)]
    out += ["## Services", ""]
    for proto, i, service in services:
        notes = comments(proto)
        out += [f"### {service.name}", "", _para(notes.get((FILE_SERVICE, i), "")), "",
                f"`{proto.package}.{service.name}` in `protos/{proto.name}`.", "",
                "| method | request | response | comment |", "| --- | --- | --- | --- |"]
        for j, method in enumerate(service.method):
            def kind(type_name: str, streaming: bool) -> str:
                short = type_name.lstrip(".").removeprefix("reservation.v1.")
                link = f"[`{short}`](#{_anchor(short)})" \
                    if type_name.lstrip(".") in own else f"`{type_name.lstrip('.')}`"
                return f"stream {link}" if streaming else link
            out.append(f"| `{method.name}` | {kind(method.input_type, method.client_streaming)}"
                       f" | {kind(method.output_type, method.server_streaming)} | "
                       f"{_cell(notes.get((FILE_SERVICE, i, SERVICE_METHOD, j), ''))} |")
        out.append("")
    for proto in sorted(ours, key=lambda p: p.name):
        notes = comments(proto)
        messages = list(_messages(proto))
        enums = list(_enums(proto))
        if not messages and not enums:
            continue
        out += [f"## Messages and enums of {Path(proto.name).name}", ""]
        for name, m, path in messages:
            out += [f"### {name}", "", _para(notes.get(path, "")), ""]
            if not m.field:
                out += ["No fields.", ""]
                continue
            out += ["| field | number | type | comment |", "| --- | --- | --- | --- |"]
            for k, field in enumerate(m.field):
                oneof = ""
                if field.HasField("oneof_index") and not field.proto3_optional:
                    oneof = f" (one of `{m.oneof_decl[field.oneof_index].name}`)"
                out.append(f"| `{field.name}` | {field.number} | {_type(field, own, maps)}"
                           f"{oneof} | {_cell(notes.get((*path, MESSAGE_FIELD, k), ''))} |")
            out.append("")
        for name, e, path in enums:
            out += [f"### {name}", "", _para(notes.get(path, "")), "",
                    "| value | number | comment |", "| --- | --- | --- |"]
            for k, value in enumerate(e.value):
                out.append(f"| `{value.name}` | {value.number} | "
                           f"{_cell(notes.get((*path, ENUM_VALUE, k), ''))} |")
            out.append("")
    return "\n".join(out)
