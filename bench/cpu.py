"""CPU seconds each process spends per message: a figure a noisy, shared machine disturbs far less than a rate.

PostgreSQL is counted as the backends serving the benchmark's own database (other people's work on the same
server is left out, and so are its shared background processes such as the WAL writer).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import asyncpg
import psutil  # type: ignore[import-untyped]  # no stubs pinned; two calls used

from bench.procs import Proc


def _cpu_seconds(pid: int) -> float:
    """The process's CPU and its live children's (the copies of WORKER_PROCESSES / API_WORKERS)."""
    total = 0.0
    with contextlib.suppress(psutil.Error):
        process = psutil.Process(pid)
        for each in [process, *process.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                times = each.cpu_times()
                total += float(times.user + times.system)
    return total


async def _backends(database_url: str) -> list[int]:
    conn = await asyncpg.connect(database_url, timeout=5)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return [r["pid"] for r in rows]


@dataclass
class CpuMeter:
    """Snapshot before a run, again after it; `per_message` then says milliseconds of CPU per message."""

    procs: dict[str, Proc]
    database_url: str
    _start: dict[str, float] = field(default_factory=dict)
    _start_backends: dict[int, float] = field(default_factory=dict)
    spent: dict[str, float] = field(default_factory=dict)

    async def start(self) -> None:
        self._start = {name: _cpu_seconds(p.pid) for name, p in self.procs.items()}
        self._start_backends = {pid: _cpu_seconds(pid) for pid in await _backends(self.database_url)}

    def baseline_zero(self) -> None:
        """Count the processes from their own start: for roles started after `start()`, start-up included."""
        self._start = dict.fromkeys(self.procs, 0.0)

    async def stop(self) -> None:
        self.spent = {name: _cpu_seconds(p.pid) - self._start[name] for name, p in self.procs.items()}
        # Backends opened during the run count in full; those that closed during it are missed (pools keep theirs).
        pids = set(await _backends(self.database_url))
        self.spent["postgres"] = sum(_cpu_seconds(pid) - self._start_backends.get(pid, 0.0) for pid in pids)

    def per_message(self, messages: int) -> dict[str, float]:
        return {name: 1000 * seconds / max(messages, 1) for name, seconds in self.spent.items()}


def describe(per_message: dict[str, float]) -> str:
    total = sum(per_message.values())
    parts = ", ".join(f"{name} {ms:.2f}" for name, ms in per_message.items())
    return f"{total:.1f} ms CPU/msg ({parts})"
