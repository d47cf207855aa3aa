"""Several processes of one role on one host (`WORKER_PROCESSES`, `API_WORKERS`), so a host's cores are all used.

Python runs one thread of Python at a time, so one process of a role uses one core. The parent here runs no part
of the role: it starts `count` copies of `iep run --role ROLE` (each told to run as one), passes SIGTERM and
SIGINT on to them, waits for them to stop gracefully, and starts again a copy that died. For the API it binds
the port once and every copy accepts on that one socket (the kernel spreads connections across them), as a
pre-forking server does.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import structlog

from iep.config import Role

log = structlog.get_logger("iep.processes")
# The inherited listening socket's file descriptor, for API copies.
LISTEN_FD_ENV = "IEP_LISTEN_FD"
# A copy that dies sooner than this after its start is restarted after a pause, not at once.
_QUICK_DEATH_SECONDS = 5.0


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def inherited_socket() -> socket.socket | None:
    """In an API copy: the socket the parent bound, or None when this process binds its own."""
    fd = os.environ.get(LISTEN_FD_ENV)
    return socket.socket(fileno=int(fd)) if fd else None


def run_copies(
    role: Role, count: int, *, env: Mapping[str, str], host: str = "", port: int = 0, metrics_port: int = 0
) -> int:
    """Run `count` copies of `role` until SIGTERM/SIGINT; their exit code (0 when all stopped cleanly).

    Copies of a role without the API serve their own `/metrics` on `metrics_port + i` (Prometheus sums them);
    with `metrics_port` 0 each picks a free port.
    """
    sock = listening_socket(host, port) if role is Role.API else None
    child_env = dict(os.environ) | dict(env)
    pass_fds: tuple[int, ...] = ()
    if sock is not None:
        child_env[LISTEN_FD_ENV] = str(sock.fileno())
        pass_fds = (sock.fileno(),)
    argv = [str(Path(sys.executable).with_name("iep")), "run", "--role", role.value]
    if not Path(argv[0]).exists():
        argv = [sys.executable, "-m", "iep", "run", "--role", role.value]
    stopping = False

    def start(i: int) -> tuple[subprocess.Popen[bytes], float]:
        own = child_env | ({"METRICS_PORT": str(metrics_port + i)} if metrics_port else {})
        return subprocess.Popen(argv, env=own, pass_fds=pass_fds), time.monotonic()  # noqa: S603

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for proc, _ in copies:
            if proc.poll() is None:
                proc.send_signal(signum)

    copies = [start(i) for i in range(count)]
    log.info("copies_started", role=role.value, count=count, pids=[p.pid for p, _ in copies])
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        time.sleep(0.2)
        for i, (proc, started) in enumerate(copies):
            if stopping or proc.poll() is None:
                continue
            log.warning("copy_died", role=role.value, pid=proc.pid, code=proc.returncode)
            if time.monotonic() - started < _QUICK_DEATH_SECONDS:
                time.sleep(_QUICK_DEATH_SECONDS)  # a copy that cannot start must not spin
            copies[i] = start(i)
    codes = [proc.wait() for proc, _ in copies]
    if sock is not None:
        sock.close()
    log.info("copies_stopped", role=role.value, codes=codes)
    # A copy still starting when the signal came dies of it before its handlers exist: it held no work yet.
    clean = (0, -signal.SIGTERM, -signal.SIGINT)
    return 0 if all(code in clean for code in codes) else 1
