"""Postmark (`POST /email`): JSON, `X-Postmark-Server-Token`; every answer carries `ErrorCode` and `Message`."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from iep.providers.base import OutgoingEmail
from iep.providers.http import HttpCall, HttpProvider
from iep.providers.mime import api_headers, checked_attachment, formatted_address

DEFAULT_URL = "https://api.postmarkapp.com"
# Postmark's API error codes that a later try can get past: 405 "not allowed to send" (out of credits),
# 429 "rate limit exceeded" is an HTTP status, not listed here. Everything else in a 422 is about the request.
_TRANSIENT_CODES = frozenset({405})


class PostmarkProvider(HttpProvider):
    def __init__(
        self,
        *,
        server_token: str,
        message_stream: str = "outbound",
        base_url: str = DEFAULT_URL,
        name: str = "postmark",
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, base_url=base_url, **kwargs)
        self._auth = {"X-Postmark-Server-Token": server_token, "Accept": "application/json"}
        self._stream = message_stream

    def build_call(self, email: OutgoingEmail) -> HttpCall:
        body: dict[str, Any] = {
            "From": formatted_address(email.sender.email, email.sender.name, field="From"),
            "To": ", ".join(formatted_address(a, None, field="To") for a in email.to),
            "Subject": email.subject,
            "Headers": [{"Name": k, "Value": v} for k, v in api_headers(email).items()],
            "Metadata": {"iep_message_id": str(email.message_id)},
            "MessageStream": self._stream,
        }
        if email.cc:
            body["Cc"] = ", ".join(formatted_address(a, None, field="Cc") for a in email.cc)
        if email.bcc:
            body["Bcc"] = ", ".join(formatted_address(a, None, field="Bcc") for a in email.bcc)
        if email.reply_to:
            body["ReplyTo"] = formatted_address(email.reply_to, None, field="Reply-To")
        if email.html is not None:
            body["HtmlBody"] = email.html
        if email.text is not None:
            body["TextBody"] = email.text
        if email.attachments:
            body["Attachments"] = [_attachment(a) for a in email.attachments]
        return HttpCall("POST", "/email", headers=self._auth, json=body)

    def message_id(self, response: httpx.Response) -> str:
        answer = response.json()
        if answer.get("ErrorCode", 0) != 0:
            raise ValueError(answer.get("Message"))
        return str(answer["MessageID"])

    def health_call(self) -> HttpCall:
        return HttpCall("GET", "/server", headers=self._auth)

    def is_transient(self, response: httpx.Response) -> bool:
        if response.status_code == 422:
            return _error_code(response) in _TRANSIENT_CODES
        return super().is_transient(response)

    def error_text(self, response: httpx.Response) -> str:
        try:
            answer = response.json()
            return f"ErrorCode {answer['ErrorCode']}: {answer['Message']}"
        except (ValueError, KeyError, TypeError):
            return super().error_text(response)


def _error_code(response: httpx.Response) -> int | None:
    try:
        return int(response.json()["ErrorCode"])
    except (ValueError, KeyError, TypeError):
        return None


def _attachment(attachment: Any) -> dict[str, str]:
    checked_attachment(attachment)
    item = {
        "Name": attachment.filename,
        "Content": base64.b64encode(attachment.content).decode("ascii"),
        "ContentType": attachment.content_type,
    }
    if attachment.inline:
        item["ContentID"] = f"cid:{attachment.content_id}"
    return item
