"""POST /webhooks/{provider}: verify first, then store and apply. The signature is the authentication.

`/webhooks/{provider}/{accountId}` takes events for a tenant's own provider account (tenant_providers.id), with
the secret from that account's configuration; its events only ever match that tenant's messages.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.bootstrap import Container
from iep.kit.problems import NotFound, PayloadTooLarge, Problem
from iep.provider_events import repository, service
from iep.provider_events.parsers import PARSERS
from iep.provider_events.parsers.base import (
    DEFAULT_TOLERANCE_SECONDS,
    MalformedEvent,
    SignatureInvalid,
    Verified,
    WebhookCredentials,
    WebhookRequest,
)
from iep.provider_events.parsers.ses import SesContext
from iep.provider_events.parsers.sns import CertCache, SubscriptionConfirmer

log = structlog.get_logger("iep.provider_events")
router = APIRouter(tags=["provider events"])
# Providers batch, but none documents a body near this; a larger one is refused before it is read further.
MAX_WEBHOOK_BYTES = 5 * 1024 * 1024


class WebhookSignatureInvalid(Problem):
    status, type_, title = 401, "webhook-signature", "The provider event could not be verified"


class WebhookNotConfigured(Problem):
    status, type_, title = 404, "webhook-not-configured", "No webhook secret is configured for this provider"


class WebhookMalformed(Problem):
    status, type_, title = 400, "webhook-malformed", "The verified provider event is not in a documented shape"


class SubscriptionNotConfirmed(Problem):
    status, type_, title = 502, "webhook-subscription-unconfirmed", "The SNS SubscribeURL did not confirm"


@dataclass
class ProviderEventsDeps:
    """What the endpoint needs beyond the container; tests replace the fetcher and the confirmer."""

    certs: CertCache = field(default_factory=CertCache)
    confirmer: SubscriptionConfirmer = field(default_factory=SubscriptionConfirmer)


_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"description": "Not verified: signature, credentials, timestamp or replay. Nothing is stored."},
    404: {"description": "Unknown provider or account, or no webhook secret configured for it."},
    400: {"description": "Verified, but the payload is not in the provider's documented shape."},
}


@router.post("/webhooks/{provider}", summary="Provider events in (F1)", responses=_RESPONSES)
async def provider_webhook(provider: str, request: Request) -> JSONResponse:
    return await _receive(request, provider, None)


@router.post(
    "/webhooks/{provider}/{account_id}", summary="Provider events for a tenant's own account", responses=_RESPONSES
)
async def account_webhook(provider: str, account_id: uuid.UUID, request: Request) -> JSONResponse:
    return await _receive(request, provider, account_id)


async def _receive(request: Request, provider: str, account_id: uuid.UUID | None) -> JSONResponse:
    container: Container = request.app.state.container
    deps: ProviderEventsDeps = request.app.state.provider_events
    parser = PARSERS.get(provider)
    if parser is None:
        raise NotFound(f"no provider events for {provider!r}; one of {', '.join(sorted(PARSERS))}")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge()
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge()
    tenant_id, creds = await _credentials(container, provider, account_id)
    now = container.clock.now()
    webhook = WebhookRequest(body=body, headers={k.lower(): v for k, v in request.headers.items()}, now=now)
    try:
        verified = await parser(webhook, creds, SesContext(deps.certs))
    except SignatureInvalid as exc:
        log.warning("provider_event_refused", provider=provider, reason=str(exc))
        raise WebhookSignatureInvalid(str(exc)) from None
    except MalformedEvent as exc:
        raise WebhookMalformed(str(exc)) from None
    async with container.engine.begin() as conn:
        await _before_storing(conn, deps, provider, verified, now)
        result = await service.ingest(conn, verified.events, now=now, tenant_id=tenant_id)
    return JSONResponse(result.as_json())


async def _credentials(
    container: Container, provider: str, account_id: uuid.UUID | None
) -> tuple[uuid.UUID | None, WebhookCredentials]:
    if account_id is None:
        creds = service.credentials_from_settings(container.settings)
        tenant_id = None
    else:
        async with container.engine.connect() as conn:
            found = await service.account_credentials(conn, container.keyring, provider, account_id)
        if found is None:
            raise NotFound(f"no {provider} provider account {account_id}")
        creds, tenant_id = found.credentials, found.tenant_id
    if not creds.configured(provider):
        raise WebhookNotConfigured(f"set the {provider} webhook secret (docs/feedback.md, Provider events in)")
    return tenant_id, creds


async def _before_storing(
    conn: AsyncConnection, deps: ProviderEventsDeps, provider: str, verified: Verified, now: datetime
) -> None:
    """A replayed token is refused; an SNS subscription is confirmed; a control record is kept."""
    if verified.nonce is not None:
        # Kept twice as long as a timestamp stays fresh: a replayed token is refused while it could still verify.
        keep = timedelta(seconds=2 * DEFAULT_TOLERANCE_SECONDS)
        if not await repository.claim_nonce(conn, provider, verified.nonce, now, keep):
            raise WebhookSignatureInvalid("this webhook token was already used (a replay)")
    if verified.subscribe_url is not None:
        try:
            status = await deps.confirmer.confirm(verified.subscribe_url)
        except SignatureInvalid as exc:
            raise WebhookSignatureInvalid(str(exc)) from None
        except httpx.HTTPError as exc:
            raise SubscriptionNotConfirmed(f"the SubscribeURL could not be reached: {type(exc).__name__}") from None
        if status >= 300:
            raise SubscriptionNotConfirmed(f"the SubscribeURL answered HTTP {status}")
        log.info("sns_subscription_confirmed", provider=provider)
    if verified.control is not None:
        await service.ingest(conn, [verified.control], now=now)
