"""T2, T8, A1, A10: named templates from the folder, checked at accept, sent over SMTP, previewed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from iep.bootstrap import Container
from iep.rendering import react_email
from tests.conftest import TenantKey
from tests.support.pipeline import drain
from tests.support.smtp_sink import SmtpSink

WELCOME = {"name": "Ada", "product": "Acme", "loginUrl": "https://app.acme.example/login"}
INVOICE = {
    "customerName": "Ada Lovelace",
    "company": "Acme",
    "invoiceNumber": "INV-7",
    "dueDate": "2026-12-31",
    "currency": "EUR",
    "payUrl": "https://billing.acme.example/pay/INV-7",
    "total": 1240.0,
    "items": [
        {"description": "Pro plan", "quantity": 1, "unitPrice": 990.0},
        {"description": "Extra seats", "quantity": 5, "unitPrice": 50.0},
    ],
}
FORMATS = ["jinja", "mjml", "react"]


def message(template: str, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"to": ["ada@example.com"], "from": "App <app@product.example>", "template": template,
            "templateData": data, **extra}  # fmt: skip


async def _send(api: httpx.AsyncClient, tenant: TenantKey, body: dict[str, Any], path: str = "/v1/messages") -> str:
    resp = await api.post(path, json=body, headers=tenant.headers)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["messageId"])


@pytest.mark.parametrize("fmt", FORMATS)
async def test_each_format_sends_the_same_invoice(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink, fmt: str
) -> None:
    await _send(api, tenant, message(f"{fmt}/invoice", INVOICE))
    assert await drain(container) == 1
    got = sink.handler.received[0].message
    assert got["Subject"] == "Invoice INV-7 from Acme"
    # React separates adjacent text nodes with `<!-- -->`; a reader never sees it.
    html = got.get_body(("html",)).get_content().replace("<!-- -->", "")
    text = got.get_body(("plain",)).get_content()
    for needle in ("Invoice INV-7", "Hi Ada Lovelace", "Pro plan", "990.00", "250.00", "1240.00", "Pay invoice"):
        assert needle in html, needle
        assert needle.lower() in text.lower(), needle
    assert "<table" in html
    assert 'href="https://billing.acme.example/pay/INV-7"' in html


async def test_jinja_css_is_inlined_and_media_queries_stay(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink
) -> None:
    await _send(api, tenant, message("jinja/welcome", WELCOME))
    await drain(container)
    got = sink.handler.received[0].message
    html = got.get_body(("html",)).get_content()
    assert 'style="display: inline-block;padding: 12px 24px;' in html, "rules are inlined on the elements"
    assert "@media (max-width: 480px)" in html, "what cannot be inlined stays in <style>"
    # The text part is the template's own .txt.jinja, not one made from the HTML.
    text = got.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text.startswith("Welcome, Ada!\n\nThanks for joining Acme.")


async def test_data_is_escaped_in_html(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink
) -> None:
    for fmt in FORMATS:
        await _send(api, tenant, message(f"{fmt}/welcome", {**WELCOME, "name": "<script>x</script>"}))
    await drain(container)
    assert len(sink.handler.received) == 3
    for got in sink.handler.received:
        html = got.message.get_body(("html",)).get_content()
        assert "<script>" not in html
        assert "&lt;script&gt;" in html


async def test_unknown_template_and_bad_data_are_one_422_with_every_error(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey
) -> None:
    resp = await api.post("/v1/messages", json=message("react/nope", {}), headers=tenant.headers)
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert [(e["field"], e["code"]) for e in resp.json()["errors"]] == [("template", "unknown_template")]

    bad = message("jinja/invoice", {**INVOICE, "currency": "euro", "items": [{"description": "x"}]}, to=["bad"])
    resp = await api.post("/v1/messages", json=bad, headers=tenant.headers)
    assert resp.status_code == 422
    fields = {e["field"]: e for e in resp.json()["errors"]}
    assert {"to[0]", "templateData.currency", "templateData.items.0"} <= set(fields)
    assert fields["templateData.currency"]["pointer"] == "/templateData/currency"
    assert fields["templateData.currency"]["code"] == "schema.pattern"
    del container


async def test_template_cannot_be_combined_with_bodies_and_a_subject_overrides(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink
) -> None:
    resp = await api.post(
        "/v1/messages", json=message("jinja/welcome", WELCOME, htmlBody="<p>x</p>"), headers=tenant.headers
    )
    assert resp.status_code == 422
    await _send(api, tenant, message("mjml/welcome", WELCOME, subject="Hi {{name}}, from us"))
    await drain(container)
    assert sink.handler.received[0].message["Subject"] == "Hi Ada, from us"


async def test_v1_send_takes_template_and_props(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink
) -> None:
    body = {"to": "ada@example.com", "from": "app@product.example", "template": "react/welcome", "props": WELCOME}
    message_id = await _send(api, tenant, body, path="/v1/send")
    resp = await api.post("/v1/send", json={**body, "props": {"name": 1}}, headers=tenant.headers)
    assert resp.status_code == 422
    assert {e["field"] for e in resp.json()["errors"]} >= {"props.name", "props"}
    await drain(container)
    assert sink.handler.received[0].message["Subject"] == "Welcome to Acme, Ada!"
    shown = (await api.get(f"/v1/messages/{message_id}", headers=tenant.headers)).json()
    assert shown["status"] == "sent"
    assert shown["subject"] == "Welcome to Acme, Ada!"


async def test_preview_renders_with_example_data_or_given_data(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey
) -> None:
    del container
    resp = await api.post("/v1/templates/react/invoice/render", headers=tenant.headers)
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc["template"] == "_shared/react/invoice"
    assert doc["format"] == "tsx"
    assert doc["subject"] == "Invoice INV-2026-0042 from Acme"
    assert "Pro plan (December)" in doc["html"]
    assert "Pro plan (December)" in doc["text"]

    resp = await api.post(
        "/v1/templates/jinja/welcome/render",
        json={"templateData": {**WELCOME, "name": "Grace"}},
        headers=tenant.headers,
    )
    assert resp.json()["subject"] == "Welcome to Acme, Grace!"

    resp = await api.post("/v1/templates/jinja/welcome/render", json={"templateData": {}}, headers=tenant.headers)
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
    resp = await api.post("/v1/templates/nope/render", headers=tenant.headers)
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/problem+json")


async def test_list_shows_every_example(api: httpx.AsyncClient, container: Container, tenant: TenantKey) -> None:
    del container
    resp = await api.get("/v1/templates", headers=tenant.headers)
    assert resp.status_code == 200
    rows = {r["name"]: r for r in resp.json()["data"]}
    expected = {f"{f}/{n}" for f in FORMATS for n in ("welcome", "password-reset", "invoice", "weekly-digest")}
    assert set(rows) == expected
    assert rows["react/invoice"]["format"] == "tsx"
    assert rows["react/invoice"]["hasSchema"] is True
    assert all(r["namespace"] == "_shared" for r in rows.values())


async def test_preview_of_a_tsx_template_without_bun_is_503(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    del container
    monkeypatch.setattr(react_email, "BUN", react_email.TOOLCHAIN_DIR / "missing" / "bun")
    resp = await api.post("/v1/templates/react/welcome/render", headers=tenant.headers)
    assert resp.status_code == 503
    assert resp.headers["retry-after"] == "5"
    assert "make install" in resp.json()["detail"]
