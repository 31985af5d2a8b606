"""Principals, one per role, with their tokens: the auth file a test server reads
and the metadata a call carries."""

from __future__ import annotations

from typing import Any

from reservation.access.tokens import hash_token

# role -> (principal name, token, scope)
PRINCIPALS: dict[str, tuple[str, str, dict[str, list[str]]]] = {
    "adapter": ("jd-adapter", "tok-adapter-jd", {"channels": ["jd"]}),
    "wms": ("wms-main", "tok-wms-main", {"groups": ["wms"]}),
    "operator": ("ops", "tok-operator", {}),
    "loadtest": ("bench", "tok-loadtest", {}),
    "reader": ("dash", "tok-reader", {}),
}


ROLES = tuple(PRINCIPALS)

SCRYPT_CALL_S = 60
"""Deadline of a call whose token only scrypt can decide. The service verifies scrypt
in a thread at nice 19 (reservation/access/verify.py: the event loop preempts it), so on
a box whose cores the rest of the suite keeps busy one verification took over 5 s."""


def auth_document(extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"principals": [
        {"name": name, "role": role, "token_hash": hash_token(token), **scope}
        for role, (name, token, scope) in PRINCIPALS.items()] + (extra or [])}


def token_of(role: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {PRINCIPALS[role][1]}"),)
