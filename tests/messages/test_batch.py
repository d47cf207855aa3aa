"""A7 `POST /v1/messages/batch`: each item validated on its own, per-item results in request order, the valid ones
committed together, idempotency per item and per batch, limits counted per message."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from iep.bootstrap import Container
from iep.messages import repository
from iep.rendering.handlebars import INLINE_CHECK_CHARS
from tests.conftest import TenantKey
from tests.support.accepted import committed


def item(n: int) -> dict[str, Any]:
    return {"to": [f"r{n}@example.com"], "from": "App <app@product.example>", "subject": f"S{n}", "textBody": "T"}


async def test_500_items_with_3_invalid_accepts_497_and_names_the_3(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[int] = []
    real = repository.insert_accepted_many

    async def recording(conn: Any, batch: list[dict[str, Any]]) -> Any:
        statements.append(len(batch))
        return await real(conn, batch)

    monkeypatch.setattr(repository, "insert_accepted_many", recording)
    body = [item(n) for n in range(500)]
    body[7]["to"] = ["not-an-address"]
    body[250]["from"] = "app@unverified.example"
    body[499] = {**item(499), "priority": "urgent", "tags": ["bad tag"]}
    resp = await api.post("/v1/messages/batch", json={"messages": body}, headers=tenant.headers)
    assert resp.status_code == 200, resp.text[:500]
    out = resp.json()
    assert (out["accepted"], out["rejected"]) == (497, 3)
    assert [r["index"] for r in out["data"]] == list(range(500))
    rejected = {r["index"]: r["problem"] for r in out["data"] if r["status"] == "rejected"}
    assert set(rejected) == {7, 250, 499}
    assert [e["field"] for e in rejected[7]["errors"]] == ["messages[7].to[0]"]
    assert [e["pointer"] for e in rejected[7]["errors"]] == ["/messages/7/to/0"]
    assert [e["field"] for e in rejected[250]["errors"]] == ["messages[250].from"]
    assert "unverified.example" in rejected[250]["errors"][0]["message"]
    assert {e["pointer"] for e in rejected[499]["errors"]} == {"/messages/499/priority", "/messages/499/tags"}
    assert all(p["status"] == 422 and p["type"].endswith("/validation") for p in rejected.values())
    ids = [r["messageId"] for r in out["data"] if r["status"] == "queued"]
    assert len(set(ids)) == 497
    assert await committed(container) == (497, 497, 497)
    assert statements == [497], "the accepted items are written together"
    # Each accepted item is a message like any other, in request order.
    first = await api.get(f"/v1/messages/{ids[0]}", headers=tenant.headers)
    assert first.json()["to"] == ["r0@example.com"]
    assert first.json()["from"] == {"email": "app@product.example", "name": "App"}


async def test_a_retried_batch_replays_item_by_item(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey
) -> None:
    headers = {**tenant.headers, "Idempotency-Key": "nightly-2026-03-01"}
    body = {"messages": [item(0), item(1), {**item(2), "to": []}]}
    first = await api.post("/v1/messages/batch", json=body, headers=headers)
    assert first.status_code == 200
    assert "Idempotent-Replayed" not in first.headers
    again = await api.post("/v1/messages/batch", json=body, headers=headers)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert [r.get("messageId") for r in again.json()["data"]] == [r.get("messageId") for r in first.json()["data"]]
    assert [r.get("replayed") for r in again.json()["data"]] == [True, True, None]
    assert await committed(container) == (2, 2, 2)
    # The same batch key over another body: the changed item is refused, the unchanged one replays.
    changed = await api.post(
        "/v1/messages/batch", json={"messages": [item(0), {**item(1), "subject": "other"}]}, headers=headers
    )
    data = changed.json()["data"]
    assert data[0]["replayed"] is True
    assert data[1]["status"] == "rejected"
    assert data[1]["problem"]["type"].endswith("/idempotency-key-reused")
    assert await committed(container) == (2, 2, 2)


async def test_item_keys_are_the_single_send_keys(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey
) -> None:
    single = await api.post("/v1/messages", json={**item(0), "idempotencyKey": "k0"}, headers=tenant.headers)
    assert single.status_code == 202
    body = {"messages": [{**item(0), "idempotencyKey": "k0"}, {**item(5), "idempotencyKey": "k5"}]}
    resp = await api.post("/v1/messages/batch", json=body, headers=tenant.headers)
    data = resp.json()["data"]
    assert data[0]["messageId"] == single.json()["messageId"]
    assert data[0]["replayed"] is True
    assert data[1]["replayed"] is False
    # The same key twice in one batch with the same body: one message, both items answer it.
    twice = await api.post(
        "/v1/messages/batch",
        json={"messages": [{**item(9), "idempotencyKey": "k9"}, {**item(9), "idempotencyKey": "k9"}]},
        headers=tenant.headers,
    )
    first, second = twice.json()["data"]
    assert first["messageId"] == second["messageId"]
    assert await committed(container) == (3, 3, 3)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [item(0)] * 501}, "messages"),
        ({"messages": item(0)}, "messages"),
        ({"messages": [item(0)], "extra": 1}, "extra"),
        ([item(0)], ""),
    ],
    ids=["empty", "over-500", "not-a-list", "extra-key", "bare-list"],
)
async def test_a_malformed_batch_is_one_422(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, body: Any, field: str
) -> None:
    resp = await api.post("/v1/messages/batch", json=body, headers=tenant.headers)
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in resp.json()["errors"]] == [field]
    assert await committed(container) == (0, 0, 0)


async def test_large_templated_items_are_parsed_in_a_render_process(api: httpx.AsyncClient, tenant: TenantKey) -> None:
    big = "{{a}} " * (INLINE_CHECK_CHARS // 6 + 10)
    body = {"messages": [{**item(0), "htmlBody": big}, {**item(1), "htmlBody": big + "{{#if a}}never closed"}]}
    resp = await api.post("/v1/messages/batch", json=body, headers=tenant.headers)
    first, second = resp.json()["data"]
    assert first["status"] == "queued"
    assert second["status"] == "rejected"
    [error] = second["problem"]["errors"]
    assert (error["field"], error["code"]) == ("messages[1].htmlBody", "template_syntax")
