"""AdminService.WhoAmI: any caller learns the principal and roles its credentials name
(the console admits operators by it); without auth, every role."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from reservation.access.roles import Role
from reservation.access.tokens import hash_token
from reservation.server.app import start_app
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import admin_service_pb2_grpc
from tests.helpers.access import PRINCIPALS, ROLES, auth_document, token_of
from tests.helpers.server import Stubs, test_settings


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_is_told_its_principal_and_role(as_stubs: Stubs, role: str) -> None:
    who = await as_stubs.admin.WhoAmI(apb.WhoAmIRequest(), metadata=token_of(role))
    assert (who.auth_enabled, who.principal, list(who.roles)) == (
        True, PRINCIPALS[role][0], [role])


async def test_a_principal_with_two_roles_gets_both_sorted(
        redis_url: str, settings_overrides: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(auth_document([
        {"name": "both", "roles": ["reader", "operator"], "token_hash": hash_token("tok-2")}])))
    app = await start_app(test_settings(redis_url, **{**settings_overrides,
                                                      "auth_file": str(path)}))
    try:
        async with grpc.aio.insecure_channel(app.target) as ch:
            who = await admin_service_pb2_grpc.AdminServiceStub(ch).WhoAmI(
                apb.WhoAmIRequest(), metadata=(("authorization", "Bearer tok-2"),))
    finally:
        await app.stop(grace=0)
    assert (who.principal, list(who.roles)) == ("both", ["operator", "reader"])


async def test_a_wrong_token_is_unauthenticated(as_stubs: Stubs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await as_stubs.admin.WhoAmI(apb.WhoAmIRequest(),
                                    metadata=(("authorization", "Bearer nope"),))
    assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_without_auth_every_caller_has_every_role(redis_url: str) -> None:
    app = await start_app(test_settings(redis_url))
    try:
        async with grpc.aio.insecure_channel(app.target) as ch:
            who = await admin_service_pb2_grpc.AdminServiceStub(ch).WhoAmI(apb.WhoAmIRequest())
    finally:
        await app.stop(grace=0)
    assert (who.auth_enabled, who.principal) == (False, "")
    assert list(who.roles) == sorted(r.value for r in Role)
