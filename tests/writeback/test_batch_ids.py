"""Batch ids carry their own acknowledgement, signed: what goes in comes out, or an error."""

from __future__ import annotations

import pytest

from reservation.errors import InvalidArgument
from reservation.writeback import batch_ids


def test_a_batch_id_gives_back_its_group_and_entries():
    entries = {3: ["1700000000000-0", "1700000000000-1"], 63: ["1700000000001-0"]}
    batch_id = batch_ids.encode("key", "wms", entries)

    assert batch_ids.decode("key", batch_id, shards=64) == ("wms", entries)


def test_a_batch_id_signed_with_another_key_is_refused():
    batch_id = batch_ids.encode("replica-a", "wms", {0: ["1-0"]})

    with pytest.raises(InvalidArgument) as info:
        batch_ids.decode("replica-b", batch_id, shards=64)
    assert info.value.field == "batch_id"


def test_a_batch_id_naming_a_shard_beyond_the_configured_ones_is_refused():
    batch_id = batch_ids.encode("key", "wms", {80: ["1-0"]})

    with pytest.raises(InvalidArgument) as info:
        batch_ids.decode("key", batch_id, shards=64)
    assert info.value.field == "batch_id"
