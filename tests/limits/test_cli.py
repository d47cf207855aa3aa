"""`iep tenants update SLUG --max-per-minute N …` (SPEC §3): merged into the settings, printed, refused clearly."""

from __future__ import annotations

import json

from iep.bootstrap import Container
from tests.conftest import make_tenant
from tests.entrypoints.test_cli import iep, ok_json, refused


async def test_update_merges_limits_into_the_settings(container: Container, database_url: str) -> None:
    await make_tenant(container, "acme")
    first = ok_json(iep(database_url, "tenants", "update", "acme", "--max-per-minute", "100", "--burst", "20"))
    assert first["slug"] == "acme"
    assert first["settings"]["max_per_minute"] == 100
    assert first["settings"]["burst"] == 20
    second = ok_json(
        iep(database_url, "tenants", "update", "acme", "--max-per-hour", "1000", "--max-per-day", "0",
            "--monthly-quota", "50000")
    )  # fmt: skip
    settings = second["settings"]
    assert {k: settings[k] for k in ("max_per_minute", "max_per_hour", "max_per_day", "burst", "monthly_quota")} == {
        "max_per_minute": 100,
        "max_per_hour": 1000,
        "max_per_day": 0,
        "burst": 20,
        "monthly_quota": 50000,
    }
    listed = ok_json(iep(database_url, "tenants", "list"))
    assert listed[0]["settings"] == settings


async def test_update_refuses_bad_values_and_unknown_tenants(container: Container, database_url: str) -> None:
    await make_tenant(container, "acme")
    refused(iep(database_url, "tenants", "update", "acme", "--max-per-minute", "-1"), "--max-per-minute", "-1")
    refused(iep(database_url, "tenants", "update", "acme", "--burst", "many"), "--burst", "many")
    refused(iep(database_url, "tenants", "update", "acme"), "at least one")
    refused(iep(database_url, "tenants", "update", "nobody", "--burst", "5"), "no tenant with slug 'nobody'")
    shown = iep(database_url, "tenants", "update", "--help")
    assert shown.returncode == 0
    assert "--monthly-quota" in shown.stdout
    unchanged = ok_json(iep(database_url, "tenants", "list"))
    assert json.dumps(unchanged[0]["settings"]) == "{}"
