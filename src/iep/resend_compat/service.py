"""Resend's request and answer shapes mapped onto IEP's: a Resend email becomes a `POST /v1/messages` body, an IEP
problem becomes Resend's `{statusCode, name, message}`. No I/O here."""

from __future__ import annotations

import base64
import mimetypes
import re
from typing import Any

from pydantic import ValidationError

from iep.kit.problems import (
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    Problem,
    QuotaExceeded,
    RateLimited,
    TenantSuspended,
    TooManyAuthAttempts,
    Unauthenticated,
    ValidationFailed,
)
from iep.messages.addresses import AddressError, parse_mailbox
from iep.messages.validation import problem_errors
from iep.resend_compat.schemas import EmailOut, SendEmail, Tag

# Resend fields IEP does not take, each refused with the reason (docs/ways-in.md).
UNSUPPORTED = {
    "template": "Resend-hosted templates are not supported: send `html`/`text`, or use IEP's own templates on"
    " POST /v1/messages",
    "topic_id": "topics (subscription preferences) are not supported",
    "react": "send the rendered `html` (the SDKs render React themselves)",
}
# IEP field names in a 422 translated back to Resend's.
_NAMES = {
    "htmlBody": "html",
    "textBody": "text",
    "replyTo": "reply_to",
    "scheduledAt": "scheduled_at",
    "contentType": "content_type",
    "contentId": "content_id",
}
_NAME_PATTERN = re.compile("|".join(rf"\b{k}\b" for k in _NAMES))
# IEP's message status as Resend's `last_event`.
LAST_EVENT = {
    "queued": "queued",
    "processing": "queued",
    "scheduled": "scheduled",
    "retry_scheduled": "delivery_delayed",
    "sent": "sent",
    "delivered": "delivered",
    "bounced": "bounced",
    "complained": "complained",
    "failed": "failed",
    "suppressed": "suppressed",
    "canceled": "canceled",
}


def to_send_payload(body: Any) -> dict[str, Any]:
    """A Resend email as the body of `POST /v1/messages`; a ValidationFailed (Resend's field names) if it cannot be."""
    if not isinstance(body, dict):
        raise _invalid("", "type", "must be a JSON object")
    refused = [name for name in UNSUPPORTED if body.get(name) is not None]
    if refused:
        raise ValidationFailed(
            [_error(n, "unsupported", f"is not supported by IEP: {UNSUPPORTED[n]}") for n in refused]
        )
    try:
        email = SendEmail.model_validate({k: v for k, v in body.items() if k not in UNSUPPORTED})
    except ValidationError as exc:
        raise ValidationFailed(problem_errors(exc)) from None
    payload: dict[str, Any] = {"from": email.sender, "to": _addresses(email.to), "subject": email.subject}
    for name in ("cc", "bcc"):
        value = getattr(email, name)
        if value is not None:
            payload[name] = _addresses(value)
    if email.reply_to is not None:
        replies = _addresses(email.reply_to)
        if len(replies) > 1:
            raise _invalid("reply_to", "unsupported", "IEP takes one reply-to address")
        if replies:
            payload["replyTo"] = replies[0]
    if email.html is not None:
        payload["htmlBody"] = email.html
    if email.text is not None:
        payload["textBody"] = email.text
    if email.headers:
        payload["headers"] = email.headers
    if email.scheduled_at is not None:
        payload["scheduledAt"] = email.scheduled_at
    if email.tags:
        payload["tags"] = [f"{t.name}:{t.value}" for t in email.tags]
    if email.attachments:
        payload["attachments"] = [_attachment(i, a.model_dump()) for i, a in enumerate(email.attachments)]
    return payload


def _addresses(value: str | list[str]) -> list[str]:
    """Resend takes `Name <a@x>` in every address field; IEP keeps display names only on `from`."""
    out = []
    for raw in [value] if isinstance(value, str) else value:
        try:
            out.append(parse_mailbox(raw)[0])
        except (AddressError, ValueError):
            out.append(raw)  # IEP's own validation names the field and the reason
    return out


