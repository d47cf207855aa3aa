"""`make bench`: IEP's figures beside this machine's ceilings measured in the same run, as one table.

python -m bench.run [--quick] [--profile] [--backends postgres,rabbitmq,redis] [--no-write]
The table is printed and written between the markers in docs/benchmarks.md (with the command and the machine);
--profile also writes py-spy summaries of the accept and worker paths to docs/profiles/.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import (
    accept,
    ceilings,
    cpu,
    drain,
    e2e,
    fairness,
    large_accepts,
    loadgen,
    machine,
    procs,
    profile,
    provider_events,
    render,
    render_engines,
    report,
    scratch,
    users,
    webhooks,
)
from bench.accept import Api
from bench.otlp_sink import OtlpSink
from bench.payload import send_body
from bench.report import Rate, Row

DOCS = procs.REPO / "docs"
TARGET_IDLE_RSS_MB = 120.0
TARGET_P99_UNSATURATED_MS = 50.0
# "Not saturated": paced at this share of the saturated end-to-end rate measured just before.
PACED_SHARE = 0.3


@dataclass(frozen=True, slots=True)
class Sizes:
    pg_seconds: float
    smtp_one: int
    smtp_many: int
    http_seconds: float
    accept_seconds: float
    e2e_messages: int
    paced_messages: int
    render_iterations: int
    all_messages: int
    profile_seconds: float
    provider_events: int
    webhooks: int
    users: int
    drain_messages: int


FULL = Sizes(10, 2000, 5000, 10, 10, 5000, 1000, 2000, 1000, 10, 5000, 3000, 2000, 5000)
QUICK = Sizes(2, 200, 600, 2, 2, 500, 150, 200, 200, 3, 500, 300, 200, 500)
SMTP_CONNECTIONS = 16
# A worker tuned for draining a backlog (README: WORKER_CONCURRENCY, SMTP_POOL_SIZE), measured beside the defaults.
THROUGHPUT_SETTINGS = {"WORKER_CONCURRENCY": "128", "SMTP_POOL_SIZE": "32"}
ACCEPT_CONNECTIONS = [1, 16, 64]
E2E_CONNECTIONS = 16


class Bench:
    def __init__(self, sizes: Sizes, logs: Path, backends: list[str]) -> None:
        self.sizes = sizes
        self.logs = logs
        self.backends = backends
        self.rows: list[Row] = []
        self.run_id = f"b{os.getpid()}x{int(time.time())}"
        self.body = logs / "send.json"
        self.body.write_bytes(send_body())
        self.idle_rss: dict[str, float] = {}
        self.load_rss: dict[str, float] = {}
        self.pg_multirow = Rate(0.0, "rows/s")
        # The accept rate at 16 connections, for the directory's row beside it.
        self.accept16: Rate | None = None

    def say(self, text: str) -> None:
        print(f"[bench] {text}", file=sys.stderr, flush=True)

    def _peaks(self, peaks: dict[str, float], rename: dict[str, str]) -> None:
        for name, value in peaks.items():
            role = rename.get(name, name)
            self.load_rss[role] = max(self.load_rss.get(role, 0.0), value)

    async def ceilings(self) -> tuple[dict[int, Rate], dict[int, Rate], dict[int, loadgen.WrkResult]]:
        s = self.sizes
        self.say("ceiling: PostgreSQL single-row inserts (pgbench)")
        pg: dict[int, Rate] = {}
        async with scratch.database("pg") as url:
            for clients in (1, 16):
                pg[clients] = await ceilings.postgres_inserts(
                    url, clients=clients, seconds=s.pg_seconds, workdir=self.logs
                )
            # What the batch endpoint is measured against: as many rows per commit as one batch holds.
            self.pg_multirow = await ceilings.postgres_inserts(
                url, clients=16, seconds=s.pg_seconds, workdir=self.logs, rows=accept.BATCH_SIZE
            )
        self.say("ceiling: the SMTP sink from aiosmtplib")
        sink, port = await ceilings.start_sink(self.logs, self.logs / "sink-ceiling.txt")
        try:
            smtp = {
                1: await ceilings.smtp_sink(port, connections=1, messages=s.smtp_one),
                SMTP_CONNECTIONS: await ceilings.smtp_sink(port, connections=SMTP_CONNECTIONS, messages=s.smtp_many),
            }
        finally:
            procs.stop(sink)
        self.say("ceiling: bare FastAPI + uvicorn under wrk")
        http = await ceilings.bare_http(self.logs, connections=[16, 64], seconds=s.http_seconds)
        for clients, rate in pg.items():
            self.rows.append(
                Row(
                    f"ceiling: PostgreSQL ~2 KB INSERT + commit (pgbench), {report.count(clients, 'client')}",
                    str(rate),
                )
            )
        self.rows.append(
            Row(
                f"ceiling: PostgreSQL multi-row INSERT ({accept.BATCH_SIZE} × ~2 KB rows per commit), 16 clients",
                str(self.pg_multirow),
            )
        )
        for conns, rate in smtp.items():
            self.rows.append(
                Row(f"ceiling: aiosmtpd sink ← aiosmtplib, {report.count(conns, 'connection')}", str(rate))
            )
        for conns, result in http.items():
            self.rows.append(Row(f"ceiling: bare FastAPI + uvicorn GET /ping (wrk), {conns} conns", str(result.rate())))
        return pg, smtp, http

    async def accept(self, url: str, api_key: str, pg: dict[int, Rate], http: dict[int, loadgen.WrkResult]) -> None:
        self.say("accept: POST /v1/messages at " + "/".join(map(str, ACCEPT_CONNECTIONS)) + " connections")
        async with accept.api_role(url, self.logs, tag="-accept") as api:
            await asyncio.sleep(1)
            self.idle_rss["api"] = api.proc.rss_mb()
            await accept.warm(api, api_key=api_key, body=self.body, run_id=self.run_id)
            results: dict[int, loadgen.WrkResult] = {}
            spent: dict[int, dict[str, float]] = {}
            async with procs.RssPeaks([api.proc]) as peaks:
                for conns in ACCEPT_CONNECTIONS:
                    meter = cpu.CpuMeter({"api": api.proc}, url)
                    await meter.start()
                    results[conns] = await accept.run_one(
                        api,
                        api_key=api_key,
                        body=self.body,
                        connections=conns,
                        seconds=self.sizes.accept_seconds,
                        run_id=self.run_id,
                    )
                    await meter.stop()
                    spent[conns] = meter.per_message(results[conns].requests)
            self._peaks(peaks.peaks, {api.proc.name: "api"})
            batch_row = await self.batch(api, api_key, self.pg_multirow)
        for conns, result in results.items():
            ceiling = pg[1] if conns == 1 else pg[16]
            label = f"PostgreSQL {'1 client' if conns == 1 else '16 clients'}"
            row = report.compared(
                f"accept POST /v1/messages (2 KB), {report.count(conns, 'conn')}",
                result.rate(),
                label,
                ceiling,
            )
            if result.status_errors or result.socket_errors:
                row = Row(
                    row.what,
                    f"{row.figure} [{result.status_errors} non-2xx, {result.socket_errors} socket errors]",
                    row.ceiling,
                    row.ratio,
                )
            self.rows.append(row)
        self.rows.append(self.cpu_row("accept, 16 conns", spent[16], results[16].per_second))
        self.accept16 = results[16].rate()
        top = max(ACCEPT_CONNECTIONS)
        if top in http:
            bare, reached = http[top].per_second, results[top].per_second
            self.rows.append(
                Row(
                    f"load generator headroom: wrk on the bare endpoint vs IEP accept, {top} conns",
                    f"{bare:,.0f} req/s",
                    f"IEP accept: {reached:,.0f} req/s",
                    report.headroom(bare, reached),
                )
            )
        self.rows.append(batch_row)

    async def accept_variants(self, url: str, api_key: str, pg16: Rate) -> None:
        """Accept at 16 connections with two API processes (API_WORKERS=2), and with OTLP export on (tracing's cost)."""
        with OtlpSink() as collector:
            variants = {
                "accept POST /v1/messages (2 KB), 16 conns, API_WORKERS=2": {"API_WORKERS": "2"},
                "accept POST /v1/messages (2 KB), 16 conns, OTLP export on": {
                    "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint
                },
            }
            for what, env in variants.items():
                self.say(what)
                async with accept.api_role(url, self.logs, tag=f"-{len(self.rows)}", env=env) as api:
                    await accept.warm(api, api_key=api_key, body=self.body, run_id=f"{self.run_id}-{len(self.rows)}")
                    result = await accept.run_one(
                        api,
                        api_key=api_key,
                        body=self.body,
                        connections=16,
                        seconds=self.sizes.accept_seconds,
                        run_id=f"{self.run_id}-v{len(self.rows)}",
                    )
                row = report.compared(what, result.rate(), "PostgreSQL 16 clients", pg16)
                if self.accept16 is not None:
                    row = Row(row.what, f"{row.figure} ({report.ratio(result.per_second, self.accept16.per_second)}"
                              " of one process, no export)", row.ceiling, row.ratio)  # fmt: skip
                self.rows.append(row)
            if collector.requests:
                self.rows.append(Row("OTLP exports received by the stand-in collector", f"{collector.requests:,}"))

    async def drains(self, url: str, api_key: str, smtp: dict[int, Rate]) -> None:
        """N messages queued first, then relay + worker started and timed until the sink has them all (the peer's
        `send_queued_mail` figure), with 1 and 2 worker processes."""
        for backend in self.backends:
            for processes in (1, 2):
                what = f"drain of {self.sizes.drain_messages:,} queued, {backend}, WORKER_PROCESSES={processes}"
                self.say(what)
                env = {"WORKER_PROCESSES": str(processes)} if processes > 1 else None
                result = await drain.drain(
                    url, api_key, self.logs, backend=backend, messages=self.sizes.drain_messages, worker_env=env
                )
                sink = smtp[SMTP_CONNECTIONS]
                figure = result.rate()
                self.rows.append(report.compared(what, figure, "SMTP sink, 16 connections", sink))
                self.rows.append(self.cpu_row(f"drain, {backend}, {processes} worker process(es)", result.cpu_ms,
                                              figure.per_second))  # fmt: skip
        if "postgres" in self.backends:  # more sends in flight: the backlog drains faster, a quiet tenant waits longer
            settings = " ".join(f"{k}={v}" for k, v in THROUGHPUT_SETTINGS.items())
            what = f"drain of {self.sizes.drain_messages:,} queued, postgres, {settings}"
            self.say(what)
            result = await drain.drain(
                url, api_key, self.logs, backend="postgres", messages=self.sizes.drain_messages,
                worker_env=dict(THROUGHPUT_SETTINGS),
            )  # fmt: skip
            self.rows.append(report.compared(what, result.rate(), "SMTP sink, 16 connections", smtp[SMTP_CONNECTIONS]))
            self.rows.append(self.cpu_row(f"drain, postgres, {settings}", result.cpu_ms, result.rate().per_second))
        if "postgres" in self.backends:  # tracing's cost on the delivering side: the same drain exporting spans
            with OtlpSink() as collector:
                what = f"drain of {self.sizes.drain_messages:,} queued, postgres, OTLP export on"
                self.say(what)
                env = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint}
                result = await drain.drain(
                    url, api_key, self.logs, backend="postgres", messages=self.sizes.drain_messages, worker_env=env
                )
            self.rows.append(report.compared(what, result.rate(), "SMTP sink, 16 connections", smtp[SMTP_CONNECTIONS]))
            self.rows.append(self.cpu_row("drain, postgres, OTLP export on", result.cpu_ms, result.rate().per_second))

    async def fairness(self, url: str, api_key: str) -> None:
        """A quiet tenant's p99 accept → handoff while another floods `priority: high` (postgres backend)."""
        if "postgres" not in self.backends:
            return
        self.say("fairness: a quiet tenant beside a flood of priority: high")
        await scratch.reset_messages(url)
        result = await fairness.measure(url, api_key, self.logs, flood=self.sizes.drain_messages, quiet=100)
        self.rows.append(
            Row(
                f"fairness: tenant B's p99 accept → handoff while tenant A floods {result.flood_accepted:,} high",
                f"{result.flooded_p99_ms:,.1f} ms",
                f"B alone: {result.alone_p99_ms:,.1f} ms (goal ≤ 2×)",
                f"{result.ratio:.1f}×",
            )
        )

    async def batch(self, api: Api, api_key: str, multirow: Rate) -> Row:
        what = f"accept POST {accept.BATCH_PATH} ({accept.BATCH_SIZE} per request), 16 conns"
        refused = await accept.batch_probe(api, api_key=api_key)
        if refused is not None:
            return report.unavailable(what, refused)
        body = self.logs / "batch.json"
        body.write_bytes(accept.batch_body())
        result = await accept.batch_rate(
            api, api_key=api_key, body=body, seconds=self.sizes.accept_seconds, run_id=self.run_id
        )
        rate = Rate(result.per_second * accept.BATCH_SIZE, "msgs/s", result.p50_ms, result.p99_ms)
        row = report.compared(what, rate, f"PostgreSQL multi-row INSERT, {accept.BATCH_SIZE} rows/commit", multirow)
        if result.status_errors:
            row = Row(row.what, f"{row.figure} [{result.status_errors} non-2xx]", row.ceiling, row.ratio)
        return row

    @staticmethod
    def cpu_row(what: str, per_message: dict[str, float], reached: float) -> Row:
        """CPU per message, and the rate the machine's cores would allow if CPU were the only bound."""
        cores = os.cpu_count() or 1
        bound = 1000 * cores / max(sum(per_message.values()), 1e-9)
        return Row(
            f"CPU per message, {what}",
            cpu.describe(per_message),
            f"{cores} cores ⇒ at most {bound:,.0f} msgs/s",
            report.ratio(reached, bound),
        )

    async def provider_events(self, url: str, http: dict[int, loadgen.WrkResult]) -> None:
        what = f"provider events in: POST {provider_events.PATH} (1 signed event each), 16 conns"
        self.say("provider events: signed Resend events into the api role")
        try:
            rate, refused = await provider_events.measure(url, self.logs, events=self.sizes.provider_events)
        except procs.StartRefused as exc:
            self.rows.append(report.unavailable(what, str(exc)[:160]))
            return
        bare = http.get(16)
        row = (
            report.compared(what, rate, "bare FastAPI GET /ping, 16 conns", bare.rate())
            if bare
            else Row(what, str(rate))
        )
        if refused:
            row = Row(row.what, f"{row.figure} [{refused} non-200]", row.ceiling, row.ratio)
        self.rows.append(row)

    async def directory_users(self, url: str, api_key: str) -> None:
        what = f"directory: POST {users.PATH}, each with the registry lookup (role registry), {users.CONNECTIONS} conns"
        self.say("directory: user creates, each checked with the registry role")
        try:
            rate, refused = await users.measure(url, api_key, self.logs, users=self.sizes.users, run_id=self.run_id)
        except procs.StartRefused as exc:
            self.rows.append(report.unavailable(what, str(exc)[:160]))
            return
        row = (
            report.compared(what, rate, "accept POST /v1/messages, 16 conns", self.accept16)
            if self.accept16
            else Row(what, str(rate))
        )
        if refused:
            row = Row(row.what, f"{row.figure} [{refused} non-201]", row.ceiling, row.ratio)
        self.rows.append(row)

    async def large_accepts(self, url: str, api_key: str) -> None:
        what = (
            f"GET /v1/messages p99 while {large_accepts.LARGE_AT_ONCE} clients post "
            f"{large_accepts.LARGE_CHARS // 1000} KB templated bodies"
        )
        self.say("large templated accepts: other requests' latency beside them")
        try:
            alone, beside, accepted = await large_accepts.measure(
                url, api_key, self.logs, probes=self.sizes.render_iterations // 10
            )
        except procs.StartRefused as exc:
            self.rows.append(report.unavailable(what, str(exc)[:160]))
            return
        self.rows.append(
            Row(
                what,
                f"{beside} [{accepted} large accepted]",
                f"the same GETs alone: {alone}",
                report.headroom(beside.p99_ms or 0.0, alone.p99_ms or 0.0),
            )
        )

    async def render(self) -> None:
        self.say("render: per engine")
        budget = float(os.environ.get("RENDER_TIMEOUT_MS", "200"))
        for name, rate in render.measure(self.sizes.render_iterations).items():
            ratio = report.ratio(rate.p99_ms or 0.0, budget)
            self.rows.append(Row(f"render {name}, one process", str(rate), f"render budget: {budget:.0f} ms", ratio))
        # Through the render sandbox, as delivery renders: cold (compile included) and warm, per engine.
        rows, ping = await render_engines.measure()
        floor = f"IPC floor p50 {render_engines.pct(ping, 0.5):.2f} ms"
        for label, cold, warm, per_second, _ in rows:
            cold_text = (
                f"cold p50 {render_engines.pct(cold, 0.5):.1f} ms, p99 {render_engines.pct(cold, 0.99):.1f} ms; "
                if cold
                else ""
            )
            figure = (
                f"{per_second:,.0f} renders/s ({cold_text}warm p50 {render_engines.pct(warm, 0.5):.1f} ms, "
                f"p99 {render_engines.pct(warm, 0.99):.1f} ms)"
            )
            ratio = report.ratio(render_engines.pct(warm, 0.99), budget)
            self.rows.append(
                Row(f"render {label} in the sandbox pool", figure, f"budget {budget:.0f} ms; {floor}", ratio)
            )

    async def end_to_end(self, url: str, api_key: str, smtp: dict[int, Rate]) -> None:
        s = self.sizes
        body = self.body.read_bytes()
        for backend in self.backends:
            what = f"end to end QUEUE_BACKEND={backend}"
            self.say(f"end to end: {backend}")
            await scratch.reset_messages(url)
            try:
                async with e2e.pipeline(url, backend, self.logs) as pipe:
                    await asyncio.sleep(1)
                    if backend == "postgres":
                        for proc, role in zip(pipe.roles, ("api", "relay", "worker"), strict=True):
                            self.idle_rss[role] = proc.rss_mb()
                    meter = cpu.CpuMeter(
                        {"api": pipe.api, "relay": pipe.relay, "worker": pipe.worker, "sink": pipe.sink}, url
                    )
                    await meter.start()
                    async with procs.RssPeaks(pipe.roles) as peaks:
                        full = await e2e.send_and_wait(
                            pipe,
                            url,
                            api_key=api_key,
                            body=body,
                            count=s.e2e_messages,
                            connections=E2E_CONNECTIONS,
                            run_id=f"{self.run_id}-{backend}",
                        )
                    await meter.stop()
                    if backend == "postgres":
                        self._peaks(
                            peaks.peaks,
                            {p.name: r for p, r in zip(pipe.roles, ("api", "relay", "worker"), strict=True)},
                        )
                    saturated = full.rate()
                    pace = max(10.0, PACED_SHARE * saturated.per_second)
                    paced = await e2e.send_and_wait(
                        pipe,
                        url,
                        api_key=api_key,
                        body=body,
                        count=s.paced_messages,
                        connections=4,
                        run_id=f"{self.run_id}-{backend}-paced",
                        rate=pace,
                    )
            except procs.StartRefused as exc:
                self.rows.append(report.unavailable(what, str(exc)[:160]))
                continue
            lost = (
                "" if full.delivered == full.accepted else f" [{full.accepted - full.delivered} not delivered in time]"
            )
            self.rows.append(
                Row(
                    f"{what}: {full.accepted:,} msgs, {E2E_CONNECTIONS} conns, saturated (p = accept → SMTP handoff)",
                    str(saturated) + lost,
                    f"SMTP sink, {SMTP_CONNECTIONS} connections: {smtp[SMTP_CONNECTIONS].per_second:,.0f} msgs/s",
                    report.ratio(saturated.per_second, smtp[SMTP_CONNECTIONS].per_second),
                )
            )
            rate = paced.rate()
            self.rows.append(
                Row(
                    f"{what}: {paced.accepted:,} msgs paced at {pace:,.0f}/s, not saturated",
                    str(rate),
                    f"target p99 < {TARGET_P99_UNSATURATED_MS:.0f} ms",
                    report.ratio(rate.p99_ms or 0.0, TARGET_P99_UNSATURATED_MS),
                )
            )
            self.rows.append(
                self.cpu_row(f"end to end, {backend}", meter.per_message(full.delivered), saturated.per_second)
            )

    async def role_all(self, url: str, api_key: str) -> None:
        self.say("memory: role all")
        await scratch.reset_messages(url)
        record = self.logs / "sink-all.txt"
        sink, sink_port = await ceilings.start_sink(self.logs, record)
        port = procs.free_port()
        env = {"DATABASE_URL": url, "PORT": str(port), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(sink_port)}
        proc = procs.spawn_role("all", env, self.logs)
        try:
            await procs.wait_http(proc, f"http://127.0.0.1:{port}/ready")
            await asyncio.sleep(1)
            self.idle_rss["all"] = proc.rss_mb()
            pipe = e2e.Pipeline(proc, proc, proc, sink, f"http://127.0.0.1:{port}", record)
            async with procs.RssPeaks([proc]) as peaks:
                await e2e.send_and_wait(
                    pipe,
                    url,
                    api_key=api_key,
                    body=self.body.read_bytes(),
                    count=self.sizes.all_messages,
                    connections=E2E_CONNECTIONS,
                    run_id=f"{self.run_id}-all",
                )
            self.load_rss["all"] = peaks.peaks.get(proc.name, 0.0)
        finally:
            procs.stop(proc)
            procs.stop(sink)

    async def webhooks(self, url: str) -> None:
        self.say("tenant webhooks: role webhooks → local receiver")
        rate, bare = await webhooks.measure(url, self.logs, self.sizes.webhooks)
        self.rows.append(
            report.compared(
                f"tenant webhooks delivered (role webhooks, postgres queue, {webhooks.CONCURRENCY} in flight)",
                rate,
                "the receiver from a bare httpx loop",
                bare,
            )
        )

    def memory_rows(self) -> None:
        for role in ("api", "worker", "relay", "all"):
            if role not in self.idle_rss:
                continue
            idle, load = self.idle_rss[role], self.load_rss.get(role)
            figure = f"{idle:.0f} MB idle / {load:.0f} MB under load" if load else f"{idle:.0f} MB idle"
            self.rows.append(
                Row(
                    f"RSS of role {role}",
                    figure,
                    f"target idle < {TARGET_IDLE_RSS_MB:.0f} MB",
                    report.ratio(idle, TARGET_IDLE_RSS_MB),
                )
            )

    async def profiles(self, url: str, api_key: str) -> None:
        seconds = self.sizes.profile_seconds
        out = DOCS / "profiles"
        out.mkdir(exist_ok=True)
        self.say("profile: accept path (api role under wrk, 16 conns)")
        async with accept.api_role(url, self.logs, tag="-profile") as api:
            await accept.warm(api, api_key=api_key, body=self.body, run_id=f"{self.run_id}-pw")
            load = asyncio.create_task(
                loadgen.run(
                    api.base + "/v1/messages",
                    connections=16,
                    seconds=seconds + 2,
                    method="POST",
                    body=self.body,
                    api_key=api_key,
                    run_id=f"{self.run_id}-prof",
                )
            )
            await asyncio.sleep(1)
            raw = await profile.record(api.proc.pid, seconds, self.logs / "accept.collapsed")
            await load
        cmd = f"py-spy record --pid <api> --duration {seconds:.0f} --rate 200 --format raw --nolineno --nonblocking"
        (out / "accept.md").write_text(
            profile.summarise(raw, "Accept path: `iep run --role api`, wrk 16 conns, 2 KB POST", cmd)
        )
        self.say("profile: worker path (postgres backend, saturated)")
        await scratch.reset_messages(url)
        async with e2e.pipeline(url, "postgres", self.logs) as pipe:
            deliveries = asyncio.create_task(
                e2e.send_and_wait(
                    pipe,
                    url,
                    api_key=api_key,
                    body=self.body.read_bytes(),
                    count=self.sizes.e2e_messages,
                    connections=E2E_CONNECTIONS,
                    run_id=f"{self.run_id}-profw",
                )
            )
            await asyncio.sleep(1)
            raw = await profile.record(pipe.worker.pid, seconds, self.logs / "worker.collapsed")
            await deliveries
        (out / "worker.md").write_text(
            profile.summarise(
                raw, "Worker path: `iep run --role worker`, postgres queue, saturated", cmd.replace("<api>", "<worker>")
            )
        )


