"""Processes the benchmark starts: IEP roles, the SMTP sink, the bare HTTP app; readiness, stop, RSS."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]  # no stubs pinned; two calls used

IEP = str(Path(sys.executable).with_name("iep"))
REPO = Path(__file__).resolve().parent.parent


class StartRefused(Exception):
    """The process exited before it was ready; the message is the last thing it said."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def last_words(self, limit: int = 300) -> str:
        text = self.log.read_text(errors="replace").strip() if self.log.exists() else ""
        lines = [line for line in text.splitlines() if line.strip()]
        return (lines[-1] if lines else f"exit code {self.popen.returncode}")[:limit]

    def rss_mb(self) -> float:
        rss: int = psutil.Process(self.pid).memory_info().rss
        return rss / 2**20


def spawn(name: str, argv: list[str], env: dict[str, str], logs: Path) -> Proc:
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)  # noqa: S603
    return Proc(name, popen, log)


def spawn_role(role: str, env: dict[str, str], logs: Path, *, tag: str = "") -> Proc:
    return spawn(f"{role}{tag}", [IEP, "run", "--role", role], {**os.environ, **env}, logs)


async def wait_http(proc: Proc, url: str, *, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise StartRefused(proc.last_words())
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise StartRefused(f"{proc.name} not ready at {url} after {within:.0f} s")


async def wait_log(proc: Proc, marker: str, *, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.log.exists() and marker in proc.log.read_text(errors="replace"):
            return
        if proc.popen.poll() is not None:
            raise StartRefused(proc.last_words())
        await asyncio.sleep(0.05)
    raise StartRefused(f"{proc.name} did not log {marker!r} within {within:.0f} s")


def stop(proc: Proc, *, grace: float = 30.0) -> None:
    if proc.popen.poll() is None:
        proc.popen.send_signal(signal.SIGTERM)
        try:
            proc.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            proc.popen.wait()


@dataclass
class RssPeaks:
    """Samples each process's resident set every `interval` seconds while running."""

    procs: list[Proc]
    interval: float = 0.1
    peaks: dict[str, float] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            for proc in self.procs:
                with contextlib.suppress(psutil.Error):
                    self.peaks[proc.name] = max(self.peaks.get(proc.name, 0.0), proc.rss_mb())
            await asyncio.sleep(self.interval)

    async def __aenter__(self) -> RssPeaks:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
