"""The Dockerfile as far as it can be checked without an image registry (none is reachable here, so the image is
not built in tests): multi-stage, every file it COPYs exists and is not kept out by .dockerignore, it runs as a
user other than root, has a HEALTHCHECK, and its entrypoint resolves SERVICE_ROLE to the right command."""

from __future__ import annotations

import fnmatch
import os
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "deploy" / "docker" / "entrypoint.sh"
HEALTHCHECK = ROOT / "deploy" / "docker" / "healthcheck.sh"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        current += " " + stripped.removesuffix("\\")
        if not stripped.endswith("\\"):
            lines.append(current.strip())
            current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def ignored(path: str) -> bool:
    patterns = [
        p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines() if p.strip() and not p.startswith("#")
    ]
    parts = Path(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch.fnmatch(prefix, pattern.removeprefix("**/")) or fnmatch.fnmatch(prefix, pattern)
        for pattern in patterns
        for prefix in prefixes
    )


def test_it_is_multi_stage_and_runs_as_a_user_other_than_root() -> None:
    steps = instructions()
    stages = [args for op, args in steps if op == "FROM"]
    assert len(stages) >= 2
    users = [args for op, args in steps if op == "USER"]
    assert users, "no USER: the image would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    # USER comes after the last FROM: it is the runtime stage's.
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    assert max(i for i, (op, _) in enumerate(steps) if op == "USER") > last_from
    assert any(op == "HEALTHCHECK" for op, _ in steps)
    assert [args for op, args in steps if op == "ENTRYPOINT"] == ['["entrypoint.sh"]']


def test_every_copied_file_exists_and_reaches_the_build_context() -> None:
    copied = 0
    for op, args in instructions():
        if op != "COPY":
            continue
        words = [w for w in shlex.split(args) if not w.startswith("--")]
        if "--from=" in args:
            continue
        for source in words[:-1]:
            matches = list(ROOT.glob(source))
            assert matches, f"COPY {source}: no such file"
            for match in matches:
                assert not ignored(str(match.relative_to(ROOT))), f"COPY {source}: kept out by .dockerignore"
            copied += 1
    assert copied >= 6


def test_the_bun_toolchain_and_the_venv_are_built_into_the_image() -> None:
    runs = " ".join(args for op, args in instructions() if op == "RUN")
    assert "npm install" in runs
    assert "bun --version" in runs
    assert "python3 -m venv /opt/iep/venv" in runs
    assert "requirements.txt" in runs
    assert "selftest.py" in runs  # the header-injection self-test gates the build


def _run(script: Path, env: dict[str, str], tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    for name in ("iep", "python3"):
        (fake / name).write_text('#!/bin/sh\necho "$(basename "$0") $*"\n')
        (fake / name).chmod(0o755)
    full = {"PATH": f"{fake}:/usr/bin:/bin", **env}
    return subprocess.run(["/bin/sh", str(script), *args], env=full, capture_output=True, text=True, timeout=10)


@pytest.mark.parametrize(
    ("role", "command"),
    [
        ("api", "iep run --role api"),
        ("WORKER", "iep run --role worker"),
        ("relay", "iep run --role relay"),
        ("webhooks", "iep run --role webhooks"),
        ("smtp", "iep run --role smtp"),
        ("registry", "iep run --role registry"),
        ("all", "iep run --role all"),
        ("migrate", "iep db upgrade"),
    ],
)
def test_the_entrypoint_resolves_service_role(role: str, command: str, tmp_path: Path) -> None:
    result = _run(ENTRYPOINT, {"SERVICE_ROLE": role}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == command


def test_the_entrypoint_refuses_an_unknown_or_missing_role(tmp_path: Path) -> None:
    unknown = _run(ENTRYPOINT, {"SERVICE_ROLE": "mailer"}, tmp_path)
    assert unknown.returncode == 64
    assert "unknown SERVICE_ROLE 'mailer'" in unknown.stderr
    missing = _run(ENTRYPOINT, {}, tmp_path)
    assert missing.returncode == 64
    assert "set SERVICE_ROLE" in missing.stderr
    # No SERVICE_ROLE and a command: the command runs (`docker run iep iep tenants list`).
    command = _run(ENTRYPOINT, {}, tmp_path, "iep", "tenants", "list")
    assert command.stdout.strip() == "iep tenants list"


@pytest.mark.parametrize(("role", "port"), [("api", "8000"), ("worker", "9464"), ("relay", "9464"), ("all", "8000")])
def test_the_healthcheck_asks_the_roles_own_port(role: str, port: str, tmp_path: Path) -> None:
    result = _run(HEALTHCHECK, {"SERVICE_ROLE": role}, tmp_path)
    assert f"http://127.0.0.1:{port}/health" in result.stdout


def test_the_healthcheck_reaches_a_real_health_endpoint(tmp_path: Path) -> None:
    """The healthcheck's Python one-liner against a real HTTP server answering /health."""
    import http.server
    import threading

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {"PATH": os.environ["PATH"], "SERVICE_ROLE": "worker", "METRICS_PORT": str(server.server_port)}
        ok = subprocess.run(["/bin/sh", str(HEALTHCHECK)], env=env, capture_output=True, timeout=10)
        assert ok.returncode == 0, ok.stderr
    finally:
        server.shutdown()
    down = subprocess.run(["/bin/sh", str(HEALTHCHECK)], env=env, capture_output=True, timeout=10)
    assert down.returncode != 0
