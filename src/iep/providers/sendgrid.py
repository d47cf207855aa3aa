"""SendGrid v3 Mail Send (`POST /v3/mail/send`): JSON, Bearer key, 202 with the id in `X-Message-Id`."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from iep.providers.base import OutgoingEmail
from iep.providers.http import HttpCall, HttpProvider
from iep.providers.mime import api_headers, checked_attachment, normalize_address

DEFAULT_URL = "https://api.sendgrid.com"


class SendGridProvider(HttpProvider):
    def __init__(self, *, api_key: str, base_url: str = DEFAULT_URL, name: str = "sendgrid", **kwargs: Any) -> None:
        super().__init__(name=name, base_url=base_url, **kwargs)
        self._auth = {"Authorization": f"Bearer {api_key}"}

    def build_call(self, email: OutgoingEmail) -> HttpCall:
        personalization: dict[str, Any] = {"to": [_address(a, "To") for a in email.to]}
        if email.cc:
            personalization["cc"] = [_address(a, "Cc") for a in email.cc]
        if email.bcc:
            personalization["bcc"] = [_address(a, "Bcc") for a in email.bcc]
        sender: dict[str, str] = {"email": normalize_address(email.sender.email, field="From")}
        if email.sender.name:
            sender["name"] = email.sender.name
        # SendGrid requires text/plain first, then text/html.
        content = [{"type": "text/plain", "value": email.text}] if email.text is not None else []
        if email.html is not None:
            content.append({"type": "text/html", "value": email.html})
        body: dict[str, Any] = {
            "personalizations": [personalization],
            "from": sender,
            "subject": email.subject,
            "content": content,
            "headers": api_headers(email),
            "custom_args": {"iep_message_id": str(email.message_id)},
        }
        if email.reply_to:
            body["reply_to"] = _address(email.reply_to, "Reply-To")
        if email.attachments:
            body["attachments"] = [_attachment(a) for a in email.attachments]
        return HttpCall("POST", "/v3/mail/send", headers=self._auth, json=body)

    def message_id(self, response: httpx.Response) -> str:
        return response.headers["X-Message-Id"]

    def health_call(self) -> HttpCall:
        return HttpCall("GET", "/v3/scopes", headers=self._auth)

    def error_text(self, response: httpx.Response) -> str:
        try:
            errors = response.json()["errors"]
            return "; ".join(f"{e.get('field') or '-'}: {e.get('message')}" for e in errors)
        except (ValueError, KeyError, TypeError, AttributeError):
            return super().error_text(response)


def _address(address: str, field: str) -> dict[str, str]:
    return {"email": normalize_address(address, field=field)}


def _attachment(attachment: Any) -> dict[str, str]:
    checked_attachment(attachment)
    item = {
        "content": base64.b64encode(attachment.content).decode("ascii"),
        "type": attachment.content_type,
        "filename": attachment.filename,
        "disposition": "inline" if attachment.inline else "attachment",
    }
    if attachment.inline:
        item["content_id"] = attachment.content_id
    return item
