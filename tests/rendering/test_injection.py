"""No template reaches Python or the process: ≥ 50 injection payloads per engine, with a canary in the environment.

The canary is set both in this process and in the render processes' own environment, so a payload that escaped
either sandbox layer (the template engine, or the scrubbed environment of the process) would print it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from iep.rendering.errors import RenderError
from iep.rendering.pool import ProcessPool
from iep.rendering.renderer import python_pool
from tests.rendering.payloads import HANDLEBARS_PAYLOADS, JINJA_PAYLOADS

CANARY = "canary-7f3e9a1c-never-in-output"
# What any escape prints: the canary, process environment, Python internals, class lists, command output.
LEAKS = (
    CANARY,
    "/usr/bin",
    "Popen",
    "_wrap_close",
    "catch_warnings",
    "__builtins__",
    "<module",
    "&lt;module",
    "<function",
    "&lt;function",
    "built-in",
    "uid=",
    "process.env",
)
DATA = {"name": "Ada", "items": [1, 2], "data": {"name": "x"}, "a": 1}


@pytest.fixture(scope="module")
async def pool() -> AsyncIterator[ProcessPool]:
    os.environ["IEP_RENDER_CANARY"] = CANARY
    started = python_pool(2, extra_env={"IEP_RENDER_CANARY": CANARY})
    await started.start()
    yield started
    await started.close()
    del os.environ["IEP_RENDER_CANARY"]


def test_there_are_at_least_50_payloads_per_engine() -> None:
    assert len(set(JINJA_PAYLOADS)) >= 50
    assert len(set(HANDLEBARS_PAYLOADS)) >= 50


async def _outcome(pool: ProcessPool, request: dict[str, object]) -> str:
    try:
        reply = await pool.call(request, time_limit=1.0)
    except RenderError as exc:  # refused by the sandbox: the message says why, and leaks nothing either
        return str(exc)
    return " ".join(str(reply.get(part) or "") for part in ("subject", "html", "text"))


def _assert_clean(payload: str, outcome: str) -> None:
    leaked = [marker for marker in LEAKS if marker in outcome and marker not in payload]
    assert not leaked, f"{payload!r} leaked {leaked}: {outcome[:300]!r}"


@pytest.mark.parametrize("payload", JINJA_PAYLOADS)
async def test_jinja_payloads_do_not_escape(pool: ProcessPool, payload: str) -> None:
    for part in ("html", "subject"):
        request = {"op": "jinja", "key": f"{part}:{payload}", "subject": "s", part: payload, "data": DATA}
        _assert_clean(payload, await _outcome(pool, request))


@pytest.mark.parametrize("payload", HANDLEBARS_PAYLOADS)
async def test_handlebars_payloads_do_not_escape(pool: ProcessPool, payload: str) -> None:
    pid_before = pool.pids
    outcome = await _outcome(pool, {"op": "handlebars", "subject": payload, "html": payload, "data": DATA})
    _assert_clean(payload, outcome)
    assert not any(str(pid) in outcome for pid in pid_before), "a payload printed the render process id"


@pytest.mark.parametrize("value", ["{{constructor}}", "{% for x in y %}", "<script>alert(1)</script>", "{{{x}}}"])
async def test_data_is_never_evaluated_and_is_escaped(pool: ProcessPool, value: str) -> None:
    hbs = await pool.call(
        {"op": "handlebars", "subject": "s", "html": "<p>{{v}}</p>", "data": {"v": value}}, time_limit=1
    )
    jinja = await pool.call(
        {"op": "jinja", "key": "data", "subject": "s", "html": "<p>{{ v }}</p>", "data": {"v": value}}, time_limit=1
    )
    for html in (hbs["html"], jinja["html"]):
        assert "<script>" not in html
        assert html.startswith("<p>")
        assert html.endswith("</p>")


def test_the_leak_check_catches_an_engine_without_a_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    import jinja2

    monkeypatch.setenv("IEP_RENDER_CANARY", CANARY)
    payload = "{{ cycler.__init__.__globals__.os.environ['IEP_RENDER_CANARY'] }}"
    leaked = jinja2.Environment(autoescape=True).from_string(payload).render()
    with pytest.raises(AssertionError, match="leaked"):
        _assert_clean(payload, leaked)
