"""Attachment storage: a local directory and S3 (a moto server on loopback) behave alike; keys are ours."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import boto3
import pytest

from iep.attachments.storage import AttachmentStore, LocalStore, S3Store, StorageError, make_key
from iep.kit.sigv4 import AwsCredentials

CREDENTIALS = AwsCredentials("AKIDTESTS3", "secret-test-s3", "us-east-1")


@pytest.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AttachmentStore]:
    if request.param == "local":
        yield LocalStore(tmp_path)
        return
    endpoint = request.getfixturevalue("moto_server")
    bucket = f"iep-test-{uuid.uuid4().hex[:8]}"
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id=CREDENTIALS.access_key, aws_secret_access_key=CREDENTIALS.secret_key,
    ).create_bucket(Bucket=bucket)  # fmt: skip
    s3 = S3Store(endpoint=endpoint, bucket=bucket, credentials=CREDENTIALS)
    yield s3
    await s3.close()


async def test_put_get_delete_round_trip(store: AttachmentStore) -> None:
    tenant, message = uuid.uuid4(), uuid.uuid4()
    key = make_key(tenant, message, "résumé 2026.pdf")
    assert key.startswith(f"{tenant}/{message}/")
    assert key.endswith("_résumé 2026.pdf")
    await store.put(key, b"%PDF-1.7 bytes", "application/pdf")
    assert await store.get(key) == b"%PDF-1.7 bytes"
    await store.delete(key)
    with pytest.raises(StorageError):
        await store.get(key)
    await store.delete(key)  # deleting twice is fine


def test_keys_are_made_only_from_plain_names() -> None:
    for bad in ("../x.pdf", "a/b.pdf", "a\\b.pdf", "..", ""):
        with pytest.raises(ValueError, match="plain name"):
            make_key(uuid.uuid4(), uuid.uuid4(), bad)
    a = make_key(uuid.UUID(int=1), uuid.UUID(int=2), "same.pdf")
    b = make_key(uuid.UUID(int=1), uuid.UUID(int=2), "same.pdf")
    assert a != b  # two files of the same name never collide


async def test_a_local_key_cannot_leave_the_directory(tmp_path: Path) -> None:
    local = LocalStore(tmp_path / "store")
    with pytest.raises(StorageError, match="leaves"):
        await local.put("../outside.pdf", b"x", "application/pdf")
    assert not (tmp_path / "outside.pdf").exists()
