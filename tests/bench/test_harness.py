"""The benchmark harness produces well-formed figures (a smoke run of seconds; no speed is asserted)."""

from __future__ import annotations

import math
from pathlib import Path

import asyncpg
import pytest
from bench.otlp_sink import OtlpSink
from bench.payload import send_body

from bench import ceilings, cpu, drain, e2e, fairness, loadgen, machine, procs, report, scratch, stats


def test_wrk_result_line_is_read() -> None:
    out = 'Running 1s test\n{"requests": 500, "duration_us": 2000000, "status_errors": 3, "socket_errors": 0, '
    out += '"p50_us": 1500, "p99_us": 9000, "max_us": 12000}\n'
    result = loadgen.parse(out)
    assert (result.per_second, result.p50_ms, result.p99_ms, result.status_errors) == (250.0, 1.5, 9.0, 3)


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert (stats.percentile(values, 50), stats.percentile(values, 99), stats.percentile([], 50)) == (50.0, 99.0, None)


def test_the_table_has_one_line_per_row_and_four_columns() -> None:
    rows = [
        report.compared("accept, 16 conns", report.Rate(1500, "req/s", 9.5, 30.0), "PG", report.Rate(10_000, "c/s")),
        report.unavailable("end to end QUEUE_BACKEND=x", "refused"),
    ]
    table = report.markdown(rows).splitlines()
    assert len(table) == 4
    assert all(line.count("|") == 5 for line in table)
    assert "1,500 req/s (p50 9.5 ms, p99 30.0 ms)" in table[2]
    assert table[2].endswith("| 15 % |")
    assert "not available (refused)" in table[3]
    assert len(report.plain(rows).splitlines()) == 4


def test_docs_keep_what_is_written_outside_the_markers(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nintro\n\n## Closing note\n\nkept\n")
    machine.write_docs(doc, "| a | b |", "make bench", quick=True)
    machine.write_docs(doc, "| c | d |", "make bench", quick=False)
    text = doc.read_text()
    assert text.count(machine.BEGIN) == 1
    assert "| c | d |" in text
    assert "| a | b |" not in text
    assert "intro" in text
    assert "kept" in text


async def test_smtp_ceiling_against_the_sink_process(tmp_path: Path) -> None:
    record = tmp_path / "sink.txt"
    sink, port = await ceilings.start_sink(tmp_path, record)
    try:
        rate = await ceilings.smtp_sink(port, connections=2, messages=20)
    finally:
        procs.stop(sink)
    assert rate.unit == "msgs/s"
    assert math.isfinite(rate.per_second)
    assert rate.per_second > 0
    lines = record.read_text().splitlines()
    assert len(lines) == 20
    assert {line.split()[0] for line in lines} == {f"ceiling-{c}-{i}" for c in range(2) for i in range(10)}


async def test_the_multi_row_insert_ceiling_counts_rows(tmp_path: Path) -> None:
    async with scratch.database("pgrows") as url:
        rate = await ceilings.postgres_inserts(url, clients=2, seconds=1, workdir=tmp_path, rows=50)
        conn = await asyncpg.connect(url)
        try:
            stored = await conn.fetchval("SELECT count(*) FROM bench_rows")
            width = await conn.fetchval("SELECT min(length(payload)) FROM bench_rows")
        finally:
            await conn.close()
    assert rate.unit == "rows/s"
    assert rate.per_second > 0
    assert stored > 0
    assert stored % 50 == 0, "every commit wrote one multi-row statement's 50 rows"
    assert width == ceilings.PG_ROW_BYTES


async def test_end_to_end_delivers_every_message_and_measures_it(tmp_path: Path) -> None:
    async with scratch.database("smoke") as url:
        sender = await scratch.prepare_iep(url)
        async with e2e.pipeline(url, "postgres", tmp_path) as pipe:
            meter = cpu.CpuMeter({"api": pipe.api, "worker": pipe.worker}, url)
            await meter.start()
            done = await e2e.send_and_wait(
                pipe, url, api_key=sender.api_key, body=send_body(), count=20, connections=4, run_id="smoke"
            )
            await meter.stop()
            idle = pipe.worker.rss_mb()
    assert (done.accepted, done.delivered, len(done.latencies_ms)) == (20, 20, 20)
    assert all(ms > 0 for ms in done.latencies_ms), "each message reached the sink after it was accepted"
    rate = done.rate()
    assert rate.per_second > 0
    assert rate.p50_ms is not None
    assert rate.p99_ms is not None
    assert rate.p50_ms <= rate.p99_ms
    per_message = meter.per_message(done.delivered)
    assert set(per_message) == {"api", "worker", "postgres"}
    assert all(ms >= 0 for ms in per_message.values())
    assert per_message["worker"] > 0
    assert idle > 10, "RSS in MB"


async def test_a_backend_whose_roles_refuse_to_start_is_reported_not_available(tmp_path: Path) -> None:
    async with scratch.database("refuse") as url:
        with pytest.raises(procs.StartRefused, match="QUEUE_BACKEND"):
            async with e2e.pipeline(url, "no-such-backend", tmp_path):
                pass


async def test_a_drain_times_relay_and_worker_started_after_the_accepts(tmp_path: Path) -> None:
    async with scratch.database("drain") as url:
        sender = await scratch.prepare_iep(url)
        result = await drain.drain(
            url, sender.api_key, tmp_path, backend="postgres", messages=30, worker_env={"WORKER_PROCESSES": "2"}
        )
    assert (result.messages, result.delivered) == (30, 30)
    assert result.seconds > 0
    assert result.rate().per_second > 0
    assert set(result.cpu_ms) == {"relay", "worker", "postgres"}
    assert result.cpu_ms["worker"] > 0, "the copies' CPU is counted under their parent"


def test_the_stand_in_collector_takes_exports() -> None:
    import urllib.request

    with OtlpSink() as collector:
        request = urllib.request.Request(  # noqa: S310 - loopback, the sink's own address
            collector.endpoint + "/v1/traces", data=b"\x0a\x00", headers={"Content-Type": "application/x-protobuf"}
        )
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
            assert answer.status == 200
    assert (collector.requests, collector.bytes) == (1, 2)


async def test_fairness_measures_the_quiet_tenant_alone_and_beside_a_flood(tmp_path: Path) -> None:
    async with scratch.database("fair") as url:
        sender = await scratch.prepare_iep(url)
        result = await fairness.measure(url, sender.api_key, tmp_path, flood=60, quiet=10)
    assert (result.flood_accepted, result.quiet_delivered) == (60, 10)
    assert 0 < result.alone_p99_ms < math.inf
    assert 0 < result.flooded_p99_ms < math.inf
    assert result.ratio > 0
    for stages in (result.alone_stages, result.flooded_stages):
        assert stages is not None
        assert all(0 < ms < math.inf for ms in (*stages.to_claim, *stages.to_handoff)), stages


def test_a_line_the_sink_is_still_writing_is_not_read(tmp_path: Path) -> None:
    record = tmp_path / "sink.txt"
    record.write_text("a 1.5\nb 2.0\nc 2.")
    assert e2e._arrivals(record) == {"a": 1.5, "b": 2.0}
