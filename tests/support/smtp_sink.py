"""A real aiosmtpd server on loopback that records what it receives and can be told to refuse."""

from __future__ import annotations

import asyncio
import email
import email.policy
import random
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed: EmailMessage = email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[assignment]
        return parsed

    @property
    def iep_id(self) -> str:
        return str(self.message["X-IEP-Message-Id"])


@dataclass
class SinkHandler:
    received: list[Received] = field(default_factory=list)
    # Replies to hand out instead of accepting DATA, consumed one per message ("451 ..." / "550 ...").
    data_replies: list[str] = field(default_factory=list)
    always_reply: str | None = None
    # Seconds to hold each DATA before answering: a slow provider for shutdown tests.
    data_delay: float = 0.0
    # A reply to every RCPT TO instead of accepting it ("452 4.2.2 mailbox full"): refusals about recipients.
    rcpt_reply: str | None = None
    # Real relays (Postfix, SES, SendGrid) offer PIPELINING, so the sink does too unless a test says otherwise.
    pipelining: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # this hook takes over from aiosmtpd, which otherwise records it
        if not self.pipelining:
            return responses
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        with self.lock:
            if self.always_reply:
                return self.always_reply
            if self.data_replies:
                return self.data_replies.pop(0)
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 2.0.0 OK queued"

    def ids(self) -> list[str]:
        with self.lock:
            return [r.iep_id for r in self.received]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def free_port_run(count: int) -> int:
    """The first of `count` consecutive free ports, below the kernel's ephemeral range: inside it, any outgoing
    connection of a test running beside this one can take the second port between this check and the bind."""
    for _ in range(200):
        base = random.randrange(20_000, 32_000 - count)
        taken: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                probe = socket.socket()
                taken.append(probe)
                probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for probe in taken:
                probe.close()
    raise RuntimeError(f"no {count} consecutive free ports")


class SmtpSink:
    def __init__(self, *, smtputf8: bool = False, pipelining: bool = True) -> None:
        self.handler = SinkHandler(pipelining=pipelining)
        self.port = free_port()
        self._controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, ready_timeout=10, enable_SMTPUTF8=smtputf8
        )

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
