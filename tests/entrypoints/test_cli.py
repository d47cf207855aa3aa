"""P7: the real `iep` console script, run as a subprocess against the test database."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from iep.bootstrap import Container
from iep.tenancy import auth as tenancy_auth

IEP = str(Path(sys.executable).with_name("iep"))


def iep(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [IEP, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DATABASE_URL": database_url, **env},
        check=False,
    )


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def refused(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr
    return result.stderr


def payload(sender: str) -> dict[str, Any]:
    return {"to": ["a@example.com"], "from": sender, "subject": "S", "textBody": "T"}


async def test_tenant_and_key_lifecycle(
    container: Container, database_url: str, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The container is requested first: its setup TRUNCATEs, so the CLI starts on empty tables.
    monkeypatch.setattr(tenancy_auth, "RECHECK_SECONDS", 0.0)
    # `--domain` lists a domain without verifying it: accepted with SENDER_DOMAINS_REQUIRE_VERIFIED=false
    # (verification itself is tests/sending_domains/).
    container.limits = dataclasses.replace(container.limits, require_verified_senders=False)

    tenant = ok_json(iep(database_url, "tenants", "create", "--name", "Acme Corp", "--domain", "acme.example"))
    assert tenant["slug"] == "acme-corp"
    assert tenant["name"] == "Acme Corp"
    assert tenant["active"] is True

    again = iep(database_url, "tenants", "create", "--name", "Acme Corp")
    assert "already exists" in refused(again, "acme-corp")

    listed = ok_json(iep(database_url, "tenants", "list"))
    assert [t["slug"] for t in listed] == ["acme-corp"]

    created = ok_json(iep(database_url, "keys", "create", "--tenant", "acme-corp", "--scopes", "send,read"))
    key = created["key"]
    assert key.startswith("iep_")
    assert created["tenant"] == "acme-corp"
    assert sorted(created["scopes"]) == ["read", "send"]
    assert key.split("_", 2)[1] == created["prefix"]
    headers = {"Authorization": f"Bearer {key}"}

    sent = await api.post("/v1/messages", json=payload("x@acme.example"), headers=headers)
    assert sent.status_code == 202, sent.text
    foreign = await api.post("/v1/messages", json=payload("x@other.example"), headers=headers)
    assert foreign.status_code == 422, foreign.text
    assert foreign.headers["content-type"].startswith("application/problem+json")
    assert "other.example" in foreign.text

    messages = ok_json(iep(database_url, "messages", "list"))
    assert isinstance(messages, list)
    assert [m["id"] for m in messages] == [sent.json()["messageId"]]
    assert messages[0]["tenant"] == "acme-corp"

    suspended = ok_json(iep(database_url, "tenants", "suspend", "acme-corp"))
    assert suspended["active"] is False
    resp = await api.get("/v1/messages", headers=headers)
    assert resp.status_code == 403
    assert resp.json()["type"].endswith("/tenant-suspended")

    activated = ok_json(iep(database_url, "tenants", "activate", "acme-corp"))
    assert activated["active"] is True
    assert (await api.get("/v1/messages", headers=headers)).status_code == 200

    revoked = ok_json(iep(database_url, "keys", "revoke", created["prefix"]))
    assert revoked["prefix"] == created["prefix"]
    assert revoked["active"] is False
    assert revoked["revokedAt"] is not None
    resp = await api.get("/v1/messages", headers=headers)
    assert resp.status_code == 401
    assert resp.json()["type"].endswith("/unauthenticated")


async def test_revoke_accepts_the_full_key_and_refuses_unknown_prefixes(
    container: Container, database_url: str
) -> None:
    del container
    ok_json(iep(database_url, "tenants", "create", "--name", "Acme Corp"))
    created = ok_json(iep(database_url, "keys", "create", "--tenant", "acme-corp"))
    assert ok_json(iep(database_url, "keys", "revoke", created["key"]))["active"] is False
    refused(iep(database_url, "keys", "revoke", "zzzzzzzz"), "no key")


async def test_bad_scopes_and_unknown_tenants_are_refused(container: Container, database_url: str) -> None:
    del container
    ok_json(iep(database_url, "tenants", "create", "--name", "Acme Corp"))
    refused(iep(database_url, "keys", "create", "--tenant", "acme-corp", "--scopes", "send,bogus"), "bogus")
    refused(iep(database_url, "keys", "create", "--tenant", "nope"), "no tenant")
    refused(iep(database_url, "tenants", "suspend", "nope"), "no tenant")
    refused(iep(database_url, "tenants", "activate", "nope"), "no tenant")


async def test_messages_list_is_a_json_list(container: Container, database_url: str) -> None:
    del container
    assert ok_json(iep(database_url, "messages", "list")) == []


@pytest.mark.parametrize("args", [("--help",), ("keys", "--help"), ("tenants", "--help"), ("-h",)])
async def test_help_exits_zero(database_url: str, args: tuple[str, ...]) -> None:
    result = iep(database_url, *args)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


async def test_run_with_an_unknown_role_is_refused(database_url: str) -> None:
    refused(iep(database_url, "run", "--role", "bogus"), "bogus")


async def test_bad_configuration_names_the_variable(database_url: str) -> None:
    refused(iep(database_url, "tenants", "list", PORT="notaport"), "PORT")


@pytest.mark.parametrize(
    ("make_url", "needle"),
    [
        (lambda url: url.rsplit("/", 1)[0] + "/iep_no_such_database", "iep_no_such_database"),
        (lambda url: "postgresql://postgres@127.0.0.1:1/x", "cannot reach the database"),
    ],
    ids=["no-such-database", "connection-refused"],
)
async def test_an_unusable_database_is_a_message_not_a_traceback(
    database_url: str, make_url: Callable[[str], str], needle: str
) -> None:
    refused(iep(make_url(database_url), "tenants", "list"), "cannot reach the database", needle)
