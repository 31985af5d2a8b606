"""Every RPC x every role, on a real server with an auth file: the allowed and refused
answers, compared with the role table, and written into the security page's role table
(docs/operating/security.md)
(regenerate with `UPDATE_ROLE_TABLE=1 pytest tests/access/test_role_table.py`).

RPCs are enumerated from the descriptors in reservation/v1, so a new RPC without a role
fails here (the role table denies by default, and this test insists on a decision).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import grpc
import pytest

from reservation.access.roles import METHODS, Role, Scope, rule
from reservation.server.app import App
from tests.helpers.access import ROLES, token_of
from tests.helpers.rpcs import REFUSED, Rpc, all_rpcs, call, scoped_request

PAGE = Path(__file__).resolve().parents[2] / "docs" / "operating" / "security.md"
START, END = "<!-- role-table:start -->", "<!-- role-table:end -->"
RPCS = all_rpcs()


def group_for(rpc: Rpc, role: str) -> str:
    """The group a caller of `role` would use: an adapter its channel's feed."""
    return "feed-jd" if rule(rpc.path).get(Role(role)) is Scope.FEED else "wms"


def test_every_rpc_has_a_role() -> None:
    """Deny by default is safe, but a method nobody may call is a forgotten decision."""
    missing = [r.path for r in RPCS if not rule(r.path)]
    assert missing == [], f"add these to reservation/access/roles.py METHODS: {missing}"


def test_the_role_table_names_only_roles_and_scopes() -> None:
    for method, r in METHODS.items():
        assert r and all(isinstance(k, Role) and isinstance(v, Scope) for k, v in r.items())
        # Scopes belong to the role that has one.
        assert all(v is Scope.ANY or (k, v) in ((Role.ADAPTER, Scope.CHANNEL),
                                                 (Role.ADAPTER, Scope.FEED),
                                                 (Role.WMS, Scope.GROUP))
                   for k, v in r.items()), method


async def observed_matrix(channel: grpc.aio.Channel) -> dict[str, dict[str, grpc.StatusCode]]:
    out: dict[str, dict[str, grpc.StatusCode]] = {}
    for rpc in RPCS:
        out[rpc.path] = {}
        for role in ROLES:
            payload = scoped_request(rpc, group=group_for(rpc, role)).SerializeToString()
            code, _ = await call(channel, rpc, [payload], token_of(role), timeout=10)
            out[rpc.path][role] = code
    return out


def cell(method: str, role: str, code: grpc.StatusCode) -> str:
    if code in REFUSED:
        return "refused"
    scope = rule(method).get(Role(role))
    return {Scope.CHANNEL: "own channels", Scope.GROUP: "own groups",
            Scope.FEED: "own feeds"}.get(scope, "yes")


def markdown(matrix: dict[str, dict[str, grpc.StatusCode]]) -> str:
    lines = ["| RPC | " + " | ".join(ROLES) + " |",
             "|---|" + "---|" * len(ROLES)]
    for method, codes in matrix.items():
        service, name = method.strip("/").split("/")
        lines.append(f"| {service.split('.')[-1]}.{name} | "
                     + " | ".join(cell(method, r, codes[r]) for r in ROLES) + " |")
    return "\n".join(lines)


async def test_every_rpc_for_every_role_answers_as_the_table_says(
        app: App, channel: grpc.aio.Channel) -> None:
    matrix = await observed_matrix(channel)
    wrong = []
    for method, codes in matrix.items():
        for role, code in codes.items():
            allowed = Role(role) in rule(method)
            if code == grpc.StatusCode.UNIMPLEMENTED:
                wrong.append(f"{method}: not served")
            elif allowed == (code in REFUSED):
                wrong.append(f"{method} as {role}: {code.name}, table says "
                             f"{'allowed' if allowed else 'refused'}")
    assert wrong == []
    # The table in the security page is this one.
    table = markdown(matrix)
    text = PAGE.read_text(encoding="utf-8")
    if os.environ.get("UPDATE_ROLE_TABLE"):
        text = re.sub(f"{re.escape(START)}.*?{re.escape(END)}",
                      lambda _: f"{START}\n{table}\n{END}", text, flags=re.DOTALL)
        PAGE.write_text(text, encoding="utf-8")
    assert f"{START}\n{table}\n{END}" in text, (
        "the security page's role table is out of date: UPDATE_ROLE_TABLE=1 pytest "
        + __file__)


@pytest.mark.parametrize("role", ROLES)
async def test_no_role_reaches_a_method_missing_from_the_table(
        app: App, channel: grpc.aio.Channel, role: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Deny by default: take GetStock out of the table and everyone is refused."""
    rpc = next(r for r in RPCS if r.name == "GetStock")
    monkeypatch.delitem(METHODS, rpc.path)
    code, _ = await call(channel, rpc, [b""], token_of(role))
    assert code == grpc.StatusCode.PERMISSION_DENIED
