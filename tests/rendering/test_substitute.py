"""Plain `{{name}}` substitution in process: exactly the engine's output, and everything else left to the pool."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iep.rendering import handlebars
from iep.rendering.substitute import MAX_SOURCE_CHARS, substitute

_NAMES = st.sampled_from(["name", "order", "user.first", "user.missing", "missing", "n", "a_b"])
_VALUES = st.one_of(st.text(max_size=40), st.integers(-(10**9), 10**9), st.none())
_LITERAL = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40).filter(
    lambda s: "{" not in s and "}" not in s and "\\" not in s
)


@st.composite
def _sources(draw: st.DrawFn) -> str:
    pieces = []
    for _ in range(draw(st.integers(0, 6))):
        pieces.append(draw(_LITERAL))
        spaces = draw(st.sampled_from(["", " ", "  "]))
        pieces.append("{{" + spaces + draw(_NAMES) + spaces + "}}")
    pieces.append(draw(_LITERAL))
    return "".join(pieces)


@settings(max_examples=300, deadline=None)
@given(source=_sources(), name=_VALUES, order=_VALUES, first=_VALUES, n=_VALUES)
def test_simple_substitution_is_exactly_what_the_engine_renders(
    source: str, name: Any, order: Any, first: Any, n: Any
) -> None:
    data = {"name": name, "order": order, "user": {"first": first}, "n": n, "a_b": "x<y"}
    rendered = substitute(source, source, source, data)
    assert rendered is not None
    expected = handlebars.render(source, data)
    assert rendered == (expected, expected, expected)


@pytest.mark.parametrize(
    "source",
    [
        "{{#if a}}x{{/if}}",
        "{{{raw}}}",
        "{{raw}}}",
        "{{{raw}}",
        "{{! comment }}",
        "{{> partial}}",
        "{{~name~}}",
        "{{this}}",
        "{{else}}",
        "{{true}}",
        "{{log name}}",
        "{{lookup a b}}",
        "{{name arg}}",
        "{{@index}}",
        "{{../up}}",
        "{{a.[0]}}",
        "stray }} brace",
        "stray {{ brace",
        "\\{{name}}",
        "x" * (MAX_SOURCE_CHARS + 1) + "{{name}}",
    ],
)
def test_anything_beyond_plain_names_goes_to_the_pool(source: str) -> None:
    assert substitute(source, None, "t", {"name": "n", "a": True, "raw": "<b>"}) is None


@pytest.mark.parametrize("value", [True, 1.5, ["a"], {"k": "v"}])
def test_values_the_engine_formats_its_own_way_go_to_the_pool(value: Any) -> None:
    assert substitute("{{v}}", None, None, {"v": value}) is None


def test_html_without_text_goes_to_the_pool_which_makes_the_text_part() -> None:
    assert substitute("s", "<p>{{name}}</p>", None, {"name": "x"}) is None
    assert substitute("s {{name}}", None, "t {{name}}", {"name": "<x>"}) == ("s &lt;x&gt;", None, "t &lt;x&gt;")


def test_content_without_expressions_is_returned_untouched() -> None:
    html = "<p>50% off &amp; more</p>"
    assert substitute("Sale", html, "text", {}) == ("Sale", html, "text")
