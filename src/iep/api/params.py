"""Path parameters as the handlers need them."""

from __future__ import annotations

import uuid

from iep.kit.problems import NotFound


def path_id(raw: str, what: str) -> uuid.UUID:
    """The id in a path; a malformed one answers exactly as an unknown one, or another tenant's (S7)."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(f"no such {what}") from None
