"""Inline Handlebars (T1) on dotpromptz-handlebars: escaping as handlebars.js, no code execution.

pybars3 compiles templates to Python source and runs tenant input (SPEC.md §4); dotpromptz-handlebars parses
templates into nodes and interprets them, with `{{x}}` escaped as handlebars.js does, `{{{x}}}` raw, missing
variables empty and the built-in `if`/`each`/`with`/`unless` blocks. It is pure Python, so exhaustion (deep
nested `#each`) is bounded by the render timeout, not by the engine.
"""

from __future__ import annotations

import bisect
import functools
import re
import threading
from collections.abc import Mapping
from typing import Any, SupportsIndex

from dotpromptz_handlebars import Handlebars, TemplateRecursionError


class TemplateSyntaxError(ValueError):
    """The template does not parse; the message says where."""


# Templated content (anything with `{{`) is capped per part at accept: the parse is linear, but 1 MiB of it is
# already ~0.5 s of CPU (docs/security.md). Content without `{{` is never parsed and keeps the body's own cap.
MAX_TEMPLATED_CHARS = 1024 * 1024
# Up to this size a part is parsed where it is validated (a few ms); larger ones in a render process, so the
# API's event loop never parses for long.
INLINE_CHECK_CHARS = 16 * 1024
_INDEXED = ("}}}", "}~}}")


class _Source(str):
    """A template's source that answers `find` for the triple-stash closers from an index of their positions.

    The engine's tokenizer looks for both `}}}` and `}~}}` after every `{{{`; when one of them does not follow,
    each lookup scans to the end of the source, so the parse is quadratic (400 KB of `{{{a}}}` took 9 s and an
    8 MB request held the API's event loop for 21 s). A bisection in a sorted list makes each lookup O(log n).
    """

    _positions: dict[str, list[int]]

    def __new__(cls, source: str) -> _Source:
        made = super().__new__(cls, source)
        made._positions = {
            needle: [m.start() for m in re.finditer(f"(?={re.escape(needle)})", source)] for needle in _INDEXED
        }
        return made

    def find(self, sub: str, start: SupportsIndex | None = None, end: SupportsIndex | None = None) -> int:
        positions = self._positions.get(sub)
        if positions is None or end is not None:
            return super().find(sub, start, end)
        first = 0 if start is None else int(start)
        at = bisect.bisect_left(positions, first)
        return positions[at] if at < len(positions) else -1


_local = threading.local()


def _silent_log(args: list[Any], options: Any) -> str:
    """`{{log}}` renders nothing, as in handlebars.js, and writes nothing: tenant text never reaches IEP's logs."""
    del args, options
    return ""


def _engine() -> Any:
    # One registry per thread: the engine's template registry is not documented as thread-safe.
    engine = getattr(_local, "engine", None)
    if engine is None:
        engine = _local.engine = Handlebars()
        # The engine's own `log` prints its arguments to the process's stdout (docs/security.md).
        engine.register_helper("log", _silent_log)
    return engine


def check_syntax(source: str) -> None:
    """Parse `source` (linear in its length) and raise TemplateSyntaxError where it does not parse."""
    if "{{" not in source:
        return
    if len(source) <= _CHECKED_MAX_CHARS:
        _check_small(source)
    else:
        _check(source)


# The same inline body comes again and again (one product, one message type): a short one that parsed once
# is not parsed again. The cache is bounded: 128 sources of at most 8 KB each.
_CHECKED_MAX_CHARS = 8192


@functools.lru_cache(maxsize=128)
def _check_small(source: str) -> None:
    _check(source)  # a source that fails raises, and is not cached


def _check(source: str) -> None:
    try:
        _engine().register_template("__check__", _Source(source))
    except ValueError as exc:
        raise TemplateSyntaxError(str(exc)) from None


def render(source: str, variables: Mapping[str, Any] | None) -> str:
    """Render `source`; content without any `{{` is returned untouched, as seed 003 §8 asks."""
    if "{{" not in source:
        return source
    engine = _engine()
    try:
        engine.register_template("__render__", _Source(source))
    except ValueError as exc:
        raise TemplateSyntaxError(str(exc)) from None
    try:
        result: str = engine.render("__render__", dict(variables or {}))
    except (ValueError, TemplateRecursionError) as exc:  # e.g. a call to a helper that does not exist
        raise TemplateSyntaxError(str(exc)) from None
    return result
