"""This machine's own ceilings, measured in the same run as IEP's figures.

- PostgreSQL: single-row ~2 KB INSERT commits/s with synchronous_commit on (pgbench, custom script, prepared);
- the SMTP sink: messages/s it accepts from aiosmtplib over 1 and N connections;
- the HTTP stack: req/s of FastAPI + uvicorn on a trivial endpoint, driven by the same wrk.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import aiosmtplib
import asyncpg

from bench import loadgen, procs
from bench.payload import mime
from bench.report import Rate

PGBENCH = os.environ.get("PGBENCH", "/usr/lib/postgresql/15/bin/pgbench")
# 24 B tuple header + 8 id + 8 timestamptz + 1,950 B text ≈ 2 KB: under the TOAST threshold, so stored inline
# and uncompressed like a message row's columns.
PG_ROW_BYTES = 1950
_TPS = re.compile(r"^tps = ([0-9.]+)", re.MULTILINE)


def _pg_env(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    return {
        **os.environ,
        "PGHOST": parts.hostname or "127.0.0.1",
        "PGPORT": str(parts.port or 5432),
        "PGUSER": parts.username or "postgres",
        "PGDATABASE": parts.path.lstrip("/"),
        # The ceiling is a durable commit, like IEP's accept; never measure it with the setting off.
        "PGOPTIONS": "-c synchronous_commit=on",
        **({"PGPASSWORD": parts.password} if parts.password else {}),
    }


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def postgres_inserts(url: str, *, clients: int, seconds: float, workdir: Path, rows: int = 1) -> Rate:
    """pgbench in a scratch database: each transaction is one INSERT of `rows` ~2 KB rows (one multi-row
    statement when more than one), committed. Single rows: commits/s; many: rows/s."""
    await _execute(
        url,
        "CREATE TABLE IF NOT EXISTS bench_rows (id bigserial PRIMARY KEY, payload text NOT NULL, "
        "created_at timestamptz NOT NULL DEFAULT now())",
    )
    script = workdir / f"insert-{rows}.sql"
    # Different content per row; under the TOAST threshold it is stored inline, never compressed.
    size, repeats, count = PG_ROW_BYTES, PG_ROW_BYTES // 32 + 1, int(rows)
    statement = "INSERT INTO bench_rows (payload) SELECT left(repeat(md5(random()::text || g), %d), %d) FROM "
    script.write_text(statement % (repeats, size) + f"generate_series(1, {count}) AS g;\n")
    proc = await asyncio.create_subprocess_exec(
        PGBENCH,
        "-n",
        "-M",
        "prepared",
        "-f",
        str(script),
        "-c",
        str(clients),
        "-j",
        str(min(clients, 2)),
        "-T",
        str(max(1, round(seconds))),
        env=_pg_env(url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    found = _TPS.search(text)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"pgbench failed ({proc.returncode}): {text[-2000:]}")
    tps = float(found.group(1))
    return Rate(tps, "commits/s") if rows == 1 else Rate(tps * rows, "rows/s")


async def _smtp_client(port: int, idents: list[str], template: bytes) -> None:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30)
    await client.connect()
    try:
        for ident in idents:
            await client.sendmail(
                "orders@bench.example", ["customer@example.com"], template.replace(b"IDENT", ident.encode())
            )
    finally:
        await client.quit()


async def smtp_sink(port: int, *, connections: int, messages: int) -> Rate:
    """The sink's accept rate: `messages` split over `connections` reused aiosmtplib connections."""
    template = mime("IDENT").as_bytes().replace(b"\n", b"\r\n")
    per = max(1, messages // connections)
    batches = [[f"ceiling-{c}-{i}" for i in range(per)] for c in range(connections)]
    started = time.perf_counter()
    await asyncio.gather(*(_smtp_client(port, b, template) for b in batches))
    elapsed = time.perf_counter() - started
    return Rate(per * connections / elapsed, "msgs/s")


async def start_sink(logs: Path, record: Path) -> tuple[procs.Proc, int]:
    port = procs.free_port()
    sink = procs.spawn("sink", [sys.executable, "-m", "bench.sink", str(port), str(record)], dict(os.environ), logs)
    await procs.wait_log(sink, "sink_ready")
    return sink, port


async def bare_http(logs: Path, *, connections: list[int], seconds: float) -> dict[int, loadgen.WrkResult]:
    port = procs.free_port()
    app = procs.spawn("bare_http", [sys.executable, "-m", "bench.bare_app", str(port)], dict(os.environ), logs)
    try:
        await procs.wait_http(app, f"http://127.0.0.1:{port}/ping")
        url = f"http://127.0.0.1:{port}/ping"
        await loadgen.run(url, connections=16, seconds=1)  # warm-up
        return {c: await loadgen.run(url, connections=c, seconds=seconds) for c in connections}
    finally:
        procs.stop(app)
