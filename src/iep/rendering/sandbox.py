"""What a render process may see of IEP: a fresh, minimal environment, and none of IEP's through /proc.

A render process runs tenant-influenced code (a `.tsx` template is a program). Its own environment is built
from nothing (`sandbox_env`), and it must not read IEP's either, which Linux shows at `/proc/<ppid>/environ`
to any process of the same user. Two measures, both always on:

- IEP marks itself not dumpable (`PR_SET_DUMPABLE` 0) before it starts a renderer: its /proc files are then
  readable only with CAP_SYS_PTRACE, which no render process has.
- A render process drops what it could use to get around that before it runs anything of a template's: when
  IEP runs as root it becomes `nobody` (uid and gid 65534, no supplementary groups, so no capability is left),
  it sets `no_new_privs` (no set-uid program can give them back), and it asks to die with IEP. The Python
  worker does this itself at start; Bun is started through `python -m iep.rendering.sandbox BUN ARGS…`, which
  does it and then execs Bun in place (same pid, same parent).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import iep

NOBODY = 65534
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_SET_NO_NEW_PRIVS = 38


def sandbox_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a render process: no secret of IEP's is ever within a template's reach."""
    env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    env.update(extra or {})
    return env


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def protect_parent() -> None:
    """Make this process's /proc files (environ, mem, maps) unreadable to its render processes."""
    _prctl(_PR_SET_DUMPABLE, 0)


def drop_privileges() -> None:
    """In a render process, before any template code: nobody if root, no new privileges, die with the parent."""
    if os.geteuid() == 0:
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)  # from uid 0 to another: every capability set is cleared
    _prctl(_PR_SET_NO_NEW_PRIVS, 1)
    # After the uid change, which clears a death signal set before it.
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before we could ask to die with it
        sys.exit(0)


def source_root() -> str:
    """Where this process imports IEP from: render processes import the same code."""
    return str(Path(iep.__file__).resolve().parent.parent)


def python_argv(module: str, *args: str) -> tuple[str, ...]:
    """`python -I` running `module.main()` from this process's copy of IEP (-I: no PYTHON* variables, no user
    site-packages; the explicit path means an installed copy elsewhere is never picked up)."""
    boot = f"import sys; sys.path.insert(0, {source_root()!r}); from {module} import main; main()"
    return (sys.executable, "-I", "-c", boot, *args)


def confined(argv: Sequence[str]) -> tuple[str, ...]:
    """`argv` started through `main` below: privileges dropped, then exec'd in place."""
    return python_argv("iep.rendering.sandbox", *argv)


def main() -> None:
    argv = sys.argv[1:]
    if not argv:
        sys.exit("usage: python -m iep.rendering.sandbox PROGRAM [ARGS...]")
    drop_privileges()
    os.execv(argv[0], argv)  # noqa: S606 - IEP's own program (Bun and its script), never a template's


if __name__ == "__main__":
    main()
