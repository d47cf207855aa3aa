"""Operator sign-in (S10): Argon2id passwords, server-side sessions, a sign-in rate limit, the audit trail."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from iep.admin import repository

SESSION_TTL = timedelta(hours=8)
# Sign-in attempts that failed, per address and per client, within the window: beyond these, 429 until it passes.
LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_CLIENT = 20
MIN_PASSWORD = 12

# argon2-cffi's defaults are Argon2id (RFC 9106's second recommended profile).
_HASHER = PasswordHasher()


class LoginRefused(Exception):
    """Wrong address or password (never told apart)."""


class TooManyAttempts(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("too many failed sign-ins")
        self.retry_after = retry_after


class OperatorError(Exception):
    """A refusal `iep admins create` prints as-is."""


@dataclass(frozen=True, slots=True)
class Session:
    token_hash: str
    operator_id: uuid.UUID
    email: str
    csrf_token: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def create_operator(conn: AsyncConnection, email: str, password: str, now: datetime) -> str:
    """Create the operator or give an existing one this password; returns `created` or `updated`."""
    email = normalize_email(email)
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise OperatorError("--email must be an email address")
    if len(password) < MIN_PASSWORD:
        raise OperatorError(f"the password must be at least {MIN_PASSWORD} characters")
    hashed = await asyncio.to_thread(_HASHER.hash, password)
    if await repository.operator_by_email(conn, email) is None:
        await repository.insert_operator(conn, email, hashed, now)
        outcome = "created"
    else:
        await repository.set_password(conn, email, hashed)
        outcome = "updated"
    await repository.add_audit(
        conn, actor="cli", action=f"operator_{outcome}", target=email, detail=None, client=None, now=now
    )
    return outcome


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


# Compared against when the address is unknown, so that a wrong address costs what a wrong password does
# (made on first use: no work at import time).
_dummy: list[str] = []


def _dummy_hash() -> str:
    if not _dummy:
        _dummy.append(_HASHER.hash(secrets.token_urlsafe(16)))
    return _dummy[0]


async def login(engine: AsyncEngine, email: str, password: str, *, client: str, now: datetime) -> tuple[str, Session]:
    """A new session for a right address and password: (cookie token, session). Failures are counted per
    address and per client in the audit log, so the limit holds across API processes."""
    email = normalize_email(email)[:254]
    since = now - LOGIN_WINDOW
    async with engine.begin() as conn:
        by_email = await repository.count_audit_since(conn, "login_failed", since, actor=email)
        by_client = await repository.count_audit_since(conn, "login_failed", since, client=client)
        if by_email >= MAX_FAILURES_PER_EMAIL or by_client >= MAX_FAILURES_PER_CLIENT:
            raise TooManyAttempts(int(LOGIN_WINDOW.total_seconds()))
        operator = await repository.operator_by_email(conn, email)
    ok = await asyncio.to_thread(_verify, operator["password_hash"] if operator else None, password)
    if not ok or operator is None:
        async with engine.begin() as conn:  # committed: the failure counts towards the limit
            await repository.add_audit(
                conn, actor=email, action="login_failed", target=None, detail=None, client=client, now=now
            )
        raise LoginRefused()
    async with engine.begin() as conn:
        token = secrets.token_urlsafe(32)
        session = Session(token_hash(token), operator["id"], email, secrets.token_urlsafe(32))
        await repository.delete_expired_sessions(conn, now)
        await repository.insert_session(
            conn,
            token_hash=session.token_hash,
            operator_id=session.operator_id,
            csrf_token=session.csrf_token,
            now=now,
            expires=now + SESSION_TTL,
        )
        await repository.touch_login(conn, operator["id"], now)
        await repository.add_audit(conn, actor=email, action="login", target=None, detail=None, client=client, now=now)
    return token, session


async def session_of(engine: AsyncEngine, token: str | None, now: datetime) -> Session | None:
    if not token or len(token) > 100:
        return None
    async with engine.connect() as conn:
        row = await repository.live_session(conn, token_hash(token), now)
    if row is None:
        return None
    return Session(row["token_hash"], row["operator_id"], row["email"], row["csrf_token"])


async def logout(engine: AsyncEngine, session: Session, *, client: str, now: datetime) -> None:
    async with engine.begin() as conn:
        await repository.delete_session(conn, session.token_hash)
        await repository.add_audit(
            conn, actor=session.email, action="logout", target=None, detail=None, client=client, now=now
        )


async def audit(
    engine: AsyncEngine,
    session: Session,
    action: str,
    target: str | None,
    *,
    client: str,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """Who did what, when: written after the action succeeded (a refused action changed nothing)."""
    async with engine.begin() as conn:
        await repository.add_audit(
            conn, actor=session.email, action=action, target=target, detail=detail, client=client, now=now
        )


async def recent_audit(engine: AsyncEngine, limit: int = 100) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return await repository.recent_audit(conn, limit)
