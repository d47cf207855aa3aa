"""The load generator: wrk (C, event-driven) with bench/wrk/requests.lua, read back as one JSON line."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from bench.report import Rate

SCRIPT = Path(__file__).resolve().parent / "wrk" / "requests.lua"
THREADS = 2  # one per core: wrk itself needs CPU next to the server


class LoadGenMissing(SystemExit):
    pass


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    status_errors: int
    socket_errors: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def rate(self, unit: str = "req/s") -> Rate:
        return Rate(self.per_second, unit, self.p50_ms, self.p99_ms)


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise LoadGenMissing("wrk is not installed: `make programs` installs it (scripts/programs.txt)")
    return found


def parse(stdout: str) -> WrkResult:
    """The last JSON line wrk's `done` printed."""
    line = next((ln for ln in reversed(stdout.splitlines()) if ln.startswith("{")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{stdout[-2000:]}")
    data = json.loads(line)
    return WrkResult(
        requests=int(data["requests"]),
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        status_errors=int(data["status_errors"]),
        socket_errors=int(data["socket_errors"]),
    )


async def run(
    url: str,
    *,
    connections: int,
    seconds: float,
    method: str = "GET",
    body: Path | None = None,
    api_key: str | None = None,
    run_id: str = "run",
    limit_per_thread: int = 0,
) -> WrkResult:
    threads = min(THREADS, connections)
    env = {
        **os.environ,
        "BENCH_METHOD": method,
        "BENCH_PATH": "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/",
        "BENCH_RUN": run_id,
        "BENCH_LIMIT": str(limit_per_thread),
    }
    if body is not None:
        env["BENCH_BODY"] = str(body)
    if api_key is not None:
        env["BENCH_AUTH"] = api_key
    base = "/".join(url.split("/", 3)[:3])
    proc = await asyncio.create_subprocess_exec(
        wrk_path(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(SCRIPT),
        base,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {out.decode(errors='replace')[-2000:]}")
    return parse(out.decode(errors="replace"))
