"""A pool of long-lived render processes speaking newline-delimited JSON, killed at the timeout (T4, T5).

A render that is still running when its timeout expires is not asked to stop (a busy loop never listens): its
process gets SIGKILL, the caller hears `RenderTimeout` at that moment, and a warm spare takes the killed
process's place at once while a new spare starts in the background. A process reports `ready` only after it has
warmed its engines, so none takes traffic cold (SPEC.md §4: a cold first render is slow and would be killed again
and again). Callers queue for an idle process, so a runaway never holds up the renders around it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import structlog

from iep.rendering.errors import RenderError, RendererUnavailable, RenderTimeout, RenderTooLarge
from iep.rendering.limits import MAX_REPLY_BYTES
from iep.rendering.sandbox import protect_parent

log = structlog.get_logger("iep.rendering")

_FAILURES: dict[str, type[RenderError]] = {"too_large": RenderTooLarge, "timeout": RenderTimeout}


@dataclass(frozen=True, slots=True)
class PoolSpec:
    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    size: int
    cwd: Path | None = None
    # How long a new process may take to warm up, and how long a caller waits for a free one.
    start_timeout: float = 30.0
    # Replace a process once it has loaded this many distinct template versions (Bun never frees modules).
    recycle_after: int | None = None
    # Warm processes kept out of rotation, to take a killed or retired process's place without a cold start.
    spares: int = 1


class _Proc:
    __slots__ = ("process", "versions")

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.versions: set[str] = set()

    @property
    def alive(self) -> bool:
        return self.process.returncode is None


class ProcessPool:
    def __init__(self, spec: PoolSpec) -> None:
        self.spec = spec
        self._idle: asyncio.Queue[_Proc] = asyncio.Queue()
        self._spares: list[_Proc] = []
        self._in_rotation = 0
        self._live: set[_Proc] = set()
        self._background_tasks: set[asyncio.Task[None]] = set()
        self._respawns: set[asyncio.Task[None]] = set()
        self._start_lock = asyncio.Lock()
        self._started = False
        self._closed = False
        self.spawned = 0
        self.killed = 0
        self.recycled = 0

    @property
    def serving(self) -> bool:
        """Started, not closed, and at least one render process alive (the worker's readiness)."""
        return self._started and not self._closed and any(p.alive for p in self._live)

    @property
    def pids(self) -> list[int]:
        return sorted(p.process.pid for p in self._live)

    async def start(self) -> None:
        async with self._start_lock:
            if self._started:
                return
            count = self.spec.size + self.spec.spares
            procs = await asyncio.gather(*(self._spawn() for _ in range(count)), return_exceptions=True)
            failures = [p for p in procs if isinstance(p, BaseException)]
            for proc in procs:
                if isinstance(proc, _Proc):
                    self._add(proc)
            if failures:
                await self.close()
                raise failures[0]
            self._started = True

    async def call(
        self, request: Mapping[str, Any], *, time_limit: float, version: str | None = None
    ) -> dict[str, Any]:
        """Send one request to an idle process and return its reply; raise the render error it reports."""
        if not self._started:
            await self.start()
        proc = await self._checkout()
        try:
            reply = await self._exchange(proc, request, time_limit)
        except BaseException:
            # Timed out, died, or the caller gave up: the process may still be busy or out of step.
            self._replace(proc, kill=True)
            raise
        if version is not None:
            proc.versions.add(version)
        if self.spec.recycle_after is not None and len(proc.versions) >= self.spec.recycle_after:
            self._replace(proc, kill=False)
        else:
            self._idle.put_nowait(proc)
        if not reply.get("ok"):
            failure = _FAILURES.get(str(reply.get("error")), RenderError)
            raise failure(str(reply.get("message") or "render failed"))
        return reply

    async def _checkout(self) -> _Proc:
        while True:
            try:
                async with asyncio.timeout(self.spec.start_timeout):
                    proc = await self._idle.get()
            except TimeoutError:
                raise RendererUnavailable(
                    f"no {self.spec.name} render process became free within {self.spec.start_timeout:.0f} s"
                ) from None
            if proc.alive:
                return proc
            self._replace(proc, kill=False)  # it died while idle

    async def _exchange(self, proc: _Proc, request: Mapping[str, Any], time_limit: float) -> dict[str, Any]:
        stdin, stdout = proc.process.stdin, proc.process.stdout
        assert stdin is not None
        assert stdout is not None
        try:
            async with asyncio.timeout(time_limit):
                stdin.write(orjson.dumps(request) + b"\n")
                await stdin.drain()
                line = await stdout.readline()
        except TimeoutError:
            raise RenderTimeout(
                f"the render took longer than {time_limit * 1000:.0f} ms; its {self.spec.name} process was killed"
            ) from None
        except ValueError:  # the reply line is over the stream limit
            raise RenderTooLarge("the render output is over the size cap") from None
        except (ConnectionError, BrokenPipeError):
            line = b""
        if not line:
            raise RenderError(f"the {self.spec.name} render process exited during this render")
        reply: dict[str, Any] = orjson.loads(line)
        return reply

    def _add(self, proc: _Proc) -> None:
        """A new warm process joins the rotation if it is short, else waits as a spare."""
        if self._in_rotation < self.spec.size:
            self._in_rotation += 1
            self._idle.put_nowait(proc)
        else:
            self._spares.append(proc)

    def _replace(self, proc: _Proc, *, kill: bool) -> None:
        self._live.discard(proc)
        self._in_rotation -= 1
        while self._spares:
            spare = self._spares.pop()
            if spare.alive:
                self._in_rotation += 1
                self._idle.put_nowait(spare)
                break
            self._live.discard(spare)  # it died while waiting: replace it too
            if not self._closed:
                self._start_respawn()
        if kill:
            with contextlib.suppress(ProcessLookupError):
                proc.process.kill()
            self.killed += 1
            log.warning("render_process_killed", pool=self.spec.name, pid=proc.process.pid)
        else:
            if proc.process.stdin is not None:
                proc.process.stdin.close()  # a healthy process exits at end of input
            self.recycled += 1
        self._background(self._reap(proc))
        if not self._closed:
            self._start_respawn()

    def _start_respawn(self) -> None:
        task = self._background(self._respawn())
        self._respawns.add(task)
        task.add_done_callback(self._respawns.discard)

    async def _respawn(self) -> None:
        delay = 0.1
        while not self._closed:
            try:
                proc = await self._spawn()
            except (RendererUnavailable, OSError) as exc:
                log.error("render_process_spawn_failed", pool=self.spec.name, error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if self._closed:
                with contextlib.suppress(ProcessLookupError):
                    proc.process.kill()
                await proc.process.wait()
                return
            self._add(proc)
            return

    async def _spawn(self) -> _Proc:
        protect_parent()  # before any render process exists: IEP's /proc files are out of its reach
        try:
            process = await asyncio.create_subprocess_exec(
                *self.spec.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=dict(self.spec.env),
                cwd=self.spec.cwd,
                limit=MAX_REPLY_BYTES,
                # Its own session: a Ctrl-C in the terminal reaches IEP, which then stops its renderers.
                start_new_session=True,
            )
        except OSError as exc:
            raise RendererUnavailable(
                f"cannot start the {self.spec.name} renderer ({self.spec.argv[0]}): {exc}"
            ) from None
        assert process.stdout is not None
        try:
            async with asyncio.timeout(self.spec.start_timeout):
                line = await process.stdout.readline()
            hello = orjson.loads(line) if line else {}
        except (TimeoutError, orjson.JSONDecodeError, ValueError):
            hello = {}
        if not isinstance(hello, dict) or not hello.get("ready"):
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise RendererUnavailable(f"the {self.spec.name} renderer did not become ready: {hello or 'no answer'}")
        self.spawned += 1
        proc = _Proc(process)
        self._live.add(proc)
        return proc

    async def _reap(self, proc: _Proc) -> None:
        try:
            async with asyncio.timeout(5):
                await proc.process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.process.kill()
            await proc.process.wait()

    def _background(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coro)
        self._background_tasks.add(task)
        task.add_done_callback(self._background_tasks.discard)
        return task

    async def wait_ready(self) -> None:
        """Wait until every replacement under way has been started (tests and benchmarks)."""
        while pending := [t for t in self._background_tasks if not t.done()]:
            await asyncio.wait(pending)

    async def replaced(self) -> None:
        """Wait until the processes replaced so far have warm successors (or the pool is closed); later ones aside."""
        if pending := [t for t in self._respawns if not t.done()]:
            await asyncio.wait(pending)

    async def close(self) -> None:
        self._closed = True
        for task in list(self._background_tasks):
            task.cancel()
        procs = list(self._live)
        self._live.clear()
        self._spares.clear()
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.process.kill()
        for proc in procs:
            await proc.process.wait()
        while not self._idle.empty():
            self._idle.get_nowait()
