"""Every render IEP does goes through here, and from here into a process that can be killed (T4, D8)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from iep.rendering.errors import RenderTooLarge
from iep.rendering.limits import MAX_DATA_BYTES, MAX_TEMPLATE_CHARS
from iep.rendering.pool import PoolSpec, ProcessPool


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    html: str | None
    text: str | None

    def as_tuple(self) -> tuple[str, str | None, str | None]:
        return self.subject, self.html, self.text


def sandbox_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a render process: no secret of IEP's is ever within a template's reach."""
    env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    env.update(extra or {})
    return env


def python_pool(size: int, *, extra_env: Mapping[str, str] | None = None) -> ProcessPool:
    # -I: ignore PYTHON* variables and the user's site-packages; the process sees only the installed package.
    argv = (sys.executable, "-I", "-m", "iep.rendering.sandbox_worker")
    return ProcessPool(PoolSpec(name="python", argv=argv, env=sandbox_env(extra_env), size=size))


def check_data(data: Mapping[str, Any] | None) -> dict[str, Any]:
    encoded = orjson.dumps(data or {})
    if len(encoded) > MAX_DATA_BYTES:
        raise RenderTooLarge(f"the template data is {len(encoded)} bytes; the cap is {MAX_DATA_BYTES}")
    return dict(data or {})


def check_sources(**sources: str | None) -> None:
    for part, source in sources.items():
        if source is not None and len(source) > MAX_TEMPLATE_CHARS:
            raise RenderTooLarge(f"the {part} template is over {MAX_TEMPLATE_CHARS} characters")


def rendered_from(reply: Mapping[str, Any]) -> Rendered:
    return Rendered(subject=str(reply.get("subject") or "").strip(), html=reply.get("html"), text=reply.get("text"))


class Renderer:
    """The render pools of one IEP process; started on first use, or at start-up by roles that send."""

    def __init__(self, *, timeout_ms: int, python_workers: int, extra_env: Mapping[str, str] | None = None) -> None:
        self.timeout = timeout_ms / 1000
        self.python = python_pool(python_workers, extra_env=extra_env)

    async def start(self) -> None:
        await self.python.start()

    async def inline(
        self, subject: str, html: str | None, text: str | None, data: Mapping[str, Any] | None
    ) -> Rendered:
        """Inline Handlebars content (T1) under the hard timeout; the text part made from HTML when absent (T6)."""
        check_sources(subject=subject, html=html, text=text)
        request = {"op": "handlebars", "subject": subject, "html": html, "text": text, "data": check_data(data)}
        return rendered_from(await self.python.call(request, time_limit=self.timeout))

    async def close(self) -> None:
        await self.python.close()
