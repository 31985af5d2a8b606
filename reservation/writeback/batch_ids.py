"""Batch ids that carry their own acknowledgement: group plus shard and entry ids, signed.

Keeping the ids in the batch id (instead of a Redis key per batch) means nothing to
expire, and a WMS that applied a batch can still acknowledge it after the service or
Redis restarted. The signature turns a mangled or forged id into a clear error instead
of acknowledging entries nobody delivered.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import zlib
from collections.abc import Mapping, Sequence

from reservation.errors import InvalidArgument

VERSION = "wb1"
_FALLBACK_KEY = b"reservation-write-back"
_ENTRY_ID = re.compile(r"\d+-\d+")
MAX_LENGTH = 4 * 1024 * 1024


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: str, payload: bytes) -> bytes:
    return hmac.new(key.encode() or _FALLBACK_KEY, payload, hashlib.sha256).digest()[:16]


def encode(key: str, group: str, entries: Mapping[int, Sequence[str]]) -> str:
    payload = zlib.compress(json.dumps({"g": group, "e": {str(s): list(ids)
                                                          for s, ids in entries.items()}},
                                       separators=(",", ":")).encode())
    return f"{VERSION}.{_b64(payload)}.{_b64(_mac(key, payload))}"


def decode(key: str, batch_id: str, shards: int) -> tuple[str, dict[int, list[str]]]:
    """(group, entry ids by shard) of a batch id this service issued."""
    if not batch_id:
        raise InvalidArgument("batch_id", "must not be empty")
    if len(batch_id) > MAX_LENGTH:
        raise InvalidArgument("batch_id", "is too long to be a batch id")
    parts = batch_id.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise InvalidArgument("batch_id", "is not a batch id issued by PullBatch")
    try:
        payload, mac = _unb64(parts[1]), _unb64(parts[2])
    except (binascii.Error, ValueError):
        raise InvalidArgument("batch_id", "is not a batch id issued by PullBatch") from None
    if not hmac.compare_digest(mac, _mac(key, payload)):
        raise InvalidArgument("batch_id", "is unknown (signature does not match)")
    try:
        body = json.loads(zlib.decompress(payload))
        group = body["g"]
        entries = {int(s): list(ids) for s, ids in body["e"].items()}
    except (zlib.error, ValueError, KeyError, TypeError, AttributeError):
        raise InvalidArgument("batch_id", "is not a batch id issued by PullBatch") from None
    for shard, ids in entries.items():
        if not 0 <= shard < shards or not all(
                isinstance(i, str) and _ENTRY_ID.fullmatch(i) for i in ids):
            raise InvalidArgument("batch_id", "names entries this service does not have")
    return group, entries
