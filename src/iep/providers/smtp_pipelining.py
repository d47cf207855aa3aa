"""SMTP PIPELINING (RFC 2920): MAIL FROM, every RCPT TO and DATA in one write, then their replies in order.

aiosmtplib's `sendmail` waits for each reply before it writes the next command: 3 + n round trips and as many
socket writes per message, the largest cost in the worker's profile (docs/profiles/worker.md). A server that
advertises PIPELINING takes the envelope as one group, so a message costs one round trip for the envelope and
one for its content. The outcomes are `sendmail`'s, exception for exception and text for text, because the
provider's error mapping reads them; a server without the extension gets `sendmail` itself.

aiosmtplib has no pipelining API, so this uses its protocol's command lock and reply buffer: pyproject.toml keeps
it to 5.1.x, and tests/providers/test_smtp_pipelining.py holds every outcome to sendmail's against real servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Iterable, Sequence

import aiosmtplib
from aiosmtplib import SMTPStatus
from aiosmtplib.email import parse_address, quote_address
from aiosmtplib.protocol import COMMAND_INJECTION_REGEX, PERIOD_REGEX, SMTPProtocol, normalize_message_line_endings

ACCEPTED_RECIPIENT = (SMTPStatus.completed, SMTPStatus.will_forward)
# aiosmtplib's address handling parses with `email.utils` on every call, four times per message: the answers for
# recurring addresses (a tenant's From above all) are kept.
_parse_address = functools.lru_cache(maxsize=4096)(parse_address)
_quote_address = functools.lru_cache(maxsize=4096)(quote_address)


async def sendmail(
    client: aiosmtplib.SMTP,
    sender: str,
    recipients: Sequence[str],
    message: bytes,
    *,
    mail_options: Iterable[str] = (),
) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
    """`client.sendmail(...)`: the refused recipients and the end-of-data reply text; pipelined where offered."""
    # Checked before anything is written, as sendmail does: an address with CR/LF never reaches the wire.
    _parse_address(sender)
    for recipient in recipients:
        _parse_address(recipient)
    await client._ehlo_or_helo_if_needed()  # the extensions are known only after EHLO
    if not client.supports_extension("pipelining"):
        return await client.sendmail(sender, recipients, message, mail_options=mail_options)

    options = list(mail_options)
    encoding = "utf-8" if any(o.lower() == "smtputf8" for o in options) else "ascii"
    if encoding == "utf-8" and not client.supports_extension("smtputf8"):
        raise aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server")
    content = normalize_message_line_endings(message)
    if client.supports_extension("size"):
        options.insert(0, f"size={len(content)}")  # RFC 1870: the octets as sent, CRLFs included
    mail_args = (o.encode("ascii") for o in options)
    envelope = _command(b"MAIL", b"FROM:" + _quote_address(sender).encode(encoding), *mail_args)
    for recipient in recipients:
        envelope += _command(b"RCPT", b"TO:" + _quote_address(recipient).encode(encoding))
    envelope += b"DATA\r\n"
    payload = PERIOD_REGEX.sub(b"..", content) + b".\r\n"

    protocol = client.protocol
    lock = protocol._command_lock if protocol is not None else None
    if protocol is None or lock is None:
        raise aiosmtplib.SMTPServerDisconnected("Server not connected")
    try:
        async with lock:
            return await _exchange(client, protocol, sender, recipients, envelope, payload)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        # As aiosmtplib does: a reply given up on could be paired with the next command's.
        client.close()
        raise
    except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
        # As sendmail does: leave the server without a half-made envelope.
        with contextlib.suppress(ConnectionError, aiosmtplib.SMTPResponseException):
            await client.rset()
        raise


async def _exchange(
    client: aiosmtplib.SMTP,
    protocol: SMTPProtocol,
    sender: str,
    recipients: Sequence[str],
    envelope: bytes,
    payload: bytes,
) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
    protocol.write(envelope)
    replies = await _read_replies(protocol, len(recipients) + 2, client.timeout)
    if replies[-1].code == SMTPStatus.domain_unavailable:
        client.close()  # 421: the server is closing the connection (RFC 5321 3.8), as aiosmtplib treats it
    data_reply = replies[len(recipients) + 1] if len(replies) == len(recipients) + 2 else None
    try:
        refused = _accepted_envelope(replies, sender, recipients)
    except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPRecipientsRefused):
        if data_reply is not None and data_reply.code == SMTPStatus.start_input:
            # RFC 2920 3.1: DATA accepted without a valid envelope; a lone dot ends it with nothing to deliver.
            protocol.write(b".\r\n")
            await _read_reply(protocol, client.timeout)
        raise
    if data_reply is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")  # a 421 to the last RCPT: as sendmail's DATA
    if data_reply.code != SMTPStatus.start_input:
        raise aiosmtplib.SMTPDataError(data_reply.code, data_reply.message)
    protocol.write(payload)
    final = await _read_reply(protocol, client.timeout)
    if final.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPDataError(final.code, final.message)
    return refused, final.message


def _accepted_envelope(
    replies: list[aiosmtplib.SMTPResponse], sender: str, recipients: Sequence[str]
) -> dict[str, aiosmtplib.SMTPResponse]:
    """The refused recipients, or sendmail's exception when MAIL or every RCPT was refused."""
    mail = _reply_to(replies, 0)
    if mail.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPSenderRefused(mail.code, mail.message, sender)
    refusals = []
    for index, recipient in enumerate(recipients, start=1):
        reply = _reply_to(replies, index)
        if reply.code not in ACCEPTED_RECIPIENT:
            refusals.append(aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, recipient))
    if len(refusals) == len(recipients):
        raise aiosmtplib.SMTPRecipientsRefused(refusals)
    return {r.recipient: aiosmtplib.SMTPResponse(r.code, r.message) for r in refusals}


def _reply_to(replies: list[aiosmtplib.SMTPResponse], index: int) -> aiosmtplib.SMTPResponse:
    if index < len(replies):
        return replies[index]
    # It said 421 to an earlier command and hung up; sendmail's next RCPT would find it gone, in these words.
    raise aiosmtplib.SMTPServerDisconnected("Server not connected")


def _command(*args: bytes) -> bytes:
    for arg in args:
        # aiosmtplib's own check: a control character could end this command line and begin another.
        if COMMAND_INJECTION_REGEX.search(arg):
            raise ValueError("Command arg contains a prohibited control character")
    return b" ".join(args) + b"\r\n"


async def _read_replies(protocol: SMTPProtocol, count: int, seconds: float | None) -> list[aiosmtplib.SMTPResponse]:
    """Up to `count` replies in order; fewer if one is a 421, after which the server answers nothing more."""
    replies: list[aiosmtplib.SMTPResponse] = []
    while len(replies) < count:
        replies.append(await _read_reply(protocol, seconds))
        if replies[-1].code == SMTPStatus.domain_unavailable:
            break
    return replies


async def _read_reply(protocol: SMTPProtocol, seconds: float | None) -> aiosmtplib.SMTPResponse:
    # The protocol parses one reply per packet it receives; the others of a packet that held several wait here.
    buffered = protocol._read_response_from_buffer()
    if buffered is not None:
        return buffered
    try:
        async with asyncio.timeout(seconds):  # the client's timeout, per reply as aiosmtplib has it
            # Not read_response's own timeout: its wait_for (Python 3.11) wakes this task a loop turn late, and the
            # protocol drops a reply that arrives in that turn as unsolicited. Awaited directly, none is lost.
            return await protocol.read_response(timeout=None)
    except TimeoutError as exc:
        raise aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response") from exc
