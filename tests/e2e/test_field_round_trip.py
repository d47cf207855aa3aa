"""Every optional field the API accepts, alone and together, on every queue backend: each message reaches a real
SMTP server with that field applied, and reads back from `GET /v1/messages/{id}` as it was sent."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from iep.bootstrap import Container
from iep.delivery.worker import Worker
from iep.kit.clock import SystemClock
from iep.outbox.relay import Relay
from iep.tenancy.models import tenants
from tests.conftest import TenantKey, make_tenant
from tests.contract.test_queue import Backend
from tests.support import brokers
from tests.support.smtp_sink import Received, SmtpSink

PDF = b"%PDF-1.4 round trip\n"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
FILE = {"filename": "report.pdf", "content": base64.b64encode(PDF).decode(), "contentType": "application/pdf"}
LOGO = {
    "filename": "logo.png",
    "content": base64.b64encode(PNG).decode(),
    "contentType": "image/png",
    "contentId": "logo",
}

Check = Callable[[Received, dict[str, Any]], None]


def _parts(mail: Received) -> list[Any]:
    return [p for p in mail.message.walk() if not p.is_multipart()]


def _check_cc(mail: Received, shown: dict[str, Any]) -> None:
    assert "c@example.com" in mail.rcpt_tos
    assert mail.message["Cc"] == "c@example.com"
    assert shown["cc"] == ["c@example.com"]


def _check_bcc(mail: Received, shown: dict[str, Any]) -> None:
    assert "b@example.com" in mail.rcpt_tos
    assert mail.message["Bcc"] is None, "Bcc is envelope-only"
    assert shown["bcc"] == ["b@example.com"]


def _check_reply_to(mail: Received, shown: dict[str, Any]) -> None:
    assert mail.message["Reply-To"] == "help@product.example"
    assert shown["replyTo"] == "help@product.example"


def _check_headers(mail: Received, shown: dict[str, Any]) -> None:
    assert mail.message["X-Bench-Seq"] == "7"
    assert shown["headers"] == {"X-Bench-Seq": "7"}


def _check_tags(mail: Received, shown: dict[str, Any]) -> None:
    assert shown["tags"] == ["a", "b"]


def _check_metadata(mail: Received, shown: dict[str, Any]) -> None:
    assert shown["metadata"] == {"category": "x"}


def _check_attachment(mail: Received, shown: dict[str, Any]) -> None:
    [pdf] = [p for p in _parts(mail) if p.get_filename() == "report.pdf"]
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_payload(decode=True) == PDF
    assert shown["attachments"] == [
        {"filename": "report.pdf", "contentType": "application/pdf", "size": len(PDF), "contentId": None}
    ]


def _check_inline(mail: Received, shown: dict[str, Any]) -> None:
    [logo] = [p for p in _parts(mail) if p["Content-ID"] == "<logo>"]
    assert logo.get_payload(decode=True) == PNG
    [html] = [p for p in _parts(mail) if p.get_content_type() == "text/html"]
    assert 'src="cid:logo"' in html.get_content()
    assert shown["attachments"][0]["contentId"] == "logo"


def _check_scheduled(mail: Received, shown: dict[str, Any]) -> None:
    scheduled = datetime.fromisoformat(shown["scheduledAt"])
    assert datetime.fromisoformat(shown["sentAt"]) >= scheduled
    assert "scheduled" in [e["type"] for e in shown["events"]]


def _check_priority(mail: Received, shown: dict[str, Any]) -> None:
    assert shown["priority"] == "high"


def _check_template(mail: Received, shown: dict[str, Any]) -> None:
    assert mail.message["Subject"] == "Welcome to Acme, Ada!"
    assert shown["template"] == "_shared/jinja/welcome"
    assert shown["subject"] == "Welcome to Acme, Ada!"


def _check_all(mail: Received, shown: dict[str, Any]) -> None:
    for check in (_check_cc, _check_bcc, _check_reply_to, _check_headers, _check_tags, _check_metadata):
        check(mail, shown)
    assert {p.get_filename() for p in _parts(mail)} >= {"report.pdf", "logo.png"}
    assert shown["priority"] == "high"
    assert shown["idempotencyKey"] == "all-fields"


CASES: dict[str, tuple[dict[str, Any], Check]] = {
    "cc": ({"cc": ["c@example.com"]}, _check_cc),
    "bcc": ({"bcc": ["b@example.com"]}, _check_bcc),
    "replyTo": ({"replyTo": "help@product.example"}, _check_reply_to),
    "headers": ({"headers": {"X-Bench-Seq": "7"}}, _check_headers),
    "tags": ({"tags": ["a", "b"]}, _check_tags),
    "metadata": ({"metadata": {"category": "x"}}, _check_metadata),
    "attachments": ({"attachments": [FILE]}, _check_attachment),
    "inline": ({"htmlBody": '<p><img src="cid:logo"></p>', "attachments": [LOGO]}, _check_inline),
    "priority": ({"priority": "high"}, _check_priority),
    "template": (
        {
            "subject": None,
            "htmlBody": None,
            "textBody": None,
            "template": "jinja/welcome",
            "templateData": {"name": "Ada", "product": "Acme", "loginUrl": "https://acme.example/login"},
        },
        _check_template,
    ),
    "all": (
        {
            "cc": ["c@example.com"],
            "bcc": ["b@example.com"],
            "replyTo": "help@product.example",
            "headers": {"X-Bench-Seq": "7"},
            "tags": ["a", "b"],
            "metadata": {"category": "x"},
            "attachments": [FILE, LOGO],
            "htmlBody": '<p><img src="cid:logo"></p>',
            "priority": "high",
            "idempotencyKey": "all-fields",
        },
        _check_all,
    ),
}


@pytest.fixture
def clock() -> SystemClock:
    """Brokers keep real time: the whole path runs on the system clock here."""
    return SystemClock()


@pytest.fixture(params=["postgres", "rabbitmq", "redis"])
async def backend(
    request: pytest.FixtureRequest, container: Container, rabbitmq_url: str, redis_url: str
) -> AsyncIterator[Backend]:
    del redis_url  # requested so an unreachable Redis stops the run
    prefix = brokers.redis_prefix()
    if request.param == "rabbitmq":
        await brokers.purge_rabbitmq(rabbitmq_url)
    # With a broker, accepts write outbox rows for the relay (ADR 0009), as a deployment with QUEUE_BACKEND set does.
    container.accepts_into_queue = request.param == "postgres"
    made = Backend(request.param, container, rabbitmq_url, prefix)
    yield made
    await made.close()
    if request.param == "redis":
        await brokers.delete_redis_prefix(prefix)


def _payload(name: str, extra: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "to": ["a@example.com"],
        "from": "App <app@product.example>",
        "subject": f"Case {name}",
        "textBody": f"case {name}",
        "htmlBody": f"<p>case {name}</p>",
    }
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


async def _running(container: Container, backend: Backend) -> tuple[Relay, Worker, list[asyncio.Task[None]]]:
    relay = Relay(container.engine, container.database_url, backend.make_queue(), batch_size=100)
    worker = Worker(backend.make_queue(), container.delivery_deps(), concurrency=8, grace_seconds=5)
    return relay, worker, [asyncio.create_task(relay.run()), asyncio.create_task(worker.run())]


async def _wait_sent(api: httpx.AsyncClient, tenant: TenantKey, ids: list[str], within: float) -> dict[str, Any]:
    deadline = time.monotonic() + within
    shown: dict[str, Any] = {}
    while time.monotonic() < deadline:
        for message_id in ids:
            if shown.get(message_id, {}).get("status") != "sent":
                shown[message_id] = (await api.get(f"/v1/messages/{message_id}", headers=tenant.headers)).json()
        if all(s["status"] == "sent" for s in shown.values()):
            return shown
        await asyncio.sleep(0.1)
    raise AssertionError({k: (v["status"], v.get("lastError")) for k, v in shown.items()})


async def test_every_accepted_field_round_trips(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink, backend: Backend
) -> None:
    unsub = await make_tenant(container, "unsub")
    async with container.engine.begin() as conn:
        url = {"listUnsubscribe": {"url": "https://product.example/unsubscribe/{messageId}"}}
        await conn.execute(update(tenants).where(tenants.c.slug == "unsub").values(settings=url))

    ids: dict[str, str] = {}
    for name, (extra, _) in CASES.items():
        resp = await api.post("/v1/messages", json=_payload(name, extra), headers=tenant.headers)
        assert resp.status_code == 202, (name, resp.text)
        ids[name] = resp.json()["messageId"]
    replay = await api.post("/v1/messages", json=_payload("all", CASES["all"][0]), headers=tenant.headers)
    assert replay.json()["messageId"] == ids["all"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    at = datetime.now(UTC) + timedelta(seconds=2)
    scheduled = await api.post(
        "/v1/messages", json=_payload("scheduled", {"scheduledAt": at.isoformat()}), headers=tenant.headers
    )
    assert scheduled.json()["status"] == "scheduled"
    ids["scheduled"] = scheduled.json()["messageId"]
    unsubscribe = await api.post("/v1/messages", json=_payload("unsubscribe", {}), headers=unsub.headers)
    unsub_id = unsubscribe.json()["messageId"]

    relay, worker, tasks = await _running(container, backend)
    try:
        shown = await _wait_sent(api, tenant, list(ids.values()), within=30)
        unsub_shown = await _wait_sent(api, unsub, [unsub_id], within=10)
    finally:
        worker.stop()
        await relay.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)

    by_id = {mail.iep_id: mail for mail in sink.handler.received}
    assert sorted(by_id) == sorted([*ids.values(), unsub_id]), "each message delivered exactly once"
    assert len(sink.handler.received) == len(by_id)
    checks: dict[str, Check] = {name: check for name, (_, check) in CASES.items()}
    checks["scheduled"] = _check_scheduled
    for name, message_id in ids.items():
        mail = by_id[message_id]
        assert "a@example.com" in mail.rcpt_tos, name
        if name != "template":
            assert mail.message["Subject"] == f"Case {name}"
        checks[name](mail, shown[message_id])
    mail = by_id[unsub_id]
    assert mail.message["List-Unsubscribe"].strip() == f"<https://product.example/unsubscribe/{unsub_id}>"
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsub_shown[unsub_id]["status"] == "sent"
