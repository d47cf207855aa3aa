"""T3: 50 concurrent first renders of a new template, spread over 3 worker processes, compile it exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

REPLICAS = 3
RENDERS = 50
REDIS_URL = os.environ.get("IEP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REPO = Path(__file__).resolve().parents[2]


def _template(root: Path, fmt: str) -> str:
    marker = uuid.uuid4().hex  # new content: a key no cache has seen
    folder = root / "_shared"
    folder.mkdir(parents=True)
    if fmt == "tsx":
        (folder / "race.tsx").write_text(
            'import { Html, Text } from "@react-email/components";\n'
            f"export const subject = (p: {{ n: number }}) => `race {marker[:8]} ${{p.n}}`;\n"
            "export default function Race({ n }: { n: number }) {\n"
            f"  return <Html><Text>{marker} {{n}}</Text></Html>;\n"
            "}\n"
        )
    else:
        (folder / "race.mjml").write_text(
            f"---\nsubject: race {marker[:8]} {{{{ n }}}}\n---\n"
            f"<mjml><mj-body><mj-text>{marker} {{{{ n }}}}</mj-text></mj-body></mjml>\n"
        )
    return marker


def _race(tmp_path: Path, fmt: str, lock: str, url: str, *, shared_dist: bool) -> list[dict[str, object]]:
    root = tmp_path / "templates"
    _template(root, fmt)
    prefix = f"iep-test-{os.getpid()}-{uuid.uuid4().hex[:8]}:"
    per_replica = [RENDERS // REPLICAS + (1 if i < RENDERS % REPLICAS else 0) for i in range(REPLICAS)]
    procs = []
    for i, count in enumerate(per_replica):
        dist = tmp_path / ("dist" if shared_dist else f"dist-{i}")
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.support.compile_race",
                    str(root),
                    str(dist),
                    "race",
                    str(count),
                    lock,
                    url,
                    prefix,
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=REPO,
            )
        )
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        for proc in procs:  # release all three at once
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        reports = []
        for proc in procs:
            out, _ = proc.communicate(timeout=120)
            assert proc.returncode == 0
            reports.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert sum(per_replica) == RENDERS
    return reports


@pytest.mark.parametrize(
    ("fmt", "lock", "shared_dist"),
    [("tsx", "postgres", True), ("tsx", "redis", False), ("mjml", "postgres", True)],
    ids=["tsx-postgres-lock-shared-folder", "tsx-redis-lock-own-folders", "mjml-postgres-lock"],
)
def test_fifty_first_renders_on_three_replicas_compile_once(
    tmp_path: Path, database_url: str, fmt: str, lock: str, shared_dist: bool
) -> None:
    url = REDIS_URL if lock == "redis" else database_url
    reports = _race(tmp_path, fmt, lock, url, shared_dist=shared_dist)
    assert [r["errors"] for r in reports] == [[], [], []]
    assert sum(int(str(r["compiles"])) for r in reports) == 1, reports
    assert all(r["subjects"] for r in reports)
