"""A5 listing with filters and cursors; A6 cancel and retry."""

from __future__ import annotations

import httpx

from iep.bootstrap import Container
from iep.kit.clock import FakeClock
from tests.conftest import TenantKey
from tests.support.pipeline import drain
from tests.support.smtp_sink import SmtpSink

PAYLOAD = {"to": ["a@example.com"], "from": "x@product.example", "subject": "S", "textBody": "T"}


async def test_cancel_a_queued_message_and_it_is_never_sent(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink
) -> None:
    mid = (await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)).json()["messageId"]
    resp = await api.post(f"/v1/messages/{mid}/cancel", headers=tenant.headers)
    assert resp.status_code == 200
    assert resp.json()["status"] == "canceled"
    await drain(container)
    assert sink.handler.received == []
    doc = (await api.get(f"/v1/messages/{mid}", headers=tenant.headers)).json()
    assert doc["status"] == "canceled"
    again = await api.post(f"/v1/messages/{mid}/cancel", headers=tenant.headers)
    assert again.status_code == 409
    assert again.json()["type"].endswith("/conflict")


async def test_retry_a_failed_message(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink
) -> None:
    sink.handler.data_replies = ["554 5.7.1 rejected"]
    mid = (await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)).json()["messageId"]
    early = await api.post(f"/v1/messages/{mid}/retry", headers=tenant.headers)
    assert early.status_code == 409, "a queued message cannot be retried"
    await drain(container)
    assert (await api.get(f"/v1/messages/{mid}", headers=tenant.headers)).json()["status"] == "failed"
    resp = await api.post(f"/v1/messages/{mid}/retry", headers=tenant.headers)
    assert resp.status_code == 202
    await drain(container)
    doc = (await api.get(f"/v1/messages/{mid}", headers=tenant.headers)).json()
    assert doc["status"] == "sent"
    assert doc["attempts"] == 1
    assert sink.handler.ids() == [mid]


async def test_list_filters_and_cursor_pagination(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, clock: FakeClock
) -> None:
    ids = []
    for i in range(7):
        clock.advance(1)
        payload = {
            **PAYLOAD,
            "to": [f"user{i}@example.com"],
            "tags": ["even" if i % 2 == 0 else "odd"],
            "metadata": {"category": "billing" if i < 3 else "auth"},
        }
        ids.append((await api.post("/v1/messages", json=payload, headers=tenant.headers)).json()["messageId"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/v1/messages", params=params, headers=tenant.headers)).json()
        seen += [m["messageId"] for m in page["data"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))

    async def only(**params: object) -> list[str]:
        resp = await api.get("/v1/messages", params=params, headers=tenant.headers)
        assert resp.status_code == 200, resp.text
        return [m["messageId"] for m in resp.json()["data"]]

    assert await only(tag="even") == [ids[6], ids[4], ids[2], ids[0]]
    assert await only(category="billing") == [ids[2], ids[1], ids[0]]
    assert await only(to="user5@example.com") == [ids[5]]
    assert await only(status="queued", limit=2, offset=1) == [ids[5], ids[4]]
    assert await only(status="sent") == []
    bad = await api.get("/v1/messages", params={"status": "nope"}, headers=tenant.headers)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    bad_cursor = await api.get("/v1/messages", params={"cursor": "!!"}, headers=tenant.headers)
    assert bad_cursor.status_code == 400
