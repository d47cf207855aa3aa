"""`make dev` prints the dashboard's URL with the demo operator's login, and that login works."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from iep import bootstrap
from iep.bootstrap import Container
from iep.config import load_settings
from iep.entrypoints.api import create_app
from iep.entrypoints.dev import DEMO_OPERATOR, announce
from iep.kit.clock import FakeClock
from iep.rendering.renderer import Renderer
from tests.admin.conftest import sign_in


async def test_the_banner_names_the_dashboard_and_a_working_login(
    container: Container, database_url: str, renderer: Renderer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    del container  # its setup empties the tables
    settings = load_settings(
        database_url=database_url, service_role="dev", state_dir=tmp_path, attachments_dir=tmp_path / "att"
    )
    dev = bootstrap.build(settings, database_url, clock=FakeClock(), providers={}, pool_size=2, renderer=renderer)
    try:
        await announce(dev, settings)
        banner = capsys.readouterr().err
        line = re.search(rf"Dashboard  (\S+)   \(sign in: {re.escape(DEMO_OPERATOR)} / (\S+);", banner)
        assert line is not None, banner
        assert line.group(1) == f"http://localhost:{settings.port}/admin"
        password = line.group(2)
        await announce(dev, settings)  # a second start keeps the same password
        assert f"{DEMO_OPERATOR} / {password};" in capsys.readouterr().err
        app = create_app(dev)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://iep.test") as client:
            assert (await sign_in(client, DEMO_OPERATOR, password)).status_code == 303
            inbox = await client.get("/admin/inbox")
            assert inbox.status_code == 200
    finally:
        await dev.close()
