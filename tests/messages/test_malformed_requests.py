"""A2 / D10: malformed requests get a 4xx problem+json naming the fields, persist nothing, never a 5xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from iep.bootstrap import Container
from tests.conftest import TenantKey
from tests.support.accepted import committed

GOOD: dict[str, Any] = {
    "to": ["user@example.com"],
    "from": {"email": "noreply@product.example", "name": "Product"},
    "subject": "Hello {{name}}",
    "htmlBody": "<p>Hi {{name}}</p>",
    "variables": {"name": "Ada"},
}


def with_(**changes: Any) -> dict[str, Any]:
    body = dict(GOOD)
    for key, value in changes.items():
        if value is ...:
            body.pop(key, None)
        else:
            body[key] = value
    return body


# (case id, json body or raw bytes, expected status, a field path that must be named or None)
CASES: list[tuple[str, Any, int, str | None]] = [
    ("to missing", with_(to=...), 422, "to"),
    ("to empty list", with_(to=[]), 422, "to"),
    ("to not an address", with_(to=["not-an-address"]), 422, "to[0]"),
    ("to second bad", with_(to=["ok@example.com", "bad@"]), 422, "to[1]"),
    ("to two addresses in one string", with_(to=["a@example.com, b@example.com"]), 422, "to[0]"),
    ("to display form is not bare", with_(to=["Bob <bob@example.com>"]), 422, "to[0]"),
    ("to with CRLF", with_(to=["a@example.com\r\nBcc: x@evil.example"]), 422, "to[0]"),
    ("to is a number", with_(to=[42]), 422, "to[0]"),
    ("to is an object", with_(to={"email": "a@example.com"}), 422, "to"),
    ("cc bad", with_(cc=["@example.com"]), 422, "cc[0]"),
    ("bcc NUL", with_(bcc=["a\x00@example.com"]), 422, "bcc[0]"),
    ("too many recipients", with_(to=[f"u{i}@example.com" for i in range(51)]), 422, ""),
    (
        "too many across to/cc/bcc",
        with_(
            to=[f"t{i}@example.com" for i in range(20)],
            cc=[f"c{i}@example.com" for i in range(20)],
            bcc=[f"b{i}@example.com" for i in range(11)],
        ),
        422,
        "",
    ),
    ("address too long", with_(to=["a" * 250 + "@example.com"]), 422, "to[0]"),
    ("domain without dot", with_(to=["a@localhost"]), 422, "to[0]"),
    ("from missing", with_(**{"from": ...}), 422, "from"),
    ("from two addresses smuggled", with_(**{"from": "a@verified.example <b@evil.example>"}), 422, "from"),
    ("from list of two", with_(**{"from": "a@product.example, b@evil.example"}), 422, "from"),
    ("from two angle addrs", with_(**{"from": "X <a@product.example> <b@evil.example>"}), 422, "from"),
    ("from object bad email", with_(**{"from": {"email": "nope"}}), 422, "from.email"),
    (
        "from name with CRLF",
        with_(**{"from": {"email": "a@product.example", "name": "A\r\nBcc: x@evil.example"}}),
        422,
        "from.name",
    ),
    (
        "from name encoded newline",
        with_(**{"from": {"email": "a@product.example", "name": "=?UTF-8?Q?A=0ABcc:_x@evil.example?="}}),
        422,
        "from.name",
    ),
    ("from extra field", with_(**{"from": {"email": "a@product.example", "x": 1}}), 422, "from.x"),
    ("replyTo bad", with_(replyTo="reply"), 422, "replyTo"),
    ("replyTo CRLF", with_(replyTo="a@example.com\nBcc: x@evil.example"), 422, "replyTo"),
    ("subject missing", with_(subject=...), 422, "subject"),
    ("subject empty", with_(subject=""), 422, "subject"),
    ("subject CRLF", with_(subject="Hi\r\nBcc: injected@evil.example"), 422, "subject"),
    ("subject LF", with_(subject="Hi\nBcc: injected@evil.example"), 422, "subject"),
    ("subject NUL", with_(subject="Hi\x00there"), 422, "subject"),
    (
        "subject encoded-word newline",
        with_(subject="A =?UTF-8?Q?=0A?=Bcc: injected@evil.example"),
        422,
        "subject",
    ),
    (
        "subject encoded-word b64 newline",
        with_(subject="A =?UTF-8?B?Cg==?=Bcc: injected@evil.example"),
        422,
        "subject",
    ),
    ("subject too long", with_(subject="x" * 999), 422, "subject"),
    ("subject not a string", with_(subject=["a"]), 422, "subject"),
    ("no body at all", with_(htmlBody=...), 422, ""),
    ("htmlBody bad handlebars", with_(htmlBody="<p>{{#if x}}unclosed</p>"), 422, "htmlBody"),
    ("subject bad handlebars", with_(subject="Hi {{#each}}"), 422, "subject"),
    ("textBody bad handlebars", with_(textBody="{{/if}}"), 422, "textBody"),
    ("htmlBody NUL", with_(htmlBody="<p>a\x00b</p>"), 422, "htmlBody"),
    ("htmlBody not a string", with_(htmlBody=123), 422, "htmlBody"),
    ("variables not an object", with_(variables=["a"]), 422, "variables"),
    ("metadata not an object", with_(metadata="x"), 422, "metadata"),
    ("tags not a list", with_(tags="a"), 422, "tags"),
    ("tag with spaces", with_(tags=["has space"]), 422, "tags"),
    ("too many tags", with_(tags=[f"t{i}" for i in range(21)]), 422, "tags"),
    ("priority unknown", with_(priority="urgent"), 422, "priority"),
    ("priority wrong type", with_(priority=1), 422, "priority"),
    ("unknown field", with_(attachmentsUrl="x"), 422, "attachmentsUrl"),
    ("unknown top-level typo", with_(htmlbody="<p>x</p>"), 422, "htmlbody"),
    ("reserved custom header", with_(headers={"Bcc": "x@evil.example"}), 422, "headers"),
    ("custom header CRLF value", with_(headers={"X-Campaign": "a\r\nBcc: x@evil.example"}), 422, "headers"),
    ("custom header bad name", with_(headers={"X Bad": "v"}), 422, "headers"),
    ("idempotencyKey empty", with_(idempotencyKey=""), 422, "idempotencyKey"),
    ("idempotencyKey with space", with_(idempotencyKey="a b"), 422, "idempotencyKey"),
    ("idempotencyKey too long", with_(idempotencyKey="k" * 256), 422, "idempotencyKey"),
    ("scheduledAt naive", with_(scheduledAt="2026-03-01T09:00:00"), 422, "scheduledAt"),
    ("scheduledAt too far", with_(scheduledAt="2030-01-01T00:00:00Z"), 422, "scheduledAt"),
    ("scheduledAt garbage", with_(scheduledAt="tomorrow"), 422, "scheduledAt"),
    ("body is a list", [GOOD], 422, ""),
    ("body is a string", "hello", 422, ""),
    ("body is null", b"null", 422, ""),
    ("empty body", b"", 400, None),
    ("whitespace body", b"   \n", 400, None),
    ("invalid json", b'{"to": [', 400, None),
    ("json nested 10,000 deep", b"[" * 10_000 + b"]" * 10_000, 400, None),
    ("object nested 10,000 deep", b'{"a":' * 10_000 + b"1" + b"}" * 10_000, 400, None),
    (
        "variables nested 10,000 deep",
        b'{"to":["a@example.com"],"from":"a@product.example","subject":"s",'
        b'"textBody":"t","variables":' + b'{"a":' * 10_000 + b"1" + b"}" * 10_000 + b"}",
        400,
        None,
    ),
    ("not utf-8", b'{"subject": "\xff\xfe"}', 400, None),
]


@pytest.mark.parametrize(("body", "status", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_malformed_request_is_refused_cleanly(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, body: Any, status: int, field: str | None
) -> None:
    headers = {**tenant.headers, "Content-Type": "application/json"}
    if isinstance(body, bytes):
        resp = await api.post("/v1/messages", content=body, headers=headers)
    else:
        resp = await api.post("/v1/messages", json=body, headers=headers)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert problem["status"] == status
    assert problem["type"].startswith("https://")
    assert problem["title"]
    if field is not None:
        fields = [e["field"] for e in problem["errors"]]
        assert field in fields, fields
        assert all(e["message"] for e in problem["errors"])
    assert await committed(container) == (0, 0, 0), "nothing stored, no job owed"


async def test_every_error_is_listed_in_one_answer(api: httpx.AsyncClient, tenant: TenantKey) -> None:
    body = with_(to=["bad"], subject="a\r\nb", priority="x", extra=1)
    resp = await api.post("/v1/messages", json=body, headers=tenant.headers)
    assert resp.status_code == 422
    fields = {e["field"] for e in resp.json()["errors"]}
    assert {"to[0]", "subject", "priority", "extra"} <= fields


def test_there_are_at_least_forty_cases() -> None:
    assert len(CASES) >= 40


async def test_too_large_body_is_413(api: httpx.AsyncClient, container: Container, tenant: TenantKey) -> None:
    container.settings.max_body_bytes = 4096
    resp = await api.post("/v1/messages", json=with_(htmlBody="x" * 10_000), headers=tenant.headers)
    assert resp.status_code == 413
    assert resp.headers["content-type"].startswith("application/problem+json")


async def test_non_json_content_type_is_415(api: httpx.AsyncClient, tenant: TenantKey) -> None:
    resp = await api.post(
        "/v1/messages",
        content=b"to=a",
        headers={**tenant.headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status_code == 415
