"""Custom headers are an allowlist, refused at accept with a 422 naming the header; a variable rendered into the
subject with a line break fails its message with `header_injection` and nothing reaches the provider."""

from __future__ import annotations

import httpx
import pytest

from iep.bootstrap import Container
from tests.conftest import TenantKey
from tests.providers.test_header_injection import HEADER_NAMES, SUBJECT_VARIABLES
from tests.support.pipeline import drain
from tests.support.smtp_sink import SmtpSink

BASE = {"to": ["user@example.com"], "from": "App <app@product.example>", "subject": "Hi", "textBody": "Hello"}


@pytest.mark.parametrize("name", HEADER_NAMES, ids=[f"name-{i}" for i in range(len(HEADER_NAMES))])
async def test_a_forbidden_header_is_a_422_naming_it(api: httpx.AsyncClient, tenant: TenantKey, name: str) -> None:
    resp = await api.post("/v1/messages", json={**BASE, "headers": {name: "v"}}, headers=tenant.headers)
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
    errors = resp.json()["errors"]
    assert [e["field"] for e in errors] == ["headers"]
    assert repr(name)[:40].strip("'") in errors[0]["message"] or name[:20] in errors[0]["message"]


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Campaign": "spring"},
        {"List-Id": "<news.product.example>"},
        {"References": "<a@b.example>", "In-Reply-To": "<a@b.example>"},
        {"Precedence": "bulk", "Auto-Submitted": "auto-generated"},
    ],
    ids=["x-header", "list-id", "threading", "precedence"],
)
async def test_allowed_headers_are_accepted_and_sent(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink, headers: dict[str, str]
) -> None:
    resp = await api.post("/v1/messages", json={**BASE, "headers": headers}, headers=tenant.headers)
    assert resp.status_code == 202, resp.text
    assert await drain(container) == 1
    message = sink.handler.received[0].message
    for name, value in headers.items():
        assert message[name] == value


async def test_a_rendered_subject_with_a_line_break_fails_with_header_injection(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink
) -> None:
    ids = []
    # (A NUL in variables is refused at accept already: jsonb cannot hold it.)
    for value in [v for v in SUBJECT_VARIABLES if "\x00" not in v][:10]:
        body = {**BASE, "subject": "Hi {{{v}}}", "variables": {"v": value}}
        resp = await api.post("/v1/messages", json=body, headers=tenant.headers)
        assert resp.status_code == 202, resp.text
        ids.append(resp.json()["messageId"])
    await drain(container)
    assert sink.handler.received == []
    for message_id in ids:
        shown = (await api.get(f"/v1/messages/{message_id}", headers=tenant.headers)).json()
        assert shown["status"] == "failed"
        assert shown["attempts"] == 1
        assert shown["events"][-1]["payload"]["reason"] == "header_injection"
