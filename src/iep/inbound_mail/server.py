"""The `smtp` role's listener: aiosmtpd in IEP's own event loop. Unauthenticated sessions deliver bounce reports to
`bounces+<id>@BOUNCE_DOMAIN` (strangers are refused at RCPT); sessions that AUTH with an API key submit mail (D-9)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ssl
from pathlib import Path
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from iep.config import Settings
from iep.inbound_mail.mailboxes import BounceMailbox, Mailboxes
from iep.inbound_mail.reports import read_report
from iep.inbound_mail.sink import EventSink
from iep.inbound_mail.submission import AuthRefused, Submission
from iep.kit.clock import Clock, SystemClock
from iep.messages.addresses import AddressError, normalize_address
from iep.provider_events.vocabulary import ProviderEvent
from iep.tenancy.context import TenantContext

log = structlog.get_logger("iep.inbound_mail")

# A sink slower than this gets the report back as 451: the remote server keeps it and retries later.
SINK_TIMEOUT_SECONDS = 60.0


class InboundHandler:
    """aiosmtpd's handler: RCPT picks a mailbox for each recipient, DATA reads and hands on the report."""

    def __init__(
        self,
        *,
        mailboxes: Mailboxes,
        sink: EventSink,
        clock: Clock | None = None,
        submission: Submission | None = None,
    ) -> None:
        self._mailboxes = mailboxes
        self._sink = sink
        self.submission = submission
        self._clock = clock or SystemClock()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        ctx = _tenant(session)
        if ctx is not None and self.submission is not None:
            refusal = self.submission.sender_refusal(ctx, address)
            if refusal is not None:
                log.info("submission_sender_refused", sender=address[:320], tenant_id=str(ctx.tenant_id))
                return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if _tenant(session) is not None and self.submission is not None:
            if len(envelope.rcpt_tos) >= self.submission.max_recipients:
                return f"452 4.5.3 At most {self.submission.max_recipients} recipients per message"
            try:
                normalize_address(address)
            except AddressError as exc:
                return f"553 5.1.3 <{address[:320]}>: {exc}"
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 OK"
        if self._mailboxes.for_recipient(address) is None:
            log.info("recipient_refused", recipient=address[:320], peer=str(session.peer))
            return f"550 5.1.1 <{address[:320]}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self._in_flight += 1
        self._idle.clear()
        try:
            ctx = _tenant(session)
            if ctx is not None and self.submission is not None:
                raw = envelope.original_content or b""
                return await self.submission.submit(ctx, bytes(raw), list(envelope.rcpt_tos))
            return await self._data(envelope)
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    async def drained(self) -> None:
        """Returns when no report is being read or stored."""
        await self._idle.wait()

    async def _data(self, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):  # only with decode_data=True, which this server does not set
            raw = raw.encode("utf-8", "surrogateescape")
        mailboxes = [self._mailboxes.for_recipient(a) for a in envelope.rcpt_tos]
        received_at = self._clock.now()
        events: list[ProviderEvent] = []
        # Two VERP recipients in one transaction would be two messages' reports in one mail: read it for each.
        for message_id in dict.fromkeys(m.message_id for m in mailboxes if isinstance(m, BounceMailbox)):
            events += read_report(raw, message_id=message_id, received_at=received_at)
        if events:
            try:
                async with asyncio.timeout(SINK_TIMEOUT_SECONDS):
                    await self._sink(events)
            except Exception as exc:
                log.error("report_not_stored", error=repr(exc), events=len(events), mail_from=envelope.mail_from)
                return "451 4.3.0 the report could not be recorded, please try again later"
        return f"250 2.0.0 OK, {len(events)} event(s) recorded"


