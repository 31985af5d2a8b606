"""Interception rule documents that cannot mean anything: INVALID_ARGUMENT naming the
field and path (a document nested 100,000 deep was a RecursionError, INTERNAL; NaN was
accepted by the JSON parser), the rule set in force unchanged."""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest

from reservation.domain.validation import JSON_MAX_DEPTH
from reservation.interception.rules import SEED_DOCUMENT
from reservation.v1 import interception_service_pb2 as ipb
from reservation.v1 import interception_service_pb2_grpc as igrpc
from tests.helpers.errors import bad_request_fields


@pytest.fixture
async def icpt(stubs: Any) -> igrpc.InterceptionServiceStub:
    stub = igrpc.InterceptionServiceStub(stubs.channel)
    await stub.PutInterceptionRules(ipb.PutInterceptionRulesRequest(
        document_json=json.dumps(SEED_DOCUMENT), comment="seed", actor="ops"), timeout=10)
    return stub


AMOUNT = ('{"rules": [{"name": "big", "when": {"amount_above": %s}, '
          '"then": {"hold": "check", "grade": "C"}}]}')


@pytest.mark.parametrize(("document", "field"), [
    ("[" * 100_000 + "]" * 100_000, "document_json"),
    ("{\"rules\": " + "[" * (JSON_MAX_DEPTH + 1) + "]" * (JSON_MAX_DEPTH + 1) + "}",
     "document_json"),
    (AMOUNT % "NaN", "document_json.rules[0].when.amount_above"),
    (AMOUNT % "Infinity", "document_json.rules[0].when.amount_above"),
    (AMOUNT % "-Infinity", "document_json.rules[0].when.amount_above"),
    (AMOUNT % "1e400", "document_json.rules[0].when.amount_above"),
    (AMOUNT % ("9" * 5000), "document_json"),
    ('"' * 200_000, "document_json"),
])
async def test_a_bad_document_is_invalid_argument_and_changes_nothing(
        icpt: igrpc.InterceptionServiceStub, document: str, field: str) -> None:
    before = (await icpt.GetInterceptionRules(ipb.GetInterceptionRulesRequest())).rules
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await icpt.PutInterceptionRules(ipb.PutInterceptionRulesRequest(
            document_json=document, comment="bad", actor="ops"), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    assert bad_request_fields(err.value) == [field]
    after = (await icpt.GetInterceptionRules(ipb.GetInterceptionRulesRequest())).rules
    assert after.version == before.version
