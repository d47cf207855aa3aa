"""UUIDv7 ids made one after another in a process sort in the order they were made."""

from __future__ import annotations

import itertools
import uuid

from iep.kit.ids import uuid7


def test_ids_made_in_a_burst_are_strictly_increasing_and_valid_v7() -> None:
    ids = [uuid7() for _ in range(20_000)]  # many share a millisecond
    assert all(a < b for a, b in itertools.pairwise(ids))
    assert {i.version for i in ids} == {7}
    assert {i.variant for i in ids} == {uuid.RFC_4122}