def _attachment(index: int, attachment: dict[str, Any]) -> dict[str, Any]:
    where = f"attachments[{index}]"
    if attachment["path"]:  # `remote.resolve_paths` fetched every one before: none is left here
        raise _invalid(f"{where}.path", "unsupported", "give `content` or `path`, not both")
    content = attachment["content"]
    if content is None:
        raise _invalid(f"{where}.content", "missing", "Field required")
    if attachment["filename"] is None:
        raise _invalid(f"{where}.filename", "missing", "Field required")
    if isinstance(content, list):
        if any(not 0 <= b <= 255 for b in content):
            raise _invalid(f"{where}.content", "bytes", "a list of bytes holds integers from 0 to 255")
        content = base64.b64encode(bytes(content)).decode()
    content_type = attachment["content_type"] or mimetypes.guess_type(attachment["filename"])[0]
    return {
        "filename": attachment["filename"],
        "content": content,
        "contentType": content_type or "application/octet-stream",
        "contentId": attachment["content_id"] or attachment["inline_content_id"],
    }


def _error(field: str, code: str, message: str) -> dict[str, Any]:
    pointer = "/" + field.replace("[", "/").replace("].", "/").replace("]", "").replace(".", "/") if field else ""
    return {"field": field, "pointer": pointer, "code": code, "message": message}


def _invalid(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed([_error(field, code, message)])


def resend_names(field: str) -> str:
    return _NAME_PATTERN.sub(lambda m: _NAMES[m.group(0)], field)


def error_message(problem: ValidationFailed) -> str:
    """Every field error in one sentence, in Resend's field names."""
    parts = []
    for error in problem.errors:
        field = resend_names(str(error.get("field", "")))
        parts.append(f"`{field}`: {error['message']}" if field else str(error["message"]))
    return "; ".join(parts) or "the request is invalid"


def error_body(problem: Problem, *, key_presented: bool) -> tuple[int, dict[str, Any]]:
    """Resend's status and `{statusCode, name, message}` for an IEP problem."""
    status, name = problem.status, "application_error"
    message = problem.detail or problem.title
    if isinstance(problem, ValidationFailed):
        message = error_message(problem)
        missing = all(e.get("code") == "missing" for e in problem.errors)
        name = "missing_required_field" if missing else "validation_error"
    elif isinstance(problem, Unauthenticated):
        status, name = (403, "invalid_api_key") if key_presented else (401, "missing_api_key")
    elif isinstance(problem, TenantSuspended):
        name = "invalid_access"
    elif isinstance(problem, Forbidden):
        name = "restricted_api_key"
    elif isinstance(problem, IdempotencyKeyReused):
        status, name = 409, "invalid_idempotent_request"
    elif isinstance(problem, Conflict):
        status, name = 409, "concurrent_idempotent_requests"
    elif isinstance(problem, QuotaExceeded):
        name = "monthly_quota_exceeded"
    elif isinstance(problem, RateLimited | TooManyAuthAttempts):
        name = "rate_limit_exceeded"
    elif isinstance(problem, NotFound):
        name = "not_found"
    elif status < 500:  # malformed JSON, not JSON, too large
        name = "validation_error"
    return status, {"statusCode": status, "name": name, "message": message}


def email_out(row: dict[str, Any]) -> EmailOut:
    name, address = row["from_name"], row["from_email"]
    sender = address if not name else f'"{name}" <{address}>' if set(name) & set('",<>@;:()') else f"{name} <{address}>"
    tags = [
        Tag(name=name, value=value)
        for name, _, value in (t.partition(":") for t in row["tags"] or [])
        if name and value
    ]
    return EmailOut.model_validate(
        {
            "id": str(row["id"]),
            "from": sender,
            "to": row["to"],
            "cc": row["cc"] or [],
            "bcc": row["bcc"] or [],
            "reply_to": [row["reply_to"]] if row["reply_to"] else None,
            "subject": row["rendered_subject"] or row["subject"],
            "html": row["html_body"],
            "text": row["text_body"],
            "created_at": row["created_at"],
            "scheduled_at": row["scheduled_at"],
            "last_event": LAST_EVENT.get(row["status"], row["status"]),
            "tags": tags,
        }
    )
