"""UUIDv7 ids sort in the order they were made, even within one millisecond (events written together)."""

from __future__ import annotations

from iep.kit.ids import uuid7


def test_ids_made_in_one_process_sort_in_creation_order() -> None:
    ids = [uuid7() for _ in range(50_000)]  # many share a millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert {i.version for i in ids} == {7}
    assert {i.variant for i in ids} == {"specified in RFC 4122"}
