"""RFC 9457 problem details: one stable `type` per kind of error the caller can act on."""

from __future__ import annotations

from typing import Any

PROBLEM_BASE = "https://iep.dev/problems/"
PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error the API answers as problem+json; subclasses fix status, type and title."""

    status: int = 500
    type_: str = "internal"
    title: str = "Internal error"

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {"type": PROBLEM_BASE + self.type_, "title": self.title, "status": self.status}
        if self.detail:
            doc["detail"] = self.detail
        if instance:
            doc["instance"] = instance
        doc.update(self.extra)
        return doc


class MalformedRequest(Problem):
    status, type_, title = 400, "malformed-request", "The request body is not valid JSON"


class Unauthenticated(Problem):
    status, type_, title = 401, "unauthenticated", "Missing or invalid API key"


class TooManyAuthAttempts(Problem):
    """Too many key verifications for one key prefix or one client address: each costs an Argon2id run."""

    status, type_, title = 429, "too-many-auth-attempts", "Too many API key verifications; slow down"


class Forbidden(Problem):
    status, type_, title = 403, "forbidden", "Not allowed"


class TenantSuspended(Problem):
    status, type_, title = 403, "tenant-suspended", "The tenant is suspended"


class OperatorOnly(Problem):
    """A tenant key sent to the operator's admin API: no tenant key opens it, whatever its scopes."""

    status, type_, title = 403, "operator-only", "This API takes the operator's token, not a tenant key"


class NotFound(Problem):
    status, type_, title = 404, "not-found", "Not found"


class Conflict(Problem):
    status, type_, title = 409, "conflict", "The resource is in a state that does not allow this"


class PayloadTooLarge(Problem):
    status, type_, title = 413, "payload-too-large", "The request body is too large"


class UnsupportedMediaType(Problem):
    status, type_, title = 415, "unsupported-media-type", "Send the body as application/json"


class ValidationFailed(Problem):
    status, type_, title = 422, "validation", "The request has invalid fields"

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__(f"{len(errors)} invalid field(s)", errors=errors)
        self.errors = errors


class IdempotencyKeyReused(Problem):
    status, type_, title = (
        422,
        "idempotency-key-reused",
        "This Idempotency-Key was already used with a different request body",
    )


class InvalidQuery(Problem):
    status, type_, title = 400, "invalid-query", "A query parameter is invalid"


class TemplateUnusable(Problem):
    status, type_, title = 422, "template-invalid", "The template exists but has an error"


class RenderFailed(Problem):
    """`reason` is `render_error`, `render_timeout` or `render_too_large`, as on a failed message."""

    status, type_, title = 422, "render-failed", "The template could not be rendered with this data"


class RendererUnavailable(Problem):
    status, type_, title = 503, "renderer-unavailable", "No render process is available; try again shortly"


class RateLimited(Problem):
    """A per-minute, per-hour or per-day limit, or the burst bucket, of the tenant (S3); Retry-After says when."""

    status, type_, title = 429, "rate-limited", "The tenant's sending rate limit is reached"


class QuotaExceeded(Problem):
    """The tenant's monthly quota (S4); Retry-After runs to the start of next month (UTC)."""

    status, type_, title = 429, "quota-exceeded", "The tenant's monthly quota is used up"


class LimitsUnavailable(Problem):
    """The shared limit counters (Redis) did not answer: nothing is accepted uncounted."""

    status, type_, title = 503, "limits-unavailable", "Rate limits cannot be checked right now; try again shortly"
