"""Every queue backend under fire (SPEC D4 to D6), with real processes: an `iep` API, relay and worker against the
machine's PostgreSQL, RabbitMQ or a Redis of the test's own, delivering to an aiosmtpd server.

Faults: the worker SIGKILLed again and again; the broker restarted mid-run; the relay SIGKILLed while it
publishes (between the API's commit and the broker's confirm); the broker down while the API keeps accepting;
every SMTP send stalled past the worker lease, with two workers, one of them SIGSTOPped in the stall or not.
Every run: nothing accepted is lost, duplicates are counted, and each duplicate carries an `ambiguous` event.

`make test` runs a short version; `make faults` runs 2,000 messages and 5 kills per fault
(IEP_FAULT_MESSAGES / IEP_FAULT_KILLS) and appends each run's line to IEP_FAULT_REPORT.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from iep.bootstrap import Container
from iep.messages.models import events, messages
from tests.conftest import TenantKey
from tests.support import broker_control, brokers
from tests.support.fault_proxy import FaultProxy
from tests.support.smtp_sink import SmtpSink, free_port

# Stops the machine's RabbitMQ (broker faults) and runs several roles: alone, after the parallel part.
pytestmark = pytest.mark.exclusive

MESSAGES = int(os.environ.get("IEP_FAULT_MESSAGES", "150"))
KILLS = int(os.environ.get("IEP_FAULT_KILLS", "2"))
REPORT = os.environ.get("IEP_FAULT_REPORT")
IEP = str(Path(sys.executable).with_name("iep"))
SENDERS = 16
LEASE_SECONDS = 3
# Slow sends: fewer messages by default, so `make test` stays short; `make faults` sends IEP_FAULT_MESSAGES.
STALLED_MESSAGES = int(os.environ.get("IEP_FAULT_MESSAGES", "40"))
STALL_SECONDS = 4.0  # the SMTP server's answer to DATA is held longer than a lease (LEASE_SECONDS)
# Each worker keeps twice as many sends in flight as it has SMTP connections: half stall in DATA, the other half
# wait for a connection after their last lease check. Scaled with the run, so a long one is not all waiting.
STALLED_POOL = max(8, STALLED_MESSAGES // 40)
# Time enough for one worker alone to send everything, twice over, and a minute for the sweeper's takeover.
STALLED_WAIT = 60 + 2 * STALL_SECONDS * STALLED_MESSAGES / STALLED_POOL


class Stack:
    """The roles as separate processes, restartable one by one; a process is named by its role unless told."""

    def __init__(self, env: dict[str, str], port: int, logs: Path) -> None:
        self.env = env
        self.port = port
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, role: str, *, name: str | None = None, env: dict[str, str] | None = None) -> None:
        name = name or role
        # Each process's log is kept beside the test's other files: the first place to look when a run fails.
        with self.log(name).open("ab") as log:
            self.procs[name] = subprocess.Popen(
                [IEP, "run", "--role", role], env=self.env | (env or {}), stdout=subprocess.DEVNULL, stderr=log
            )

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def worker_id(self, name: str) -> str:
        """The lease owner the process writes (bootstrap: host and pid)."""
        return f"{socket.gethostname()}:{self.procs[name].pid}"

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def pause(self, name: str) -> None:
        """SIGSTOP, and return once the kernel shows it stopped. Blocking on purpose: nothing else in the test's
        event loop (a fault proxy) moves between the caller's last look and the stop."""
        proc = self.procs[name]
        proc.send_signal(signal.SIGSTOP)
        stat = Path(f"/proc/{proc.pid}/stat")
        deadline = time.monotonic() + 5
        while stat.read_text().rpartition(")")[2].split()[0] != "T":
            assert time.monotonic() < deadline, f"{name} did not stop"
            time.sleep(0.001)

    def resume(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGCONT)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)  # a stopped process acts on SIGTERM only once continued
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


