"""`iep suppressions list|add|remove --tenant SLUG`: the real console script against the test database."""

from __future__ import annotations

import httpx

from iep.bootstrap import Container
from tests.conftest import TenantKey
from tests.entrypoints.test_cli import iep, ok_json, refused


async def test_add_list_remove_from_the_command_line(
    container: Container, database_url: str, api: httpx.AsyncClient, tenant: TenantKey
) -> None:
    del container  # its setup truncated the tables; `tenant` is the slug `acme`
    added = ok_json(iep(database_url, "suppressions", "add", "--tenant", "acme", "Someone@Example.com"))
    assert (added["tenant"], added["email"], added["reason"], added["source"]) == (
        "acme",
        "someone@example.com",
        "manual",
        "cli",
    )
    dated = ok_json(
        iep(database_url, "suppressions", "add", "--tenant", "acme", "later@example.com", "--expires-at", "2999-01-01")
    )
    assert dated["expires_at"].startswith("2999-01-01T00:00:00")

    listed = ok_json(iep(database_url, "suppressions", "list", "--tenant", "acme", "--reason", "manual"))
    assert sorted(e["email"] for e in listed) == ["later@example.com", "someone@example.com"]
    assert all(e["active"] for e in listed)
    one = ok_json(iep(database_url, "suppressions", "list", "--tenant", "acme", "--email", "LATER@example.com"))
    assert [e["email"] for e in one] == ["later@example.com"]

    # The API sees what the CLI wrote.
    seen = (await api.get("/v1/suppressions", headers=tenant.headers)).json()["data"]
    assert sorted(e["email"] for e in seen) == ["later@example.com", "someone@example.com"]

    removed = ok_json(iep(database_url, "suppressions", "remove", "--tenant", "acme", "someone@example.com"))
    assert removed == {"tenant": "acme", "email": "someone@example.com", "removed": True}
    refused(iep(database_url, "suppressions", "remove", "--tenant", "acme", "someone@example.com"), "not suppressed")
    refused(iep(database_url, "suppressions", "list", "--tenant", "nope"), "no tenant with slug 'nope'")
    refused(iep(database_url, "suppressions", "add", "--tenant", "acme", "not-an-address"), "EMAIL")
    refused(
        iep(database_url, "suppressions", "add", "--tenant", "acme", "x@example.com", "--expires-at", "2001-01-01"),
        "in the future",
    )
