"""What a render can go wrong with, typed by what the caller does next.

`RenderTimeout`, `RenderTooLarge` and `RenderError` are permanent for the message (the same input fails the same
way again); `RendererUnavailable` is an outage of the render processes themselves and is worth a retry.
"""

from __future__ import annotations


class RenderError(Exception):
    """The template or its data is wrong: a syntax error, a bad expression, a sandbox refusal."""

    reason = "render_error"


class RenderTimeout(RenderError):
    """The render ran past the hard timeout and its process was killed (T4)."""

    reason = "render_timeout"


class RenderTooLarge(RenderError):
    """Template, data or output is over its size cap."""

    reason = "render_too_large"


class RendererUnavailable(Exception):
    """No render process could be started or reached in time (e.g. Bun missing, spawn failing)."""