async def main(args: argparse.Namespace) -> int:
    sizes = QUICK if args.quick else FULL
    logs = Path(tempfile.mkdtemp(prefix="iep-bench-"))
    bench = Bench(sizes, logs, [b.strip() for b in args.backends.split(",") if b.strip()])
    started = time.monotonic()
    try:
        pg, smtp, http = await bench.ceilings()
        async with scratch.database("iep") as url:
            sender = await scratch.prepare_iep(url)
            await bench.accept(url, sender.api_key, pg, http)
            await bench.accept_variants(url, sender.api_key, pg[16])
            await bench.drains(url, sender.api_key, smtp)
            await bench.fairness(url, sender.api_key)
            await bench.provider_events(url, http)
            await bench.directory_users(url, sender.api_key)
            await bench.large_accepts(url, sender.api_key)
            await bench.render()
            await bench.end_to_end(url, sender.api_key, smtp)
            await bench.role_all(url, sender.api_key)
            await bench.webhooks(url)
            bench.memory_rows()
            if args.profile:
                await bench.profiles(url, sender.api_key)
    except BaseException:
        bench.say(f"failed; the processes' logs are kept in {logs}")
        raise
    table = report.plain(bench.rows)
    print(table)
    flags = [flag for flag, on in (("--quick", args.quick), ("--profile", args.profile)) if on]
    command = "make bench" + (f' BENCH_ARGS="{" ".join(flags)}"' if flags else "")
    if not args.no_write:
        machine.write_docs(DOCS / "benchmarks.md", report.markdown(bench.rows), command, quick=args.quick)
    bench.say(f"done in {time.monotonic() - started:.0f} s; process logs in {logs}")
    if not args.keep_logs:
        shutil.rmtree(logs, ignore_errors=True)
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run in well under a minute (figures are rough)")
    parser.add_argument("--profile", action="store_true", help="also write py-spy summaries to docs/profiles/")
    parser.add_argument("--backends", default="postgres,rabbitmq,redis", help="queue backends to try end to end")
    parser.add_argument("--no-write", action="store_true", help="print the table only; leave docs/ alone")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs (path printed)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args(sys.argv[1:]))))
