"""The problem types of the tenant webhooks API (D10): one stable `type` per thing the caller can fix."""

from __future__ import annotations

from iep.kit.problems import Problem


class WebhookUrlRefused(Problem):
    status, type_, title = 422, "webhook-url-refused", "This URL may not receive webhooks"


class UnknownWebhookEvent(Problem):
    status, type_, title = 422, "webhook-event-unknown", "Unknown webhook event type"


class EncryptionUnavailable(Problem):
    status, type_, title = (
        503,
        "encryption-unavailable",
        "Webhook secrets cannot be stored: IEP_ENCRYPTION_KEY is not set",
    )


class ReplayInProgress(Problem):
    status, type_, title = 409, "webhook-replay-in-progress", "This event is being delivered right now; try again"
