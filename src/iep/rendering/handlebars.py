"""Inline Handlebars (T1) on dotpromptz-handlebars: escaping as handlebars.js, no code execution.

pybars3 compiles templates to Python source and runs tenant input (SPEC.md §4); dotpromptz-handlebars parses
templates into nodes and interprets them, with `{{x}}` escaped as handlebars.js does, `{{{x}}}` raw, missing
variables empty and the built-in `if`/`each`/`with`/`unless` blocks. It is pure Python, so exhaustion (deep
nested `#each`) is bounded by the render timeout, not by the engine.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from dotpromptz_handlebars import Handlebars, TemplateRecursionError


class TemplateSyntaxError(ValueError):
    """The template does not parse; the message says where."""


_local = threading.local()


def _engine() -> Any:
    # One registry per thread: the engine's template registry is not documented as thread-safe.
    engine = getattr(_local, "engine", None)
    if engine is None:
        engine = _local.engine = Handlebars()
    return engine


def check_syntax(source: str) -> None:
    try:
        _engine().register_template("__check__", source)
    except ValueError as exc:
        raise TemplateSyntaxError(str(exc)) from None


def render(source: str, variables: Mapping[str, Any] | None) -> str:
    """Render `source`; content without any `{{` is returned untouched, as seed 003 §8 asks."""
    if "{{" not in source:
        return source
    engine = _engine()
    try:
        engine.register_template("__render__", source)
    except ValueError as exc:
        raise TemplateSyntaxError(str(exc)) from None
    try:
        result: str = engine.render("__render__", dict(variables or {}))
    except (ValueError, TemplateRecursionError) as exc:  # e.g. a call to a helper that does not exist
        raise TemplateSyntaxError(str(exc)) from None
    return result
