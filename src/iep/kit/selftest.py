"""Start-up self-test: refuse an interpreter whose email package lets a header smuggle another header.

CPython builds without the CVE-2024-6923 fix turn the encoded word ``=?UTF-8?Q?=0A?=`` in a Subject into a
real line break on output, so ``Subject: A =?UTF-8?Q?=0A?=Bcc: x`` leaves as two headers. Debian's patched
3.11.2 and 3.13.0 keep it encoded. This module imports only the standard library so the Makefile can run it
with a candidate interpreter before any environment exists.
"""

from __future__ import annotations

import sys
from email import policy
from email.message import EmailMessage

PROBE_SUBJECTS = (
    "A =?UTF-8?Q?=0A?=Bcc: injected@evil.example",
    "Ünïcode =?UTF-8?Q?=0A?=Bcc: injected@evil.example",
    "A " * 40 + "=?UTF-8?Q?=0D=0A?=Bcc: injected@evil.example",
)


class UnsafeInterpreterError(RuntimeError):
    """The running interpreter serialises injected headers."""


def header_injection_leaks() -> list[str]:
    """Return the probe subjects that come out of the email package as more than one header."""
    leaks = []
    for pol in (policy.default, policy.SMTP, policy.SMTPUTF8):
        for subject in PROBE_SUBJECTS:
            msg = EmailMessage(policy=pol)
            msg["Subject"] = subject
            try:
                raw = msg.as_bytes()
            except Exception:  # noqa: S112 - refusing to serialise is a safe outcome
                continue
            if any(line.lower().startswith(b"bcc:") for line in raw.splitlines()):
                leaks.append(subject)
    return leaks


def ensure_safe_interpreter() -> None:
    leaks = header_injection_leaks()
    if leaks:
        raise UnsafeInterpreterError(
            f"Python {sys.version.split()[0]} at {sys.executable} lets an encoded newline in a Subject "
            "become a real header (CVE-2024-6923). Use an interpreter with the fix, "
            "e.g. Debian's /usr/bin/python3 or CPython >= 3.11.10 / 3.12.5 / 3.13.0."
        )


if __name__ == "__main__":
    try:
        ensure_safe_interpreter()
    except UnsafeInterpreterError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
    print(f"ok: {sys.executable} {sys.version.split()[0]}")
