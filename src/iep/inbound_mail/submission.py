"""SMTP submission (D-9): AUTH with the API key as the password, the sender checked at MAIL, the message through
the same durable accept as the API (`messages.intake`), and every refusal as a clear SMTP reply."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from iep.inbound_mail.submitted_mail import Unreadable, send_payload
from iep.kit.problems import (
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    Problem,
    QuotaExceeded,
    RateLimited,
    TenantSuspended,
    TooManyAuthAttempts,
    ValidationFailed,
)
from iep.messages import intake
from iep.messages.addresses import AddressError, domain_of, normalize_address
from iep.sending_domains.policy import SenderPolicy
from iep.tenancy import keys
from iep.tenancy.context import TenantContext

if TYPE_CHECKING:
    from iep.bootstrap import Container

log = structlog.get_logger("iep.inbound_mail")

AUTH_INVALID = "535 5.7.8 Authentication credentials invalid: use an IEP API key with the send scope as the password"


class AuthRefused(Exception):
    """The reply to a failed AUTH."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


class Submission:
    def __init__(self, container: Container) -> None:
        self._container = container

    @property
    def max_recipients(self) -> int:
        return self._container.limits.max_recipients

    async def authenticate(self, password: bytes, peer: str | None) -> TenantContext:
        """Any user name; the password is the API key. Raises AuthRefused with the reply to give."""
        try:
            presented = keys.parse(password.decode("utf-8"))
        except UnicodeDecodeError:
            presented = None
        if presented is None:
            raise AuthRefused(AUTH_INVALID)
        try:
            return await self._container.authenticator.authenticate(presented, "send", peer)
        except TooManyAuthAttempts:
            raise AuthRefused("454 4.7.0 Too many authentication attempts; try again later") from None
        except TenantSuspended:
            raise AuthRefused("535 5.7.8 The tenant is suspended") from None
        except Forbidden:
            raise AuthRefused("535 5.7.8 This API key lacks the send scope") from None
        except Problem as problem:
            if problem.status >= 500:
                raise AuthRefused("454 4.7.0 Authentication is unavailable right now; try again later") from None
            raise AuthRefused(AUTH_INVALID) from None

    def sender_refusal(self, ctx: TenantContext, address: str) -> str | None:
        """The reply refusing MAIL FROM `address`, or None when the tenant may send from it."""
        if not address:
            return "550 5.1.7 A submission needs a sender address (MAIL FROM:<you@your-domain>)"
        try:
            normalized = normalize_address(address)
        except AddressError as exc:
            return f"553 5.1.7 The sender address is invalid: {exc}"
        limits = self._container.limits
        policy = SenderPolicy(ctx.sender_domains, ctx.verified_sender_domains, limits.require_verified_senders)
        refusal = policy.refusal(domain_of(normalized))
        return None if refusal is None else f"550 5.7.1 {refusal.message}"

    async def submit(self, ctx: TenantContext, raw: bytes, rcpt_tos: list[str]) -> str:
        """Accept the message durably, then answer 250; any refusal is the reply that says why."""
        try:
            payload = send_payload(raw, rcpt_tos)
            result, _ = await intake.submit(self._container, ctx, payload)
        except Unreadable as exc:
            return f"550 5.6.0 {exc}"
        except ValidationFailed as exc:
            reasons = "; ".join(f"{e['field']}: {e['message']}" if e.get("field") else e["message"] for e in exc.errors)
            sender = any(str(e.get("field", "")).startswith("from") for e in exc.errors)
            return f"550 {'5.7.1' if sender else '5.6.0'} {_one_line(reasons)}"
        except RateLimited as exc:
            wait = exc.headers.get("Retry-After", "60")
            return f"451 4.7.0 The tenant's rate limit is reached; retry in {wait} s"
        except QuotaExceeded:
            return "452 4.7.0 The tenant's monthly quota is used up"
        except IdempotencyKeyReused:
            return "550 5.7.0 A different message with this Message-ID was already submitted"
        except Conflict:
            return "451 4.3.0 The first submission with this Message-ID is still being stored; retry"
        except Problem as problem:
            if problem.status < 500:
                return f"550 5.7.0 {_one_line(problem.detail or problem.title)}"
            return f"451 4.3.0 {_one_line(problem.detail or problem.title)}; retry later"
        except Exception as exc:
            log.error("submission_not_stored", error=repr(exc), tenant_id=str(ctx.tenant_id))
            return "451 4.3.0 The message could not be stored; retry later"
        status = "scheduled" if result.accepted.status == "scheduled" else "queued"
        return f"250 2.0.0 OK {status} as {result.accepted.message_id}"


def _one_line(text: str) -> str:
    return " ".join(text.split())[:400]
