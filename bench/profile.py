"""py-spy on a running role, summarised as text: the frames that hold the CPU, by self and inclusive time."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections import Counter
from pathlib import Path

TOP = 25
# Frames a socket write is charged to: IEP's own, and aiosmtplib's commands (one round trip each).
_WRITERS = ("(iep/", "(aiosmtplib/smtp.py")


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: `make install` puts it in .venv (requirements-dev.txt)")
    return found


async def record(pid: int, seconds: float, out: Path) -> Path:
    """Sample `pid` for `seconds` into collapsed stacks (`frame;frame;… count` per line)."""
    proc = await asyncio.create_subprocess_exec(
        py_spy(),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--rate",
        "200",
        "--format",
        "raw",
        "--nolineno",
        "--nonblocking",
        "--output",
        str(out),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    text, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"py-spy failed: {text.decode(errors='replace')[-1000:]}")
    return out


def _short(frame: str) -> str:
    """`fn (/long/path/site-packages/pkg/mod.py:12)` → `fn (pkg/mod.py:12)`."""
    name, _, where = frame.partition(" (")
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where}" if where else name


def summarise(collapsed: Path, title: str, command: str) -> str:
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    writes: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";")]
        total += count
        self_time[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
        if "Transport.write" in frames[-1]:
            # Each write is a syscall, dear in a VM: charge it to the code that asked for the round trip.
            writes[next((f for f in reversed(frames) if any(m in f for m in _WRITERS)), frames[0])] += count
    lines = [f"# {title}", "", f"Command: `{command}`", f"Samples: {total} (200 Hz, active CPU only)", ""]
    own = Counter({frame: n for frame, n in inclusive.items() if "(iep/" in frame})
    for heading, table in (
        ("Top frames by self time", self_time),
        ("Top frames by inclusive time", inclusive),
        ("IEP's own functions by inclusive time", own),
        ("Socket writes, by the code that made them", writes),
    ):
        lines += [f"## {heading}", "", "| share | samples | frame |", "|---:|---:|---|"]
        for frame, count in table.most_common(TOP):
            lines.append(f"| {100 * count / max(total, 1):.1f} % | {count} | `{frame}` |")
        lines.append("")
    return "\n".join(lines)