async def _until(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.fixture
async def own_redis() -> AsyncIterator[broker_control.OwnRedis]:
    server = broker_control.OwnRedis().start()
    yield server
    server.kill()


def _env(
    backend: str, database_url: str, sink: SmtpSink, port: int, rabbitmq_url: str, redis_url: str
) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "QUEUE_BACKEND": backend,
        "RABBITMQ_URL": rabbitmq_url,
        # Only the redis backend gets a Redis: the others run as they would without one.
        **({"REDIS_URL": redis_url} if backend == "redis" else {}),
        "PORT": str(port),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(sink.port),
        "SMTP_TLS": "none",
        "WORKER_LEASE_SECONDS": str(LEASE_SECONDS),
        "WORKER_CONCURRENCY": "16",
        "QUEUE_STALLED_CHECK_SECONDS": "2",
        "QUEUE_SWEEP_AFTER_SECONDS": "15",
        "QUEUE_SWEEP_INTERVAL_SECONDS": "3",
        "LOG_LEVEL": "warning",
    }


async def _send_all(
    base: str, tenant: TenantKey, accepted: list[str], statuses: Counter[int], count: int = MESSAGES
) -> None:
    limit = asyncio.Semaphore(SENDERS)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def one(i: int) -> None:
            async with limit:
                resp = await client.post(
                    "/v1/messages",
                    json={"to": [f"u{i}@example.com"], "from": "a@product.example", "subject": str(i), "textBody": "."},
                    headers=tenant.headers,
                )
                statuses[resp.status_code] += 1
                if resp.status_code == 202:
                    accepted.append(resp.json()["messageId"])

        await asyncio.gather(*(one(i) for i in range(count)))


