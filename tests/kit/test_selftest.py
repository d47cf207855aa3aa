"""SPEC.md §4: IEP refuses an interpreter that turns an encoded newline in a Subject into a real header."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from iep.kit import selftest

SELFTEST = Path(selftest.__file__)
VULNERABLE = Path.home() / ".pyenv/versions/3.11.7/bin/python3"


def test_this_interpreter_passes() -> None:
    assert selftest.header_injection_leaks() == []
    selftest.ensure_safe_interpreter()
    done = subprocess.run([sys.executable, str(SELFTEST)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0
    assert done.stdout.startswith("ok:")


def test_a_leaking_interpreter_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selftest, "header_injection_leaks", lambda: ["A =?UTF-8?Q?=0A?=Bcc: x"])
    with pytest.raises(selftest.UnsafeInterpreterError, match="CVE-2024-6923"):
        selftest.ensure_safe_interpreter()


@pytest.mark.skipif(not VULNERABLE.exists(), reason="no unpatched CPython 3.11.7 on this machine to try")
def test_the_unpatched_interpreter_here_fails_the_check() -> None:
    done = subprocess.run([str(VULNERABLE), str(SELFTEST)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "CVE-2024-6923" in done.stderr
