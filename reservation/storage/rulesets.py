"""Versioned rule sets in one Redis hash: `current`, and each version as `v:<n>`.

Routing and interception keep their rule sets the same way (one engine, two hashes), so
the put script (rules_put.lua: compare-and-set on the version, the oldest versions
trimmed) and the reads live here once; each store passes its own hash key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from reservation.errors import FailedPrecondition
from reservation.storage.store import Store, redis_errors

VERSIONS_KEPT = 500


@dataclass(frozen=True)
class RulesVersion:
    """One version of a rule set as stored: the document and who put it, why, when."""

    version: int
    document: Mapping[str, Any]
    comment: str
    created_at_ms: int
    rolled_back_to: int = 0
    actor: str = ""

    def encode(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if k != "version"},
                          ensure_ascii=False)

    @classmethod
    def decode(cls, version: int, raw: str) -> RulesVersion:
        return cls(version=version, **json.loads(raw))


async def put(store: Store, key: str, record: str, expected_version: int) -> int:
    """Store a new version if `expected_version` is still current; returns the new one."""
    reply = await store.eval("rules_put", [key], [expected_version, record, VERSIONS_KEPT])
    if reply.code == "CONFLICT":
        raise FailedPrecondition(f"expected_version {expected_version} is not current "
                                 f"(version {reply.version} is)")
    return int(reply.version)


async def next_version(store: Store, key: str, expected_version: int) -> int:
    """The version a put would get now (validate_only), refused as a put would be."""
    current = await current_version(store, key)
    if expected_version and expected_version != current:
        raise FailedPrecondition(f"expected_version {expected_version} is not current "
                                 f"(version {current} is)")
    return current + 1


async def current_version(store: Store, key: str) -> int:
    with redis_errors():
        return int(await store.client.hget(key, "current") or 0)


async def record(store: Store, key: str, version: int) -> str | None:
    with redis_errors():
        return await store.client.hget(key, f"v:{version}")  # type: ignore[no-any-return]


async def records(store: Store, key: str, versions: Sequence[int]) -> list[str | None]:
    if not versions:
        return []
    with redis_errors():
        return list(await store.client.hmget(key, [f"v:{v}" for v in versions]))
