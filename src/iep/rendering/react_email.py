"""React Email templates (T5): `NAME.tsx` compiled by `Bun.build`, rendered by long-lived Bun processes.

Bun, React, React Email and Tailwind are npm packages pinned in `react_email/package.json` and installed there
by `make install`; nothing is looked up on the PATH. A compiled template keeps React external, so every template
shares the render process's one copy of React: the compiled-files folder holds a `node_modules` link to the
toolchain's, and Bun resolves both to the same files (through NODE_PATH it would load a second, slow copy).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import uuid
from functools import cache
from pathlib import Path

import orjson

from iep.rendering.errors import RenderError, RenderTimeout
from iep.rendering.limits import MAX_OUTPUT_CHARS
from iep.rendering.pool import PoolSpec, ProcessPool
from iep.rendering.sandbox import confined, sandbox_env

TOOLCHAIN_DIR = Path(__file__).resolve().parent / "react_email"
NODE_MODULES = TOOLCHAIN_DIR / "node_modules"
BUN = NODE_MODULES / ".bin" / "bun"
# Packages whose versions change what a compiled template renders: part of every artifact's key.
PINNED = ("bun", "react", "react-dom", "@react-email/components", "@react-email/render", "tailwindcss")
_IMPORT = re.compile(r"""(?:^|[\s;])(?:import|export)\b[^'"]*?['"](\.{1,2}/[^'"]+)['"]""", re.MULTILINE)
_EXTENSIONS = ("", ".tsx", ".ts", ".jsx", ".js", "/index.tsx", "/index.ts")
_SETPRIV = shutil.which("setpriv")


class BunMissing(SystemExit):
    """`.tsx` templates exist but the toolchain is not installed: the role must not start (T5)."""


def bun_missing_message() -> str | None:
    if BUN.exists():
        return None
    return (
        f"IEP cannot render .tsx templates: Bun is not installed in {TOOLCHAIN_DIR}. "
        "Run `make install` (it runs `npm install` there), or remove the .tsx files from TEMPLATES_SOURCE_DIR."
    )


def installed_version(package: str) -> str | None:
    try:
        doc = orjson.loads((NODE_MODULES / package / "package.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    version = doc.get("version")
    return str(version) if version else None


@cache
def toolchain_fingerprint() -> str:
    digest = hashlib.sha256()
    for package in PINNED:
        digest.update(f"{package}@{installed_version(package)}\n".encode())
    for script in ("compile.ts", "renderer.ts"):
        digest.update((TOOLCHAIN_DIR / script).read_bytes())
    return digest.hexdigest()


def import_closure(entry: Path, root: Path) -> list[Path]:
    """The template and every file it imports relatively, in a stable order."""
    seen: dict[Path, None] = {}
    queue = [entry.resolve()]
    root = root.resolve()
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen[path] = None
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for spec in _IMPORT.findall(source):
            for ext in _EXTENSIONS:
                candidate = (path.parent / (spec + ext)).resolve()
                if candidate.is_file() and candidate.is_relative_to(root):
                    queue.append(candidate)
                    break
    return sorted(seen)


def artifact_key(entry: Path, root: Path) -> str:
    """Hash of the toolchain, the template and its imports: equal keys compile to equal files."""
    digest = hashlib.sha256(b"tsx-1\n" + toolchain_fingerprint().encode())
    root = root.resolve()
    for path in import_closure(entry, root):
        digest.update(b"\0" + str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def link_toolchain(directory: Path) -> None:
    """Point `<directory>/node_modules` at the toolchain's, atomically (replicas may share the folder)."""
    link = directory / "node_modules"
    if link.is_symlink() and link.resolve() == NODE_MODULES.resolve():
        return
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".node_modules.{uuid.uuid4().hex}"
    tmp.symlink_to(NODE_MODULES, target_is_directory=True)
    os.replace(tmp, link)


def _env(extra: dict[str, str]) -> dict[str, str]:
    return sandbox_env(
        {
            "NODE_ENV": "production",
            "IEP_MAX_OUTPUT_CHARS": str(MAX_OUTPUT_CHARS),
            # Compiled templates are plain ESM: no transpiler cache to write anywhere.
            "BUN_RUNTIME_TRANSPILER_CACHE_PATH": "0",
            "DO_NOT_TRACK": "1",
            **extra,
        }
    )


def _argv(*args: str) -> tuple[str, ...]:
    # setpriv: the Bun process is killed with IEP even when IEP itself is SIGKILLed mid-render.
    prefix = (_SETPRIV, "--pdeathsig", "KILL") if _SETPRIV else ()
    return (*prefix, str(BUN), *args)


def bun_pool(size: int, *, recycle_after: int, extra_env: dict[str, str] | None = None) -> ProcessPool:
    # Render processes run template code: started confined (nobody when root, no new privileges, die with IEP).
    spec = PoolSpec(
        name="bun",
        argv=confined((str(BUN), "--smol", str(TOOLCHAIN_DIR / "renderer.ts"))),
        env=_env(extra_env or {}),
        size=size,
        cwd=TOOLCHAIN_DIR,
        recycle_after=recycle_after,
    )
    return ProcessPool(spec)


def _absolute(*paths: Path) -> list[str]:
    return [str(p.absolute()) for p in paths]


async def compile_tsx(entry: Path, outfile: Path, root: Path, *, time_limit: float) -> None:
    """`Bun.build` in a process of its own, killed if it overruns; a build error is the template's error."""
    process = await asyncio.create_subprocess_exec(
        *_argv(str(TOOLCHAIN_DIR / "compile.ts"), *_absolute(entry, outfile, root)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env({}),
        cwd=TOOLCHAIN_DIR,
        start_new_session=True,
    )
    try:
        async with asyncio.timeout(time_limit):
            out, err = await process.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise RenderTimeout(f"compiling {entry.name} took longer than {time_limit:.0f} s") from None
    if process.returncode != 0:
        lines = (err or out).decode(errors="replace").strip().splitlines()
        # Bun prints the failing line of its own script as context; the error lines are what the author needs.
        errors = [line for line in lines if "error" in line.lower() or "BuildMessage" in line] or lines[-3:]
        raise RenderError(f"{entry.name} does not compile: " + " | ".join(errors)[:2000])
