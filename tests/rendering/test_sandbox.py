"""Render processes cannot reach IEP's secrets (docs/security.md): a fresh minimal environment, IEP's /proc files
out of reach (IEP not dumpable; renderers as nobody when IEP is root, no capabilities, no new privileges), and
Handlebars' `{{log}}` writes nothing into IEP's output."""

from __future__ import annotations

import ctypes
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from iep.rendering import react_email
from iep.rendering.catalog import TemplateCatalog
from iep.rendering.compile_cache import CompileCache, FileLock
from iep.rendering.renderer import Renderer, python_pool
from iep.rendering.sandbox import NOBODY

ALLOWED_ENV = {"PATH", "LANG", "LC_ALL", "NODE_ENV", "IEP_MAX_OUTPUT_CHARS", "BUN_RUNTIME_TRANSPILER_CACHE_PATH",
               "DO_NOT_TRACK"}  # fmt: skip
# Reads IEP's environment the ways a template could, at load time (top-level await), and shows what it got.
PROBE = """
async function read(path: string): Promise<string> {
  try { return "READ:" + (await Bun.file(path).text()); } catch (e) { return "ERR:" + String((e as any)?.code ?? e); }
}
const parent = await read(`/proc/${process.ppid}/environ`);
const init = await read("/proc/1/environ");
const own = await read("/proc/self/environ");
const mem = await read(`/proc/${process.ppid}/maps`);
export const subject = "probe";
export default function Probe() {
  return <pre>{JSON.stringify({ parent, init, own, mem, env: Object.keys(process.env), uid: process.getuid() })}</pre>;
}
"""


def _dumpable() -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(3, 0, 0, 0, 0))  # PR_GET_DUMPABLE


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def _env_names(pid: int) -> set[str]:
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return {item.partition(b"=")[0].decode() for item in environ if item}


@pytest.fixture
async def tsx(tmp_path: Path) -> AsyncIterator[tuple[Renderer, Path]]:
    root = tmp_path / "templates"
    (root / "_shared").mkdir(parents=True)
    dist = tmp_path / "dist"
    renderer = Renderer(
        timeout_ms=5000,
        python_workers=1,
        bun_workers=2,
        catalog=TemplateCatalog(root, reload=True),
        cache=CompileCache(dist, FileLock(dist)),
    )
    yield renderer, root / "_shared"
    await renderer.close()


@pytest.mark.skipif(react_email.bun_missing_message() is not None, reason="Bun is not installed (make install)")
async def test_a_tsx_template_cannot_read_the_environment_of_iep_or_of_pid_1(tsx: tuple[Renderer, Path]) -> None:
    import json

    renderer, folder = tsx
    (folder / "probe.tsx").write_text(PROBE)
    rendered = await renderer.template(renderer.catalog.resolve(None, "probe"), {})
    html = rendered.html or ""
    start, end = html.index("{&quot;") if "{&quot;" in html else html.index("{"), html.rindex("}") + 1
    seen = json.loads(html[start:end].replace("&quot;", '"').replace("&amp;", "&"))
    assert seen["parent"].startswith("ERR:"), seen["parent"][:200]
    assert seen["mem"].startswith("ERR:"), "IEP's other /proc files are out of reach too"
    assert seen["init"].startswith("ERR:"), seen["init"][:200]
    assert set(seen["env"]) <= ALLOWED_ENV
    for name in ("PYTHONPATH", "DATABASE_URL", "IEP_ENCRYPTION_KEY", "HOME"):
        assert name not in html
    if os.geteuid() == 0:
        assert seen["uid"] == NOBODY
    assert _dumpable() == 0


async def test_python_render_processes_are_unprivileged_with_a_minimal_environment() -> None:
    pool = python_pool(1, extra_env={"IEP_RENDER_CANARY": "x"})
    await pool.start()
    try:
        assert _dumpable() == 0, "IEP's own /proc files are readable only with CAP_SYS_PTRACE"
        for pid in pool.pids:
            status = _status(pid)
            if os.geteuid() == 0:
                assert status["Uid"].split() == [str(NOBODY)] * 4
                assert status["Gid"].split() == [str(NOBODY)] * 4
                assert status["Groups"] == ""
            assert int(status["CapEff"], 16) == 0
            assert int(status["CapPrm"], 16) == 0
            assert status["NoNewPrivs"] == "1"
            assert _env_names(pid) <= {"PATH", "LANG", "LC_ALL", "IEP_RENDER_CANARY"}
    finally:
        await pool.close()


async def test_handlebars_log_writes_nothing_anywhere(capfd: pytest.CaptureFixture[str]) -> None:
    canary = "tenant-text-9f1c-in-a-log-helper"
    pool = python_pool(1)  # started under capfd: its stdout and stderr are captured here
    await pool.start()
    try:
        reply = await pool.call(
            {"op": "handlebars", "subject": f'a{{{{log "{canary}"}}}}b', "html": "{{log x}}<p>ok</p>",
             "text": None, "data": {"x": canary}},
            time_limit=5,
        )  # fmt: skip
    finally:
        await pool.close()
    assert reply["subject"] == "ab"
    assert canary not in str(reply)
    out, err = capfd.readouterr()
    assert canary not in out
    assert canary not in err
