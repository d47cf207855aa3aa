"""P7 for tenancy: `iep tenants show|activate` and `iep keys list|rotate|revoke`, run as the real console script."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from iep.bootstrap import Container
from iep.kit.clock import FakeClock
from iep.tenancy import auth as tenancy_auth
from tests.conftest import verify_domains
from tests.entrypoints.test_cli import iep, ok_json, refused

SEND = {"to": ["a@example.com"], "from": "x@product.example", "subject": "S", "textBody": "T"}


async def test_show_list_rotate_and_revoke_from_the_shell(
    container: Container,
    database_url: str,
    api: httpx.AsyncClient,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tenancy_auth, "RECHECK_SECONDS", 0.0)
    ok_json(iep(database_url, "tenants", "create", "--name", "Acme"))
    created = ok_json(iep(database_url, "keys", "create", "--tenant", "acme", "--scopes", "send,read", "--name", "b"))
    await verify_domains(container, "acme")

    shown = ok_json(iep(database_url, "tenants", "show", "acme"))
    assert shown["slug"] == "acme"
    assert [k["prefix"] for k in shown["keys"]] == [created["prefix"]]
    assert created["key"] not in str(shown)

    listed = ok_json(iep(database_url, "keys", "list", "--tenant", "acme"))
    assert [(k["prefix"], k["status"], k["name"]) for k in listed] == [(created["prefix"], "active", "b")]
    assert "key" not in listed[0]

    rotated = ok_json(iep(database_url, "keys", "rotate", created["prefix"], "--grace-seconds", "0"))
    assert rotated["key"].startswith(f"iep_{rotated['prefix']}_")
    assert rotated["scopes"] == ["read", "send"]
    assert rotated["previous"]["rotatedTo"] == rotated["prefix"]
    clock.advance((datetime.now(UTC) - clock.now()).total_seconds() + 1)  # the API's clock is the CLI's again
    old = await api.post("/v1/messages", json=SEND, headers={"Authorization": f"Bearer {created['key']}"})
    assert old.status_code == 401
    new_headers = {"Authorization": f"Bearer {rotated['key']}"}
    assert (await api.post("/v1/messages", json=SEND, headers=new_headers)).status_code == 202

    statuses = {k["prefix"]: k["status"] for k in ok_json(iep(database_url, "keys", "list", "--tenant", "acme"))}
    assert statuses == {created["prefix"]: "expired", rotated["prefix"]: "active"}

    revoked = ok_json(iep(database_url, "keys", "revoke", rotated["prefix"]))
    assert revoked["revokedAt"] is not None
    assert (await api.post("/v1/messages", json=SEND, headers=new_headers)).status_code == 401
    refused(iep(database_url, "keys", "rotate", rotated["prefix"]), "revoked")


async def test_suspend_then_activate_reports_what_was_requeued(container: Container, database_url: str) -> None:
    del container
    ok_json(iep(database_url, "tenants", "create", "--name", "Acme"))
    assert ok_json(iep(database_url, "tenants", "suspend", "acme"))["active"] is False
    activated = ok_json(iep(database_url, "tenants", "activate", "acme"))
    assert activated["active"] is True
    assert activated["requeued"] == 0


async def test_unknown_names_are_clear_errors(container: Container, database_url: str) -> None:
    del container
    refused(iep(database_url, "tenants", "show", "nope"), "no tenant")
    refused(iep(database_url, "keys", "list", "--tenant", "nope"), "no tenant")
    refused(iep(database_url, "keys", "rotate", "zzzzzzzz"), "no key")
    refused(iep(database_url, "keys", "rotate", "zzzzzzzz", "--grace-seconds", "-1"), "grace")
