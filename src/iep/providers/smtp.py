"""SMTP delivery through aiosmtplib, over a small pool of reused connections."""

from __future__ import annotations

import asyncio
import ssl
import uuid
from dataclasses import dataclass

import aiosmtplib

from iep.kit.fair_slots import FairSlots
from iep.providers.base import (
    DkimKey,
    OutgoingEmail,
    PermanentProviderError,
    ProviderError,
    Ready,
    SendResult,
    TransientProviderError,
)
from iep.providers.mime import envelope_recipients, envelope_sender, needs_smtputf8
from iep.providers.mime_wire import wire
from iep.providers.smtp_pipelining import sendmail

TLS_MODES = ("none", "starttls", "tls")
# A connection idle longer than this may have been dropped by the server or a NAT; NOOP before reusing it.
IDLE_CHECK_SECONDS = 10.0
# Headers a DKIM signature covers when present; Return-Path and Received are added on the way and are not.
DKIM_HEADERS = tuple(
    h.encode()
    for h in (
        "from", "to", "cc", "reply-to", "subject", "date", "message-id", "mime-version", "content-type",
        "list-unsubscribe", "list-unsubscribe-post", "x-iep-message-id",
    )
)  # fmt: skip
# What a send can fail with short of a bug; anything else propagates as it is.
_SEND_ERRORS = (aiosmtplib.SMTPException, OSError, TimeoutError, ValueError)


@dataclass(slots=True)
class _Connection:
    client: aiosmtplib.SMTP
    last_used: float


