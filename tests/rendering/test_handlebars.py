"""T1 with seed 003 §8's rules, escaping as handlebars.js, and SPEC.md §4's pybars3 payload inert."""

from __future__ import annotations

import os

import pytest

from iep.rendering.handlebars import TemplateSyntaxError, check_syntax, render


def test_escaping_matches_handlebars_js() -> None:
    assert render("{{x}}", {"x": '<a href="x">\'`=&'}) == "&lt;a href&#x3D;&quot;x&quot;&gt;&#x27;&#x60;&#x3D;&amp;"
    assert render("{{{x}}}", {"x": "<b>raw</b>"}) == "<b>raw</b>"


def test_missing_is_empty_and_extra_is_ignored() -> None:
    assert render("Hi {{name}}!{{nope}}", {"name": "Ada", "unused": 1}) == "Hi Ada!"


def test_blocks() -> None:
    template = (
        "{{#if vip}}VIP {{/if}}{{#unless vip}}guest {{/unless}}"
        "{{#each items}}[{{this}}]{{/each}}{{#with p}}{{n}}{{/with}}"
    )
    assert render(template, {"vip": True, "items": [1, 2], "p": {"n": "x"}}) == "VIP [1][2]x"
    assert render(template, {"vip": False, "items": [], "p": {"n": "y"}}) == "guest y"


def test_content_without_placeholders_is_untouched() -> None:
    html = "<p>100% {literal} & plain</p>"
    assert render(html, None) == html


@pytest.mark.parametrize("source", ["{{#if x}}open", "{{/if}}", "{{#each}}", "{{"])
def test_syntax_errors_are_reported(source: str) -> None:
    with pytest.raises(TemplateSyntaxError):
        check_syntax(source)


@pytest.mark.parametrize(
    "payload",
    [
        "{{[a') or __import__('os').getpid() or (']}}",
        "{{constructor.constructor 'return process'}}",
        "{{#with this as |x|}}{{x.__class__}}{{/with}}",
        "{{__proto__}}{{lookup this '__proto__'}}",
        "{{[__class__].[__mro__]}}",
    ],
)
def test_injection_payloads_do_not_execute(payload: str) -> None:
    try:
        out = render(payload, {"a": 1})
    except TemplateSyntaxError:
        return
    assert str(os.getpid()) not in out
    assert "class" not in out
    assert "process" not in out
