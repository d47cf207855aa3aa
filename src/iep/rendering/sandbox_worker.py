"""One Python render process (`python -I -m iep.rendering.sandbox_worker`): Handlebars, Jinja2, MJML.

It reads one JSON request per line on stdin and writes one JSON reply per line on stdout. It warms every engine
before it says `ready`, caps its own address space, dies with its parent, and exits at end of input. Its parent
kills it when a render overruns the timeout, so nothing here needs to be interruptible.
"""

from __future__ import annotations

import gc
import os
import resource
import sys
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

import orjson

from iep.rendering.limits import MAX_OUTPUT_CHARS, WORKER_MEMORY_BYTES
from iep.rendering.sandbox import drop_privileges

_COMPILED_CACHE = 256


class Refused(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Engines:
    """The engines, imported once; compiled Jinja2 templates kept by content key."""

    def __init__(self) -> None:
        import css_inline
        import mrml

        from iep.rendering import handlebars, jinja
        from iep.rendering.text import text_from_html

        self._handlebars = handlebars
        self._jinja = jinja
        self._mrml = mrml
        self._text_from_html = text_from_html
        # Remote stylesheets are never fetched: a template must not make the renderer open connections.
        self._inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False, keep_link_tags=False)
        self._compiled: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self.ops: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
            "ping": lambda _: {},
            "handlebars": self.handlebars,
            "jinja": self.jinja,
            "mjml": self.mjml,
            "check": self.check,
        }

    def handle(self, request: Mapping[str, Any]) -> dict[str, Any]:
        op = self.ops.get(str(request.get("op")))
        if op is None:
            raise Refused("render", f"unknown operation {request.get('op')!r}")
        return {"ok": True, **op(request)}

    def handlebars(self, request: Mapping[str, Any]) -> dict[str, Any]:
        data = request.get("data") or {}
        out: dict[str, str | None] = {}
        for part in ("subject", "html", "text"):
            source = request.get(part)
            try:
                out[part] = self._handlebars.render(source, data) if source is not None else None
            except self._handlebars.TemplateSyntaxError as exc:
                raise Refused("render", f"{part}: {exc}") from None
            _check_size(out)
        return self._finish(out, inline_css=False)

    def check(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Parse inline Handlebars parts without rendering: `{"parts": {field: source}}` → the errors by field."""
        errors: dict[str, str] = {}
        for field, source in dict(request.get("parts") or {}).items():
            try:
                self._handlebars.check_syntax(str(source))
            except self._handlebars.TemplateSyntaxError as exc:
                errors[str(field)] = str(exc)[:500]
        return {"errors": errors}

    def jinja(self, request: Mapping[str, Any]) -> dict[str, Any]:
        data = request.get("data") or {}
        out: dict[str, str | None] = {}
        budget = MAX_OUTPUT_CHARS
        for part in ("subject", "html", "text"):
            source = request.get(part)
            if source is None:
                out[part] = None
                continue
            template = self._compile(str(request.get("key")), part, source)
            try:
                out[part] = self._jinja.render_capped(template, data, budget=budget)
            except self._jinja.TemplateTooLarge as exc:
                raise Refused("too_large", f"{part}: {exc}") from None
            budget -= len(out[part] or "")
        return self._finish(out, inline_css=bool(request.get("inline_css")))

    def mjml(self, request: Mapping[str, Any]) -> dict[str, Any]:
        try:
            html: str = self._mrml.to_html(str(request.get("source"))).content
        except OSError as exc:  # mrml reports parse errors as OSError
            raise Refused("render", f"MJML: {exc}") from None
        return {"html": html}

    def _compile(self, key: str, part: str, source: str) -> Any:
        cache_key = (key, part)
        template = self._compiled.get(cache_key)
        if template is None:
            try:
                template = self._jinja.compile_template(source, html=part == "html")
            except self._jinja.TemplateSyntaxError as exc:
                raise Refused("render", f"{part}: line {exc.lineno}: {exc.message}") from None
            self._compiled[cache_key] = template
            if len(self._compiled) > _COMPILED_CACHE:
                self._compiled.popitem(last=False)
        else:
            self._compiled.move_to_end(cache_key)
        return template

    def _finish(self, out: dict[str, str | None], *, inline_css: bool) -> dict[str, Any]:
        html = out.get("html")
        if html is not None and inline_css:
            html = out["html"] = self._inliner.inline(html)
        if out.get("text") is None and html is not None:
            out["text"] = self._text_from_html(html)
        _check_size(out)
        return out

    def warm(self) -> None:
        """Run every engine once so the first real render is as fast as the rest."""
        self.handle({"op": "handlebars", "subject": "Hi {{n}}", "html": "<p>{{#each xs}}{{this}}{{/each}}</p>",
                     "data": {"n": "x", "xs": [1]}})  # fmt: skip
        self.handle({"op": "jinja", "key": "warm", "subject": "Hi {{ n }}",
                     "html": "<style>p{color:red}</style><p>{% for x in xs %}{{ x }}{% endfor %}</p>",
                     "inline_css": True, "data": {"n": "x", "xs": [1]}})  # fmt: skip
        self.handle({"op": "mjml", "source": "<mjml><mj-body><mj-text>warm</mj-text></mj-body></mjml>"})
        self._compiled.clear()


def _check_size(out: Mapping[str, str | None]) -> None:
    if sum(len(v) for v in out.values() if v) > MAX_OUTPUT_CHARS:
        raise Refused("too_large", f"the rendered message is over {MAX_OUTPUT_CHARS} characters")


def _limit_memory() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = WORKER_MEMORY_BYTES if hard == resource.RLIM_INFINITY else min(hard, WORKER_MEMORY_BYTES)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _serve(channel: BinaryIO, engines: Engines) -> None:
    for line in sys.stdin.buffer:
        try:
            reply = engines.handle(orjson.loads(line))
        except Refused as exc:
            reply = {"ok": False, "error": exc.kind, "message": str(exc)[:2000]}
        except MemoryError:
            gc.collect()
            reply = {"ok": False, "error": "too_large", "message": "the render ran out of its memory allowance"}
        except RecursionError:
            reply = {"ok": False, "error": "render", "message": "the template recurses too deeply"}
        except Exception as exc:  # a template error from any engine is the caller's answer, not a crash
            reply = {"ok": False, "error": "render", "message": f"{type(exc).__name__}: {exc}"[:2000]}
        try:
            channel.write(orjson.dumps(reply) + b"\n")
        except MemoryError:
            channel.write(b'{"ok":false,"error":"too_large","message":"the reply is too large"}\n')
        channel.flush()


def main() -> None:
    # Before any engine is loaded: nobody when root, no new privileges, dies with IEP (iep.rendering.sandbox).
    drop_privileges()
    # Replies go to the original stdout; anything a library prints goes to stderr and cannot break the framing.
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    engines = Engines()
    engines.warm()
    _limit_memory()
    channel.write(orjson.dumps({"ready": True, "pid": os.getpid()}) + b"\n")
    channel.flush()
    _serve(channel, engines)


if __name__ == "__main__":
    main()
