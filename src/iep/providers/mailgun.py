"""Mailgun Messages API (`POST /v3/{domain}/messages`): multipart form, basic auth `api:<key>`."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from iep.providers.base import OutgoingEmail
from iep.providers.http import HttpCall, HttpProvider
from iep.providers.mime import api_headers, checked_attachment, formatted_address

DEFAULT_URL = "https://api.mailgun.net"  # the EU region is https://api.eu.mailgun.net


class MailgunProvider(HttpProvider):
    def __init__(
        self, *, api_key: str, domain: str, base_url: str = DEFAULT_URL, name: str = "mailgun", **kwargs: Any
    ) -> None:
        super().__init__(name=name, base_url=base_url, **kwargs)
        token = base64.b64encode(f"api:{api_key}".encode()).decode("ascii")
        self._auth = {"Authorization": f"Basic {token}"}
        self._domain = domain

    def build_call(self, email: OutgoingEmail) -> HttpCall:
        data: list[tuple[str, str]] = [
            ("from", formatted_address(email.sender.email, email.sender.name, field="From")),
            ("subject", email.subject),
        ]
        data += [("to", formatted_address(a, None, field="To")) for a in email.to]
        data += [("cc", formatted_address(a, None, field="Cc")) for a in email.cc]
        data += [("bcc", formatted_address(a, None, field="Bcc")) for a in email.bcc]
        if email.text is not None:
            data.append(("text", email.text))
        if email.html is not None:
            data.append(("html", email.html))
        if email.reply_to:
            data.append(("h:Reply-To", formatted_address(email.reply_to, None, field="Reply-To")))
        data += [(f"h:{name}", value) for name, value in api_headers(email).items()]
        data.append(("v:iep-message-id", str(email.message_id)))
        # Everything goes as multipart/form-data, the body the reference documents, files or not.
        files: list[tuple[str, Any]] = [(key, (None, value.encode("utf-8"))) for key, value in data]
        for attachment in email.attachments:
            checked_attachment(attachment)
            if attachment.inline:
                # Mailgun names an inline part's Content-ID after its file name: the HTML's cid must match it.
                files.append(("inline", (attachment.content_id or "", attachment.content, attachment.content_type)))
            else:
                files.append(("attachment", (attachment.filename, attachment.content, attachment.content_type)))
        return HttpCall("POST", f"/v3/{self._domain}/messages", headers=self._auth, files=files)

    def message_id(self, response: httpx.Response) -> str:
        return str(response.json()["id"]).strip().removeprefix("<").removesuffix(">")

    def health_call(self) -> HttpCall:
        return HttpCall("GET", f"/v3/domains/{self._domain}", headers=self._auth)

    def error_text(self, response: httpx.Response) -> str:
        try:
            return str(response.json()["message"])
        except (ValueError, KeyError, TypeError):
            return super().error_text(response)
