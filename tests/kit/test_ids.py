"""UUIDv7 ids made one after another sort in the order they were made, even within one millisecond."""

from __future__ import annotations

from iep.kit.ids import uuid7


def test_ids_made_in_a_burst_sort_in_creation_order() -> None:
    ids = [uuid7() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(i.version == 7 for i in ids[:10])
