"""Drain: N messages accepted first, then `relay` + `worker` started and timed until the sink holds every one.

This is how django-post-office's `send_queued_mail` is timed (start-up included), so the two figures compare.
The delivering roles' CPU is counted from their start to the last message; PostgreSQL's from the same moment.

Run alone: `python -m bench.drain --messages 5000 [--backend postgres] [--worker-processes 1]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench import client, cpu, payload, procs, profile, scratch
from bench.ceilings import smtp_sink, start_sink
from bench.e2e import BROKERS, _arrivals, _fresh_vhost
from bench.otlp_sink import OtlpSink
from bench.report import Rate


@dataclass(frozen=True, slots=True)
class Drained:
    messages: int
    delivered: int
    seconds: float
    cpu_ms: dict[str, float]

    def rate(self) -> Rate:
        return Rate(self.delivered / self.seconds if self.seconds > 0 else 0.0, "msgs/s")


async def drain(
    url: str,
    api_key: str,
    logs: Path,
    *,
    backend: str,
    messages: int,
    worker_env: dict[str, str] | None = None,
    profile_seconds: float = 0.0,
) -> Drained:
    """Accept `messages` with only the API running, then start relay + worker and time the drain."""
    await scratch.reset_messages(url)
    if backend == "rabbitmq":
        await asyncio.to_thread(_fresh_vhost, BROKERS["RABBITMQ_URL"])
    record = logs / f"sink-drain-{backend}.txt"
    record.unlink(missing_ok=True)
    sink, sink_port = await start_sink(logs, record)
    port = procs.free_port()
    env = {
        "DATABASE_URL": url,
        "QUEUE_BACKEND": backend,
        "PORT": str(port),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(sink_port),
        **BROKERS,
    }
    started: list[procs.Proc] = [sink]
    try:
        api = procs.spawn_role("api", env, logs, tag=f"-drain-{backend}")
        started.append(api)
        base = f"http://127.0.0.1:{port}"
        await procs.wait_http(api, base + "/ready")
        body = orjson.dumps(payload.send_request())
        run_id = f"drain-{backend}-{int(time.time())}"
        stats = await client.post_many(
            base + "/v1/messages", api_key=api_key, body=body, count=messages, connections=16, run_id=run_id
        )
        procs.stop(api)
        meter = cpu.CpuMeter({}, url)
        await meter.start()
        began = time.monotonic()
        tracing_env = {k: v for k, v in (worker_env or {}).items() if k.startswith("OTEL_")}
        relay = procs.spawn_role("relay", {**env, **tracing_env}, logs, tag=f"-drain-{backend}")
        started.append(relay)
        worker = procs.spawn_role("worker", {**env, **(worker_env or {})}, logs, tag=f"-drain-{backend}")
        started.append(worker)
        meter.procs = {"relay": relay, "worker": worker}
        meter.baseline_zero()
        profiling = None
        if profile_seconds:
            await procs.wait_log(worker, "worker_started")
            out = logs / "worker-drain.collapsed"
            profiling = asyncio.create_task(profile.record(worker.pid, profile_seconds, out))
        deadline = began + 600
        delivered = 0
        while time.monotonic() < deadline:
            delivered = len(_arrivals(record))
            if delivered >= stats.accepted:
                break
            if worker.popen.poll() is not None or relay.popen.poll() is not None:
                raise procs.StartRefused(worker.last_words() + " / " + relay.last_words())
            await asyncio.sleep(0.05)
        seconds = time.monotonic() - began
        await meter.stop()
        if profiling is not None:
            collapsed = await profiling
            command = f"python -m bench.drain --messages {messages} --profile {profile_seconds:g}"
            (logs / "worker-drain.md").write_text(profile.summarise(collapsed, "Worker path: drain", command))
        return Drained(stats.accepted, delivered, seconds, meter.per_message(delivered))
    finally:
        for proc in reversed(started):
            procs.stop(proc)


async def main(args: argparse.Namespace) -> int:
    logs = Path(tempfile.mkdtemp(prefix="iep-drain-"))
    record = logs / "sink-ceiling.txt"
    sink, sink_port = await start_sink(logs, record)
    try:
        ceiling = await smtp_sink(sink_port, connections=16, messages=min(args.messages, 3000))
    finally:
        procs.stop(sink)
    worker_env = {"WORKER_PROCESSES": str(args.worker_processes)} if args.worker_processes > 1 else {}
    worker_env.update(setting.split("=", 1) for setting in args.env)
    with contextlib.ExitStack() as stack:
        collector = stack.enter_context(OtlpSink()) if args.otlp else None
        if collector is not None:
            worker_env["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.endpoint
        async with scratch.database("drain") as url:
            sender = await scratch.prepare_iep(url)
            result = await drain(
                url,
                sender.api_key,
                logs,
                backend=args.backend,
                messages=args.messages,
                worker_env=worker_env,
                profile_seconds=args.profile,
            )
    if collector is not None:
        print(f"OTLP exports received: {collector.requests:,} ({collector.bytes:,} bytes)")
    rate = result.rate()
    print(f"SMTP sink ceiling, 16 connections: {ceiling.per_second:,.0f} msgs/s")
    share = 100 * rate.per_second / ceiling.per_second
    print(
        f"drain of {result.messages:,} queued ({args.backend}, start-up included): {result.delivered:,} delivered in "
        f"{result.seconds:.1f} s = {rate.per_second:,.0f} msgs/s ({share:.0f} % of the sink)"
    )
    print(f"CPU per message: {cpu.describe(result.cpu_ms)}")
    print(f"logs: {logs}")
    return 0 if result.delivered == result.messages else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--backend", default="postgres", choices=["postgres", "rabbitmq", "redis"])
    parser.add_argument("--worker-processes", type=int, default=1)
    parser.add_argument("--profile", type=float, default=0.0, help="py-spy the worker for this many seconds")
    parser.add_argument("--env", action="append", default=[], help="a worker setting, NAME=value (repeatable)")
    parser.add_argument(
        "--otlp", action="store_true", help="export spans to a stand-in OTLP collector (tracing's cost)"
    )
    sys.exit(asyncio.run(main(parser.parse_args())))
