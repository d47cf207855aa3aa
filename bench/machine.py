"""What the figures were measured on, and docs/benchmarks.md's generated part (between two markers)."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs pinned; two calls used

from bench.ceilings import PGBENCH

BEGIN = "<!-- bench:begin (written by `make bench`; edit outside the markers) -->"
END = "<!-- bench:end -->"
PACKAGES = ("fastapi", "uvicorn", "starlette", "pydantic", "SQLAlchemy", "asyncpg", "aiosmtplib", "aiosmtpd")


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)  # noqa: S603
    except OSError:
        return "not found"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def _cpu_model() -> str:
    try:
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    except OSError:
        return platform.processor() or "unknown"
    return found.group(1).strip() if found else "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def describe() -> list[str]:
    return [
        f"- CPU: {os.cpu_count()} cores (`nproc`), {_cpu_model()}; load average at the end "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        f"- memory: {psutil.virtual_memory().total / 2**30:.1f} GiB",
        f"- kernel: {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()})",
        f"- PostgreSQL: {_first_line([PGBENCH, '--version'])} against the server at 127.0.0.1:5432, "
        "synchronous_commit on",
        # Read, not required: the note is written by harness tests that run no load.
        f"- load generator: {_first_line(['wrk', '-v'])}",
        "- packages: " + ", ".join(f"{p} {_version(p)}" for p in PACKAGES),
        "- everything (PostgreSQL, IEP's roles, the SMTP sink, wrk) on the same machine, shared with other work",
    ]


def write_docs(path: Path, table: str, command: str, *, quick: bool) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    kind = "quick smoke run (short durations: rough figures)" if quick else "full run"
    block = "\n".join(
        [
            BEGIN,
            f"Latest: {stamp}, {kind}, by `{command}`.",
            "",
            table,
            "",
            "Machine:",
            "",
            *describe(),
            END,
        ]
    )
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