def _tenant(session: Session) -> TenantContext | None:
    """The tenant a session authenticated as (AUTH with its API key), else None."""
    ctx = session.auth_data if session.authenticated else None
    return ctx if isinstance(ctx, TenantContext) else None


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def split_listen(listen: str) -> tuple[str, int]:
    """`127.0.0.1:2525` / `[::]:25` → host and port."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


class InboundSmtpServer:
    """Listens on one address until stopped; `run` and `stop` fit the role runner's parts."""

    def __init__(
        self,
        handler: InboundHandler,
        *,
        host: str,
        port: int,
        hostname: str,
        tls: ssl.SSLContext | None = None,
        max_message_bytes: int = 10 * 1024 * 1024,
        grace_seconds: float = 10.0,
        any_port_if_taken: bool = False,
        auth_without_tls: bool = False,
    ) -> None:
        self._handler = handler
        self._host = host
        self._port = port
        self._hostname = hostname  # the greeting's name; without it aiosmtpd asks getfqdn(), which can stall
        self._tls = tls
        self._max_bytes = max_message_bytes
        self._grace = grace_seconds
        self._any_port_if_taken = any_port_if_taken  # `make dev` beside another IEP: still start
        # AUTH (and so submission) only inside STARTTLS, except on loopback in dev.
        self._auth_without_tls = auth_without_tls
        self._server: asyncio.Server | None = None
        self._sessions: set[SMTP] = set()
        self._stopped = asyncio.Event()

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self._port
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(self._session, self._host, self._port)
        except OSError as exc:
            if not self._any_port_if_taken or exc.errno != errno.EADDRINUSE:
                raise
            self._server = await loop.create_server(self._session, self._host, 0)
        log.info("smtp_listening", host=self._host, port=self.port, starttls=self._tls is not None)

    async def run(self) -> None:
        if self._server is None:
            await self.start()
        await self._stopped.wait()

    async def stop(self) -> None:
        """Stop accepting, let reports being stored finish (bounded), then hang up on the rest."""
        if self._server is not None:
            self._server.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._grace):
                await self._handler.drained()
        for session in list(self._sessions):
            if session.transport is not None:
                session.transport.close()
        if self._server is not None:
            await self._server.wait_closed()
        self._stopped.set()

    def _session(self) -> SMTP:
        smtp = _TrackedSMTP(
            self._handler,
            sessions=self._sessions,
            hostname=self._hostname,
            ident="IEP",
            tls_context=self._tls,
            data_size_limit=self._max_bytes,
            enable_SMTPUTF8=True,  # DSNs about internationalized addresses arrive with SMTPUTF8
            timeout=120,
            submission=self._handler.submission,
            auth_require_tls=not self._auth_without_tls,
        )
        return smtp


class _TrackedSMTP(SMTP):
    """Remembers its open sessions, so stopping can close the idle ones instead of waiting for their timeout."""

    def __init__(
        self, handler: Any, *, sessions: set[SMTP], submission: Submission | None = None, **kwargs: Any
    ) -> None:
        super().__init__(handler, **kwargs)
        self._sessions = sessions
        self._submission = submission

    def _authenticate(self, mechanism: str, auth_data: Any) -> AuthResult:
        if self._submission is None:
            return super()._authenticate(mechanism, auth_data)
        return AuthResult(success=True, auth_data=auth_data)  # the key is checked, asynchronously, in _verify

    async def auth_PLAIN(self, _: Any, args: list[str]) -> AuthResult:
        return await self._verify(await super().auth_PLAIN(_, args))

    async def auth_LOGIN(self, _: Any, args: list[str]) -> AuthResult:
        return await self._verify(await super().auth_LOGIN(_, args))

    async def _verify(self, result: AuthResult) -> AuthResult:
        if self._submission is None or not result.success or not isinstance(result.auth_data, LoginPassword):
            return result
        peer = self.session.peer[0] if self.session is not None and isinstance(self.session.peer, tuple) else None
        try:
            ctx = await self._submission.authenticate(result.auth_data.password, peer)
        except AuthRefused as refused:
            log.info("submission_auth_refused", peer=str(peer), reply=refused.reply[:3])
            return AuthResult(success=False, handled=False, message=refused.reply)
        return AuthResult(success=True, auth_data=ctx)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self._sessions.discard(self)
        super().connection_lost(error)


def inbound_server(
    settings: Settings,
    *,
    sink: EventSink,
    clock: Clock,
    dev: bool = False,
    submission: Submission | None = None,
) -> InboundSmtpServer:
    """The server SMTP_LISTEN, SMTP_TLS_CERT / SMTP_TLS_KEY and BOUNCE_DOMAIN describe."""
    # In dev nothing is sent with a bounce domain; `localhost` lets one try the mailbox by hand.
    bounce_domain = settings.bounce_domain or ("localhost" if dev else None)
    if bounce_domain is None:
        log.warning("bounce_mailbox_off", reason="BOUNCE_DOMAIN is unset: every recipient is refused")
    host, port = split_listen(settings.smtp_listen)
    tls = None
    if settings.smtp_tls_cert is not None and settings.smtp_tls_key is not None:
        tls = tls_context(settings.smtp_tls_cert, settings.smtp_tls_key)
    loopback = host in ("127.0.0.1", "::1", "localhost")
    if submission is not None and tls is None and not (dev and loopback):
        log.warning("smtp_submission_off", reason="SMTP_TLS_CERT/SMTP_TLS_KEY are unset: AUTH needs STARTTLS")
    return InboundSmtpServer(
        InboundHandler(mailboxes=Mailboxes(bounce_domain=bounce_domain), sink=sink, clock=clock, submission=submission),
        host=host,
        port=port,
        hostname=bounce_domain or "localhost",
        tls=tls,
        max_message_bytes=settings.smtp_max_message_bytes,
        grace_seconds=min(settings.worker_shutdown_grace_seconds, SINK_TIMEOUT_SECONDS),
        any_port_if_taken=dev,
        auth_without_tls=dev and loopback,
    )
