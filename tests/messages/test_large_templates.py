"""Large inline Handlebars at accept (docs/security.md): templated parts are capped at 1 MiB each, parts over
16 KiB are parsed in a render process (never on the API's event loop), and the parse is linear."""

from __future__ import annotations

import random

import httpx
import pytest

from iep.messages import schemas
from iep.rendering import handlebars
from iep.rendering.handlebars import INLINE_CHECK_CHARS, MAX_TEMPLATED_CHARS
from tests.conftest import TenantKey

BASE = {"to": ["user@example.com"], "from": "App <app@product.example>", "subject": "Hi", "variables": {"a": "x"}}


def _templated(size: int, unit: str = "{{{a}}} ") -> str:
    return (unit * (size // len(unit) + 1))[:size].rsplit("{", 1)[0].rstrip("{")


async def test_templated_content_over_the_cap_is_a_422_naming_the_part(
    api: httpx.AsyncClient, tenant: TenantKey
) -> None:
    body = {**BASE, "htmlBody": "{{a}}" + "x" * MAX_TEMPLATED_CHARS}
    resp = await api.post("/v1/messages", json=body, headers=tenant.headers)
    assert resp.status_code == 422
    assert resp.headers["content-type"].startswith("application/problem+json")
    [error] = resp.json()["errors"]
    assert error["field"] == "htmlBody"
    assert str(MAX_TEMPLATED_CHARS) in error["message"]


async def test_content_without_handlebars_keeps_the_body_cap(api: httpx.AsyncClient, tenant: TenantKey) -> None:
    body = {**BASE, "textBody": "plain text " * (2 * MAX_TEMPLATED_CHARS // 11)}
    resp = await api.post("/v1/messages", json=body, headers=tenant.headers)
    assert resp.status_code == 202, resp.text


async def test_large_parts_are_parsed_in_a_render_process_not_on_the_loop(
    api: httpx.AsyncClient, tenant: TenantKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed_here: list[int] = []
    real = handlebars.check_syntax

    def recording(source: str) -> None:
        parsed_here.append(len(source))
        real(source)

    monkeypatch.setattr(schemas, "check_syntax", recording)
    good = {**BASE, "htmlBody": _templated(400_000), "textBody": "Hi {{a}}"}
    assert (await api.post("/v1/messages", json=good, headers=tenant.headers)).status_code == 202
    bad = {**BASE, "htmlBody": _templated(400_000) + "{{#if a}}never closed"}
    resp = await api.post("/v1/messages", json=bad, headers=tenant.headers)
    assert resp.status_code == 422
    [error] = resp.json()["errors"]
    assert (error["field"], error["code"]) == ("htmlBody", "template_syntax")
    assert parsed_here, "small parts are still parsed where they are validated"
    assert max(parsed_here) <= INLINE_CHECK_CHARS


def test_the_indexed_source_finds_what_str_find_finds() -> None:
    rng = random.Random(7)
    alphabet = "}~{a "
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        indexed = handlebars._Source(text)
        for needle in ("}}}", "}~}}", "}}", "{{"):
            for start in range(len(text) + 2):
                assert indexed.find(needle, start) == text.find(needle, start), (text, needle, start)


@pytest.mark.parametrize(
    "source",
    ["{{{a}}} x {{{b}~}}", "{{{a}}", "{{{a}~}", "{{{{raw}}}}{{x}}{{{{/raw}}}}", "\\{{{a}}}", "{{#if a}}{{{b}}}{{/if}}"],
    ids=["both-closers", "unclosed-triple", "unclosed-tilde", "raw-block", "escaped", "nested"],
)
def test_parsing_through_the_index_gives_the_engines_own_answer(source: str) -> None:
    from dotpromptz_handlebars import Handlebars

    def outcome(text: str) -> str:
        try:
            Handlebars().register_template("t", text)
        except ValueError as exc:
            return f"error: {exc}"
        return "ok"

    mine = "ok"
    try:
        handlebars.check_syntax(source)
    except handlebars.TemplateSyntaxError as exc:
        mine = f"error: {exc}"
    assert mine == outcome(source)