def _append(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as out:
        out.write(line + "\n")


async def _wait_ready(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        for _ in range(400):
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("the API process never answered")


async def _unsent(container: Container) -> int:
    """Wait (up to a minute) until every message is `sent`; how many are not."""
    pending = -1
    for _ in range(600):
        async with container.engine.connect() as conn:
            pending = (
                await conn.execute(select(func.count()).select_from(messages).where(messages.c.status != "sent"))
            ).scalar_one()
        if pending == 0:
            break
        await asyncio.sleep(0.1)
    return pending


@dataclass(frozen=True)
class Tally:
    received: Counter[str]
    lost: set[str]
    duplicated: set[str]
    ambiguous: set[str]


async def _tally(
    container: Container, sink: SmtpSink, backend: str, fault: str, accepted: list[str], notes: list[str]
) -> Tally:
    """What reached the sink against what was accepted, and which messages carry an `ambiguous` event; the run's
    line printed, and appended to IEP_FAULT_REPORT."""
    received = Counter(sink.handler.ids())
    lost = set(accepted) - set(received)
    duplicated = {m for m, n in received.items() if n > 1}
    async with container.engine.connect() as conn:
        ambiguous = {
            str(m)
            for m in (await conn.execute(select(events.c.message_id).where(events.c.type == "ambiguous"))).scalars()
        }
    line = (
        f"| {backend} | {fault} | {len(accepted)} | {len(received)} | {len(lost)} | {len(duplicated)} "
        f"| {len(ambiguous)} | {'; '.join(notes)} |"
    )
    print("\n" + line)
    if REPORT:
        await asyncio.to_thread(_append, Path(REPORT), line)
    return Tally(received, lost, duplicated, ambiguous)


# With the postgres backend the broker is the database, and no accept happens without it (D3): that pair has no run.
BACKENDS = ("postgres", "rabbitmq", "redis")
CASES = [
    (backend, fault)
    for backend in BACKENDS
    for fault in ("worker_kill", "broker_restart", "relay_kill", "broker_down")
    if (backend, fault) != ("postgres", "broker_down")
]


@pytest.mark.parametrize(("backend", "fault"), CASES)
async def test_nothing_accepted_is_lost(
    backend: str,
    fault: str,
    container: Container,
    tenant: TenantKey,
    sink: SmtpSink,
    database_url: str,
    rabbitmq_url: str,
    own_redis: broker_control.OwnRedis,
    tmp_path: Path,
) -> None:
    if backend == "rabbitmq":
        await brokers.purge_rabbitmq(rabbitmq_url)
    port = free_port()
    stack = Stack(_env(backend, database_url, sink, port, rabbitmq_url, own_redis.url), port, tmp_path)
    base = f"http://127.0.0.1:{port}"
    accepted: list[str] = []
    answers: Counter[int] = Counter()
    delivered = lambda: len(set(sink.handler.ids()))  # noqa: E731
    events_seen: list[str] = []

    async def broker(down: bool) -> None:
        if backend == "rabbitmq":
            await asyncio.to_thread(broker_control.rabbitmq_down if down else broker_control.rabbitmq_up)
        elif backend == "redis" and down:
            own_redis.kill()
        elif backend == "redis":
            own_redis.start()

    try:
        for role in ("api", "relay", "worker"):
            stack.start(role)
        await _wait_ready(base)
        if fault == "broker_down":
            await broker(down=True)
            await _send_all(base, tenant, accepted, answers)
            events_seen.append(f"accepted {len(accepted)} with the broker down, delivered {delivered()}")
            assert delivered() == 0
            await broker(down=False)
        else:
            sending = asyncio.create_task(_send_all(base, tenant, accepted, answers))
            if fault == "worker_kill":
                for k in range(KILLS):
                    threshold = MESSAGES * (k + 1) // (KILLS + 2)
                    assert await _until(lambda t=threshold: len(sink.handler.received) >= t, 120), "no progress"
                    stack.kill("worker")
                    stack.start("worker")
            elif fault == "relay_kill":
                for k in range(KILLS):
                    threshold = MESSAGES * (k + 1) // (KILLS + 2)
                    assert await _until(lambda t=threshold: len(accepted) >= t, 120), "no accepts"
                    stack.kill("relay")
                    stack.start("relay")
            else:  # broker_restart
                assert await _until(lambda: len(sink.handler.received) >= MESSAGES // 3, 120), "no progress"
                if backend == "postgres":
                    killed = await broker_control.terminate_connections(database_url, "iep-worker", "iep-relay")
                    events_seen.append(f"terminated {killed} worker/relay connections")
                else:
                    await broker(down=True)
                    await asyncio.sleep(1)
                    await broker(down=False)
            await sending
        assert await _until(lambda: delivered() >= len(accepted), 240), f"{delivered()} of {len(accepted)} delivered"
        pending = await _unsent(container)
        await asyncio.sleep(2)  # a straggling re-send, if any, arrives before the count
    finally:
        stack.stop_all()
        if backend == "rabbitmq" and fault in ("broker_down", "broker_restart"):
            await asyncio.to_thread(broker_control.rabbitmq_up)  # never leave the machine's broker stopped

    tally = await _tally(container, sink, backend, fault, accepted, events_seen)
    assert dict(answers) == {202: MESSAGES}, "every request was accepted, whatever the broker was doing"
    assert tally.lost == set()
    assert pending == 0
    assert tally.duplicated <= tally.ambiguous, "a duplicate send is never silent"


STALLED = [(backend, fault) for backend in BACKENDS for fault in ("stalled_send", "stalled_stop")]


@pytest.mark.parametrize(("backend", "fault"), STALLED)
async def test_a_send_stalled_past_the_lease_is_sent_once(
    backend: str,
    fault: str,
    container: Container,
    tenant: TenantKey,
    sink: SmtpSink,
    database_url: str,
    rabbitmq_url: str,
    own_redis: broker_control.OwnRedis,
    tmp_path: Path,
) -> None:
    """Every SMTP answer to DATA held past the lease, two workers, each through a proxy of its own.

    `stalled_send`: renewed leases keep each send its own worker's: nothing is taken over, every message arrives
    once. `stalled_stop`: worker-a is SIGSTOPped while every connection it has is in a stalled send, until
    worker-b has taken all its messages over and delivered them; after SIGCONT its late records are refused, and
    it begins no SMTP transaction for a claim it lost (only the sends on the wire at the stop can arrive twice).
    """
    if backend == "rabbitmq":
        await brokers.purge_rabbitmq(rabbitmq_url)
    port = free_port()
    env = _env(backend, database_url, sink, port, rabbitmq_url, own_redis.url) | {
        "WORKER_CONCURRENCY": str(2 * STALLED_POOL),
        "SMTP_POOL_SIZE": str(STALLED_POOL),
        # A stopped worker reads its answer late: its SMTP client must not give up first (a lost answer would
        # make no record, and the refused record is what this run shows).
        "SMTP_TIMEOUT_SECONDS": "300",
    }
    stack = Stack(env, port, tmp_path)
    base = f"http://127.0.0.1:{port}"
    proxies = {name: await FaultProxy(sink.port).start() for name in ("worker-a", "worker-b")}
    for proxy in proxies.values():
        proxy.set("stall_answer", latency=STALL_SECONDS)
    stopped = proxies["worker-a"]
    accepted: list[str] = []
    answers: Counter[int] = Counter()
    notes = [f"every answer to DATA held {STALL_SECONDS:.0f} s, lease {LEASE_SECONDS} s, 2 workers"]
    marked_at_resume = in_flight = refused = 0
    refusals = lambda: stack.log("worker-a").read_text(errors="replace").count("record_refused")  # noqa: E731
    try:
        stack.start("api")
        stack.start("relay")
        for name, proxy in proxies.items():
            # Each on an operations port of its own (both would want the default one).
            stack.start("worker", name=name, env={"SMTP_PORT": str(proxy.port), "METRICS_PORT": "0"})
        await _wait_ready(base)
        sending = asyncio.create_task(_send_all(base, tenant, accepted, answers, STALLED_MESSAGES))
        if fault == "stalled_stop":
            full = lambda: stopped.holding == STALLED_POOL  # noqa: E731
            assert await _until(full, 60), "worker-a never had every connection in a stalled send"
            stack.pause("worker-a")  # no await in between: every transaction it began is in the stall
            paused_at, in_flight = time.monotonic(), stopped.holding
            await sending
            everything = lambda: set(accepted) <= set(sink.handler.ids())  # noqa: E731
            assert await _until(everything, STALLED_WAIT), "worker-b did not deliver everything on its own"
            assert await _unsent(container) == 0
            marked_at_resume = stopped.marked
            stack.resume("worker-a")
            notes.append(f"worker-a stopped {time.monotonic() - paused_at:.0f} s with {in_flight} sends in the stall")
            assert await _until(lambda: refusals() >= in_flight, 30), f"{refusals()} late records refused"
        await sending
        delivered = lambda: len(set(sink.handler.ids()))  # noqa: E731
        assert await _until(lambda: delivered() >= len(accepted), STALLED_WAIT), f"{delivered()} delivered"
        pending = await _unsent(container)
        await asyncio.sleep(2)  # a straggling re-send, if any, arrives before the count
        refused = refusals()
    finally:
        # In a thread: the proxies run in this event loop, and the workers' goodbyes to the server pass through them.
        await asyncio.to_thread(stack.stop_all)
        for proxy in proxies.values():
            await proxy.stop()

    held = sum(p.stalled for p in proxies.values())
    notes.append(f"{held} answers held, {refused} late records refused")
    tally = await _tally(container, sink, backend, fault, accepted, notes)
    assert dict(answers) == {202: STALLED_MESSAGES}
    assert tally.lost == set()
    assert pending == 0
    assert held >= len(accepted), "every send stalled past the lease"
    async with container.engine.connect() as conn:
        recorded = Counter(
            str(m) for m in (await conn.execute(select(events.c.message_id).where(events.c.type == "sent"))).scalars()
        )
        claims = (
            await conn.execute(
                select(events.c.message_id, events.c.payload, messages.c.attempts)
                .join(messages, messages.c.id == events.c.message_id)
                .where(events.c.type == "processing")
            )
        ).all()
    assert recorded == Counter(set(accepted)), "each message's `sent` is recorded once"
    # The fence of the claim that recorded it (the message's last attempt) is the owner of the record.
    owners = {str(m): p["worker"] for m, p, attempts in claims if p["attempt"] == attempts}
    if fault == "stalled_send":
        assert tally.duplicated == set(), "a renewed lease is never taken over"
        assert tally.ambiguous == set()
        assert refused == 0
        return
    assert tally.duplicated <= tally.ambiguous, "a duplicate send is never silent"
    assert len(tally.duplicated) <= in_flight, "only a send on the wire at the stop may arrive twice"
    assert stopped.marked == marked_at_resume, "no SMTP transaction begins for a lost claim"
    assert refused == in_flight, "each late record of a send on the wire at the stop is refused"
    # worker-b took over each message worker-a held at the stop, and its claim's record is the one that stands.
    assert tally.ambiguous, "worker-b took worker-a's claims over"
    assert {owners[m] for m in tally.ambiguous} == {stack.worker_id("worker-b")}


@pytest.mark.parametrize("backend", ["rabbitmq", "redis"])
async def test_with_default_settings_mail_moves_within_a_minute_of_the_brokers_return(
    backend: str,
    container: Container,
    tenant: TenantKey,
    sink: SmtpSink,
    database_url: str,
    rabbitmq_url: str,
    own_redis: broker_control.OwnRedis,
    tmp_path: Path,
) -> None:
    """RabbitMQ `stop_app`/`start_app`, or a Redis that comes back empty, under load and with no tuned setting:
    every accepted message is delivered within 60 s of the broker's return (the sweeper's bound follows the
    lease, ADR 0003)."""
    if backend == "rabbitmq":
        await brokers.purge_rabbitmq(rabbitmq_url)
    port = free_port()
    env = _env(backend, database_url, sink, port, rabbitmq_url, own_redis.url)
    for tuned in ("WORKER_LEASE_SECONDS", "QUEUE_STALLED_CHECK_SECONDS", "QUEUE_SWEEP_AFTER_SECONDS",
                  "QUEUE_SWEEP_INTERVAL_SECONDS"):  # fmt: skip
        env.pop(tuned)
    stack = Stack(env, port, tmp_path)
    accepted: list[str] = []
    answers: Counter[int] = Counter()
    returned = 0.0
    try:
        for role in ("api", "relay", "worker"):
            stack.start(role)
        await _wait_ready(f"http://127.0.0.1:{port}")
        sending = asyncio.create_task(_send_all(f"http://127.0.0.1:{port}", tenant, accepted, answers))
        assert await _until(lambda: len(sink.handler.received) >= MESSAGES // 3, 120), "no progress"
        if backend == "rabbitmq":
            await asyncio.to_thread(broker_control.rabbitmq_down)
            await asyncio.sleep(1)
            await asyncio.to_thread(broker_control.rabbitmq_up)
        else:
            own_redis.kill()
            await asyncio.sleep(1)
            own_redis.start()  # empty: it keeps nothing on disk
        returned = time.monotonic()
        await sending
        everything = lambda: set(accepted) <= set(sink.handler.ids())  # noqa: E731
        assert await _until(everything, 90), f"{len(set(sink.handler.ids()))} of {len(accepted)} delivered"
        took = time.monotonic() - returned
    finally:
        stack.stop_all()
        if backend == "rabbitmq":
            await asyncio.to_thread(broker_control.rabbitmq_up)
    print(f"\n{backend}: every accepted message delivered {took:.1f} s after the broker's return")
    assert dict(answers) == {202: MESSAGES}
    assert took <= 60, f"the last message arrived {took:.1f} s after the broker's return"
