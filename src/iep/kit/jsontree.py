"""Bounds on a parsed JSON value, checked without recursion: nesting depth, and no NUL in any string.

PostgreSQL's jsonb cannot hold `\\u0000` (the insert fails: a 500 for an accept) and deep nesting exhausts
recursive code further down (serializers, validators, renderers), so both are refused at the edge.
"""

from __future__ import annotations

from typing import Any

# Any JSON body: deeper than this is no request IEP documents.
MAX_BODY_DEPTH = 64
# Caller-defined trees (metadata, variables, templateData) inside a message.
MAX_DATA_DEPTH = 32


class JsonTreeError(ValueError):
    pass


def check_tree(value: Any, *, max_depth: int, nul: bool = True) -> None:
    """Raise JsonTreeError when `value` nests deeper than `max_depth` or (with `nul`) holds a NUL anywhere."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > max_depth:
                raise JsonTreeError(f"nests deeper than {max_depth} levels")
            for key, child in item.items():
                if nul and "\x00" in key:
                    raise JsonTreeError("must not contain NUL (U+0000) in a key")
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            if depth > max_depth:
                raise JsonTreeError(f"nests deeper than {max_depth} levels")
            stack.extend((child, depth + 1) for child in item)
        elif nul and isinstance(item, str) and "\x00" in item:
            raise JsonTreeError("must not contain NUL (U+0000)")
