"""Resend (`POST /emails`): JSON, Bearer key, and our message id as its `Idempotency-Key`.

Resend is the one vendor that deduplicates on a key (24 h): a retry after a lost answer sends nothing twice.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx

from iep.providers.base import OutgoingEmail
from iep.providers.http import HttpCall, HttpProvider
from iep.providers.mime import api_headers, checked_attachment, formatted_address

DEFAULT_URL = "https://api.resend.com"
# Error names Resend documents whose cause passes: quota and rate limits, a concurrent idempotent request.
_TRANSIENT_NAMES = frozenset(
    {"rate_limit_exceeded", "daily_quota_exceeded", "concurrent_idempotent_requests", "application_error"}
)


class ResendProvider(HttpProvider):
    def __init__(self, *, api_key: str, base_url: str = DEFAULT_URL, name: str = "resend", **kwargs: Any) -> None:
        super().__init__(name=name, base_url=base_url, **kwargs)
        self._auth = {"Authorization": f"Bearer {api_key}"}

    def build_call(self, email: OutgoingEmail) -> HttpCall:
        body: dict[str, Any] = {
            "from": formatted_address(email.sender.email, email.sender.name, field="From"),
            "to": [formatted_address(a, None, field="To") for a in email.to],
            "subject": email.subject,
            "headers": api_headers(email),
            "tags": [{"name": "iep_message_id", "value": str(email.message_id)}],
        }
        if email.cc:
            body["cc"] = [formatted_address(a, None, field="Cc") for a in email.cc]
        if email.bcc:
            body["bcc"] = [formatted_address(a, None, field="Bcc") for a in email.bcc]
        if email.reply_to:
            body["reply_to"] = formatted_address(email.reply_to, None, field="Reply-To")
        if email.html is not None:
            body["html"] = email.html
        # An empty string stops Resend from generating its own text part from the HTML.
        body["text"] = email.text if email.text is not None else ""
        if email.attachments:
            body["attachments"] = [_attachment(a) for a in email.attachments]
        headers = {**self._auth, "Idempotency-Key": str(email.message_id)}
        return HttpCall("POST", "/emails", headers=headers, json=body)

    def message_id(self, response: httpx.Response) -> str:
        return str(response.json()["id"])

    def health_call(self) -> HttpCall:
        return HttpCall("GET", "/domains", headers=self._auth)

    def is_transient(self, response: httpx.Response) -> bool:
        name = _error_name(response)
        if name is None or response.status_code >= 500:
            return super().is_transient(response)
        # A named error decides by itself: a 409 `invalid_idempotent_request` (same key, other body) is final.
        return name in _TRANSIENT_NAMES

    def error_text(self, response: httpx.Response) -> str:
        try:
            answer = response.json()
            return f"{answer['name']}: {answer['message']}"
        except (ValueError, KeyError, TypeError):
            return super().error_text(response)


def _error_name(response: httpx.Response) -> str | None:
    try:
        return str(response.json()["name"])
    except (ValueError, KeyError, TypeError):
        return None


def _attachment(attachment: Any) -> dict[str, str]:
    checked_attachment(attachment)
    item = {
        "filename": attachment.filename,
        "content": base64.b64encode(attachment.content).decode("ascii"),
        "content_type": attachment.content_type,
    }
    if attachment.inline:
        item["content_id"] = attachment.content_id
    return item
