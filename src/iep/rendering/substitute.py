"""Inline content whose only Handlebars is `{{name}}` or `{{a.b}}`, rendered in this process without the pool.

Most transactional content is a fixed text with a few variables; sending it to a render process costs a round
trip of pickling and a context switch for what is a string replacement. This path is linear in the size of the
content (one regular expression with no backtracking, no nesting), capped in size, and gives exactly what the
Handlebars engine gives (`tests/rendering/test_substitute.py` checks it against the engine). Anything else —
blocks, helpers, partials, triple stashes, comments, whitespace control, `this`, literals, values that are not
plain strings or integers, a text part to be made from HTML — returns None and goes to the killable pool.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from iep.rendering.limits import MAX_OUTPUT_CHARS

# Up to this size per part; larger content goes to the pool, whose hard timeout bounds it.
MAX_SOURCE_CHARS = 64 * 1024
_PATH = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_EXPRESSION = re.compile(r"\{\{[ \t]*(" + _PATH + r")[ \t]*\}\}")
# Names the engine treats as something other than a variable lookup.
_RESERVED = frozenset({"else", "this", "true", "false", "null", "undefined", "if", "unless", "each", "with",
                       "lookup", "log", "helperMissing", "blockHelperMissing"})  # fmt: skip
# handlebars.js `escapeExpression`, which the engine follows.
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;", "`": "&#x60;",
                          "=": "&#x3D;"})  # fmt: skip


class _NotSimple(Exception):
    pass


def substitute(
    subject: str, html: str | None, text: str | None, data: Mapping[str, Any]
) -> tuple[str, str | None, str | None] | None:
    """The rendered parts, or None when the content needs the engine (in the pool)."""
    if html is not None and text is None:
        return None  # the text part is made from the HTML in the pool (T6)
    try:
        parts = tuple(_render(part, data) if part is not None else None for part in (subject, html, text))
    except _NotSimple:
        return None
    if sum(len(p or "") for p in parts) > MAX_OUTPUT_CHARS:
        return None  # the pool refuses it with the error every path gives
    out_subject, out_html, out_text = parts
    assert out_subject is not None
    return out_subject, out_html, out_text


def _render(source: str, data: Mapping[str, Any]) -> str:
    if "{{" not in source and "}}" not in source:
        return source  # as the engine: content without `{{` is never parsed
    if len(source) > MAX_SOURCE_CHARS:
        raise _NotSimple()
    parsed = _parse(source)
    if parsed is None:
        raise _NotSimple()
    literals, paths = parsed
    pieces = [literals[0]]
    for path, literal in zip(paths, literals[1:], strict=True):
        pieces.append(_value(path, data))
        pieces.append(literal)
    return "".join(pieces)


# A product sends the same content with other values, message after message: its parse is kept.
@functools.lru_cache(maxsize=128)
def _parse(source: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """The literal text around each `{{path}}` and the paths, or None when the source is not simple."""
    literals: list[str] = []
    paths: list[str] = []
    last = 0
    for match in _EXPRESSION.finditer(source):
        literal = source[last : match.start()]
        if (
            "{{" in literal
            or "}}" in literal
            or literal.endswith(("{", "\\"))
            or source[match.end() : match.end() + 1] == "}"
        ):
            return None
        literals.append(literal)
        paths.append(match.group(1))
        last = match.end()
    tail = source[last:]
    if "{{" in tail or "}}" in tail:
        return None
    literals.append(tail)
    return tuple(literals), tuple(paths)


def _value(path: str, data: Mapping[str, Any]) -> str:
    names = path.split(".")
    if names[0] in _RESERVED:
        raise _NotSimple()
    value: Any = data
    for name in names:
        if not isinstance(value, Mapping):
            raise _NotSimple()  # a lookup into a list, a string's length…: the engine's rules
        value = value.get(name)
        if value is None:
            return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _NotSimple()
    return str(value).translate(_ESCAPES)
