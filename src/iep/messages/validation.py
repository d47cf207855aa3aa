"""Pydantic errors turned into the field list of one 422 problem (A2)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


def _field_path(loc: tuple[int | str, ...]) -> tuple[str, str]:
    dotted = ""
    for part in loc:
        if isinstance(part, int):
            dotted += f"[{part}]"
        else:
            dotted += ("." if dotted else "") + part
    return dotted, "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in loc) if loc else ""


def problem_errors(exc: ValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors(include_url=False, include_input=False):
        # Pydantic's own loc parts for unions/functions ("function-after[...]") are not fields.
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        field, pointer = _field_path(loc)
        message = err["msg"].removeprefix("Value error, ")
        errors.append({"field": field, "pointer": pointer, "code": err["type"], "message": message})
    return errors