class SmtpProvider:
    """One pool of connections to one server with one set of credentials; tenants' own servers get their own."""

    name: str

    def __init__(
        self,
        *,
        name: str = "smtp",
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        tls: str = "starttls",
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        pool_size: int = 4,
        bounce_domain: str | None = None,
        message_id_domain: str,
        tls_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if tls not in TLS_MODES:
            raise ValueError(f"tls must be one of {', '.join(TLS_MODES)}, not {tls!r}")
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self.name = name
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._tls = tls
        self._timeout = timeout  # for each command once connected
        self._connect_timeout = connect_timeout  # for the TCP connect and the greeting
        self._bounce_domain = bounce_domain
        self._message_id_domain = message_id_domain
        self._tls_context = tls_context
        # Without one, aiosmtplib asks socket.getfqdn() on every connect, which can stall on a bad resolver.
        self._local_hostname = local_hostname
        self._idle: list[_Connection] = []
        # Connections go to tenants in turn: one tenant's backlog waits behind its own sends, not before others'.
        self._slots = FairSlots(pool_size)
        self._closed = False

    async def send(self, email: OutgoingEmail, *, ready: Ready | None = None) -> SendResult:
        # Build first: a message that cannot be built fails permanently without touching the network.
        data, message_id = wire(email, message_id_domain=self._message_id_domain)
        if email.dkim is not None:
            data = dkim_sign(data, email.dkim, from_address=envelope_sender(email))
        sender = self.return_path(email)
        recipients = envelope_recipients(email)
        options = ["SMTPUTF8"] if needs_smtputf8(email) else []
        conn = await self._acquire(email.tenant_id)
        healthy = False
        try:
            if ready is not None:
                ready()  # after the wait for a connection, which a slow server can make long
            refused, reply = await sendmail(conn.client, sender, recipients, data, mail_options=options)
            healthy = True
        except _SEND_ERRORS as exc:
            raise self._classify(exc) from exc
        finally:
            self._release(conn, healthy=healthy)
        # aiosmtplib answers only with the text; it raised unless the end of DATA got 250.
        response = f"250 {reply}"
        if refused:
            # At least one recipient took the message, so it was sent; the refusals are kept with it.
            details = "; ".join(f"{rcpt} {r.code} {r.message}" for rcpt, r in refused.items())
            response = f"{reply} (refused: {details})"
        return SendResult(provider=self.name, provider_message_id=message_id, response=response)

    def return_path(self, email: OutgoingEmail) -> str:
        """VERP: `bounces+<messageId>@<bounce domain>`, so whatever bounces names its message; else the From."""
        if self._bounce_domain:
            return f"bounces+{email.message_id}@{self._bounce_domain}"
        return envelope_sender(email)

    async def check_health(self) -> bool:
        try:
            async with asyncio.timeout(self._connect_timeout + self._timeout):
                conn = await self._acquire(None)
        except Exception:
            return False
        healthy = False
        try:
            await conn.client.noop()
            healthy = True
        except Exception:  # noqa: S110 - a health check reports, it never raises
            pass
        finally:
            self._release(conn, healthy=healthy)
        return healthy

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            try:
                await conn.client.quit()
            except Exception:  # noqa: S110 - closing anyway; a server that hung up already is fine
                pass
            finally:
                conn.client.close()

    async def _acquire(self, tenant: uuid.UUID | None) -> _Connection:
        """An open connection: a pooled one still alive, or a new one. Waits while pool_size are in use."""
        await self._slots.acquire(tenant)
        try:
            if self._closed:  # checked after the wait too: close() may have come while this one queued
                raise TransientProviderError("the SMTP provider is closed", provider=self.name)
            while self._idle:
                conn = self._idle.pop()  # the most recently used: the likeliest to be alive
                if await self._still_alive(conn):
                    return conn
                conn.client.close()
            return await self._connect()
        except _SEND_ERRORS as exc:
            self._slots.release()
            raise self._classify(exc) from exc
        except BaseException:
            self._slots.release()
            raise

    async def _still_alive(self, conn: _Connection) -> bool:
        if not conn.client.is_connected:
            return False
        if asyncio.get_running_loop().time() - conn.last_used <= IDLE_CHECK_SECONDS:
            return True
        try:
            await conn.client.noop()
        except (aiosmtplib.SMTPException, OSError):
            return False
        return True

    async def _connect(self) -> _Connection:
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            local_hostname=self._local_hostname,
            timeout=self._timeout,
            use_tls=self._tls == "tls",
            start_tls=self._tls == "starttls",
            tls_context=self._tls_context,
        )
        await client.connect(timeout=self._connect_timeout)  # also STARTTLS and AUTH, as configured
        return _Connection(client, asyncio.get_running_loop().time())

    def _release(self, conn: _Connection, *, healthy: bool) -> None:
        # A connection that saw any error is dropped: after a failed RSET its state is unknown, and the next
        # message must not pay for it with a wrong 5xx.
        if healthy and not self._closed and conn.client.is_connected:
            conn.last_used = asyncio.get_running_loop().time()
            self._idle.append(conn)
        else:
            conn.client.close()
        self._slots.release()

    def _classify(self, exc: Exception) -> ProviderError:
        """Map an aiosmtplib or socket failure to what the caller should do next."""
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
            codes = [r.code for r in exc.recipients]
            details = "; ".join(f"{r.recipient} {r.code} {r.message}" for r in exc.recipients)
            # Retrying helps if any refusal was temporary: those recipients may take it later.
            temporary = [c for c in codes if 400 <= c < 500]
            if temporary:
                return TransientProviderError(
                    f"all recipients refused: {details}", code=temporary[0], provider=self.name, about_recipients=True
                )
            return PermanentProviderError(
                f"all recipients refused: {details}",
                code=codes[0] if codes else None,
                provider=self.name,
                about_recipients=True,
            )
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            text = f"{exc.code} {exc.message}"
            if 500 <= exc.code < 600:
                return PermanentProviderError(text, code=exc.code, provider=self.name)
            return TransientProviderError(text, code=exc.code, provider=self.name)
        if isinstance(exc, aiosmtplib.SMTPNotSupported):
            # The server lacks an extension this message needs (SMTPUTF8 for a non-ASCII local part).
            return PermanentProviderError(str(exc), provider=self.name)
        if isinstance(exc, ValueError) and not isinstance(exc, OSError):
            # aiosmtplib refuses an address it cannot put on the wire safely, before sending anything.
            # (ssl.SSLCertVerificationError is a ValueError too, but it is a connection failure.)
            return PermanentProviderError(f"refused before sending: {exc}", provider=self.name)
        # Refused, reset, timed out, disconnected, TLS failures: the server or the network may recover.
        return TransientProviderError(f"{type(exc).__name__}: {exc}", provider=self.name)


def dkim_sign(data: bytes, key: DkimKey, *, from_address: str) -> bytes:
    """Prepend a DKIM-Signature whose d= is the From domain; a key for another domain is refused."""
    import dkim  # with its DNS library: loaded by the first signature, not by every SMTP role

    from_domain = from_address.rpartition("@")[2].lower()
    if key.domain.lower() != from_domain:
        raise PermanentProviderError(f"the DKIM key is for {key.domain}, the From domain is {from_domain}")
    try:
        signature = dkim.sign(
            data,
            key.selector.encode("ascii"),
            key.domain.encode("ascii"),
            key.private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=list(DKIM_HEADERS),
        )
    except (dkim.DKIMException, ValueError, UnicodeEncodeError) as exc:
        raise PermanentProviderError(f"DKIM signing failed: {exc}") from exc
    return bytes(signature) + data
