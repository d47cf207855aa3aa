"""Jinja2 for named templates (D8): the immutable sandbox, autoescaped HTML, and guards against exhaustion.

The sandbox stops escapes (`__class__`, `__globals__`, mutating data); it does not stop `9**999999` or
`'a' * 10**9` (SPEC.md §4). The guards below refuse the arithmetic that builds huge values in one step, output is
counted while it is generated, and everything runs in a render process that is killed at the timeout.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from jinja2 import ChainableUndefined, Template, TemplateSyntaxError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from iep.rendering.limits import MAX_OUTPUT_CHARS

# Globals a template has no use for in an email and that are the usual first step of a sandbox escape.
_DROPPED_GLOBALS = ("lipsum", "cycler", "joiner")
_MAX_POWER_BITS = 4096


class TemplateTooLarge(Exception):
    """The template tried to produce more than the output cap."""


class GuardedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with `*` and `**` checked before they allocate."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, *, autoescape: bool) -> None:
        super().__init__(autoescape=autoescape, undefined=ChainableUndefined, auto_reload=False, cache_size=0)
        for name in _DROPPED_GLOBALS:
            self.globals.pop(name, None)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            _check_power(left, right)
        elif operator == "*":
            _check_repeat(left, right)
        return super().call_binop(context, operator, left, right)


def _check_power(base: Any, exponent: Any) -> None:
    numbers = isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1
    if numbers and exponent * math.log2(abs(base)) > _MAX_POWER_BITS:
        raise TemplateTooLarge(f"{base}**{exponent} is too large to compute in a template")


def _check_repeat(left: Any, right: Any) -> None:
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(count, int) and len(seq) * count > MAX_OUTPUT_CHARS:
            raise TemplateTooLarge(f"repeating {len(seq)} items {count} times is over the output cap")


HTML_ENV = GuardedSandbox(autoescape=True)
TEXT_ENV = GuardedSandbox(autoescape=False)


def check_syntax(source: str, *, html: bool) -> None:
    """Parse only (no code generation, nothing runs); raises `TemplateSyntaxError` with a line number."""
    (HTML_ENV if html else TEXT_ENV).parse(source)


def compile_template(source: str, *, html: bool) -> Template:
    return (HTML_ENV if html else TEXT_ENV).from_string(source)


def render_capped(template: Template, data: Mapping[str, Any], *, budget: int) -> str:
    """Render, counting characters as they are produced; over `budget` raises `TemplateTooLarge`."""
    parts: list[str] = []
    used = 0
    for chunk in template.generate(dict(data)):
        used += len(chunk)
        if used > budget:
            raise TemplateTooLarge(f"the template produced more than {budget} characters")
        parts.append(chunk)
    return "".join(parts)


__all__ = ["TemplateSyntaxError", "TemplateTooLarge", "check_syntax", "compile_template", "render_capped"]
