"""Every render IEP does goes through here, and from here into a process that can be killed (T4, D8)."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson

from iep.observability.metrics import render_timer
from iep.rendering import react_email
from iep.rendering.budget import RenderBudget
from iep.rendering.catalog import TemplateCatalog, TemplateInvalid, TemplateSource, UnknownTemplate
from iep.rendering.compile_cache import CompileCache, FileLock
from iep.rendering.errors import RenderError, RendererUnavailable, RenderTooLarge
from iep.rendering.limits import MAX_DATA_BYTES, MAX_TEMPLATE_CHARS
from iep.rendering.pool import PoolSpec, ProcessPool
from iep.rendering.sandbox import python_argv, sandbox_env
from iep.rendering.substitute import substitute

__all__ = ["Rendered", "Renderer", "python_pool", "sandbox_env"]

_MRML_VERSION = version("mrml")


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    html: str | None
    text: str | None

    def as_tuple(self) -> tuple[str, str | None, str | None]:
        return self.subject, self.html, self.text


def python_pool(size: int, *, extra_env: Mapping[str, str] | None = None) -> ProcessPool:
    # The worker drops its privileges itself before it loads any engine (iep.rendering.sandbox).
    argv = python_argv("iep.rendering.sandbox_worker")
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

    def __init__(
        self,
        *,
        timeout_ms: int,
        python_workers: int,
        catalog: TemplateCatalog | None = None,
        cache: CompileCache | None = None,
        bun_workers: int = 2,
        bun_recycle_after: int = 100,
        compile_timeout_ms: int = 30_000,
        extra_env: Mapping[str, str] | None = None,
        closing: Callable[[], Awaitable[None]] | None = None,
        budget: RenderBudget | None = None,
    ) -> None:
        self.timeout = timeout_ms / 1000
        self.compile_timeout = compile_timeout_ms / 1000
        self.catalog = catalog or TemplateCatalog(None)
        scratch = Path(tempfile.gettempdir()) / "iep-templates-dist"
        self.cache = cache or CompileCache(scratch, FileLock(scratch))
        self.python = python_pool(python_workers, extra_env=extra_env)
        self.bun = react_email.bun_pool(bun_workers, recycle_after=bun_recycle_after, extra_env=dict(extra_env or {}))
        self._closing = closing
        # Per-tenant bounds on the pools; the default bounds nothing.
        self.budget = budget or RenderBudget()
        self._toolchain_linked = False
        # Bun runs as nobody when IEP is root: compiled files are copied where nobody can read them.
        self._readable: Path | None = None

    async def start(self) -> None:
        """Warm the pools; refuse to start when `.tsx` templates exist and Bun does not (T5)."""
        self.check_startable()
        await self.python.start()
        if self.catalog.has_format("tsx"):
            await self.bun.start()

    def check_startable(self) -> None:
        """Raise `BunMissing` when `.tsx` templates exist and Bun does not: a role must not start like that."""
        if self.catalog.has_format("tsx"):
            missing = react_email.bun_missing_message()
            if missing:
                raise react_email.BunMissing(missing)

    async def inline(
        self,
        subject: str,
        html: str | None,
        text: str | None,
        data: Mapping[str, Any] | None,
        *,
        tenant: str | None = None,
    ) -> Rendered:
        """Inline Handlebars content (T1) under the hard timeout; the text part made from HTML when absent (T6).

        `tenant` puts a render that needs a process under that tenant's budget (rendering/budget.py).
        """
        check_sources(subject=subject, html=html, text=text)
        checked = check_data(data)
        with render_timer("handlebars"):
            simple = substitute(subject, html, text, checked)
            if simple is not None:  # plain `{{name}}` substitution: no process round trip (docs/templates.md)
                return Rendered(subject=simple[0].strip(), html=simple[1], text=simple[2])
            request = {"op": "handlebars", "subject": subject, "html": html, "text": text, "data": checked}
            return rendered_from(await self._render(self.python, request, tenant))

    async def check_inline(self, parts: Mapping[str, str]) -> dict[str, str]:
        """Parse large inline Handlebars parts in a render process (off the event loop); the errors by part."""
        check_sources(**parts)
        reply = await self.python.call({"op": "check", "parts": dict(parts)}, time_limit=self.compile_timeout)
        return {str(k): str(v) for k, v in dict(reply.get("errors") or {}).items()}

    async def named(self, qualified: str, data: Mapping[str, Any] | None, *, tenant: str | None = None) -> Rendered:
        """The template an accepted message names (`namespace/name`)."""
        try:
            source = self.catalog.by_qualified(qualified)
        except (UnknownTemplate, TemplateInvalid) as exc:
            raise RenderError(str(exc)) from None
        return await self.template(source, data, tenant=tenant)

    async def template(
        self, source: TemplateSource, data: Mapping[str, Any] | None, *, tenant: str | None = None
    ) -> Rendered:
        with render_timer(source.format):
            return await self._template(source, data, tenant)

    async def _template(self, source: TemplateSource, data: Mapping[str, Any] | None, tenant: str | None) -> Rendered:
        props = check_data(data)
        if source.format == "tsx":
            return await self._tsx(source, props, tenant)
        html = source.body if source.format == "jinja" else await self._mjml(source)
        request = {
            "op": "jinja",
            "key": source.digest,
            "subject": source.subject,
            "html": html,
            "text": source.text_body,
            # MJML output is inlined by mrml already; Jinja2 templates get their <style> inlined here.
            "inline_css": source.format == "jinja",
            "data": props,
        }
        return rendered_from(await self._render(self.python, request, tenant))

    async def _render(
        self, pool: ProcessPool, request: Mapping[str, Any], tenant: str | None, version: str | None = None
    ) -> dict[str, Any]:
        """One render under the hard timeout, in the tenant's share of the pool (compiles are not renders)."""
        async with self.budget.slot(tenant, pool):
            return await pool.call(request, time_limit=self.timeout, version=version)

    async def _mjml(self, source: TemplateSource) -> str:
        """MJML compiled once to HTML that still holds its Jinja2 placeholders, then cached like any artifact."""
        key = hashlib.sha256(f"mjml-1\n{_MRML_VERSION}\n{source.body}".encode()).hexdigest()

        async def compile_to(tmp: Path) -> None:
            reply = await self.python.call({"op": "mjml", "source": source.body}, time_limit=self.compile_timeout)
            tmp.write_text(str(reply["html"]), encoding="utf-8")  # noqa: ASYNC240 - a small local file, once

        return await self.cache.get(key, ".html", compile_to, lambda p: p.read_text(encoding="utf-8"))

    async def _tsx(self, source: TemplateSource, props: dict[str, Any], tenant: str | None) -> Rendered:
        missing = react_email.bun_missing_message()
        if missing:
            raise RendererUnavailable(missing)
        root = self.catalog.root or source.path.parent
        key = react_email.artifact_key(source.path, root)
        if not self._toolchain_linked:
            react_email.link_toolchain(self.cache.directory)
            self._toolchain_linked = True

        async def compile_to(tmp: Path) -> None:
            await react_email.compile_tsx(source.path, tmp, root, time_limit=self.compile_timeout)

        artifact = self._readable_copy(await self.cache.get(key, ".js", compile_to, lambda p: p))
        reply = await self._render(self.bun, {"path": str(artifact), "props": props}, tenant, version=key)
        # An empty subject is the caller's to judge: a message's own subject may replace it.
        return rendered_from(reply)

    def _readable_copy(self, artifact: Path) -> Path:
        """The compiled file where an unprivileged render process can read it (the dist folder may be private)."""
        if os.geteuid() != 0:
            return artifact
        if self._readable is None:
            self._readable = Path(tempfile.mkdtemp(prefix="iep-render-"))
            self._readable.chmod(0o755)
            react_email.link_toolchain(self._readable)
        copy = self._readable / artifact.name  # named by its key: same name, same content
        if not copy.exists():
            tmp = copy.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(artifact.read_bytes())
            tmp.chmod(0o644)
            os.replace(tmp, copy)
        return copy

    async def close(self) -> None:
        await self.python.close()
        await self.bun.close()
        await self.budget.close()
        if self._readable is not None:
            shutil.rmtree(self._readable, ignore_errors=True)
        if self._closing is not None:
            await self._closing()
