"""Amazon SES v2 SendEmail with raw MIME: our own builder's bytes, so attachments and headers survive.

SigV4-signed with botocore's signer and sent with httpx; the id kept is SES's own `MessageId`.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import orjson

from iep.kit.sigv4 import AwsCredentials, signed_headers
from iep.providers.base import OutgoingEmail
from iep.providers.http import HttpCall, HttpProvider
from iep.providers.mime import envelope_sender, normalize_address
from iep.providers.mime_wire import wire

# SES error types (the `x-amzn-ErrorType` header) that a later try can get past.
_TRANSIENT_TYPES = frozenset({"TooManyRequestsException", "LimitExceededException", "InternalFailure"})


class SesProvider(HttpProvider):
    def __init__(
        self,
        *,
        credentials: AwsCredentials,
        message_id_domain: str,
        base_url: str | None = None,
        configuration_set: str | None = None,
        name: str = "ses",
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, base_url=base_url or f"https://email.{credentials.region}.amazonaws.com", **kwargs)
        self._credentials = credentials
        self._message_id_domain = message_id_domain
        self._configuration_set = configuration_set

    def build_call(self, email: OutgoingEmail) -> HttpCall:
        raw, _ = wire(email, message_id_domain=self._message_id_domain)
        destination: dict[str, list[str]] = {"ToAddresses": [normalize_address(a, field="To") for a in email.to]}
        if email.cc:
            destination["CcAddresses"] = [normalize_address(a, field="Cc") for a in email.cc]
        if email.bcc:  # Bcc is in no header of the raw message: only the destination carries it
            destination["BccAddresses"] = [normalize_address(a, field="Bcc") for a in email.bcc]
        body: dict[str, Any] = {
            "FromEmailAddress": envelope_sender(email),
            "Destination": destination,
            "Content": {"Raw": {"Data": base64.b64encode(raw).decode("ascii")}},
            "EmailTags": [{"Name": "iep_message_id", "Value": str(email.message_id)}],
        }
        if self._configuration_set:
            body["ConfigurationSetName"] = self._configuration_set
        return HttpCall(
            "POST",
            "/v2/email/outbound-emails",
            headers={"Content-Type": "application/json"},
            content=orjson.dumps(body),
        )

    def message_id(self, response: httpx.Response) -> str:
        return str(response.json()["MessageId"])

    def health_call(self) -> HttpCall:
        # ListEmailIdentities, in the form current SES documents (POST /v2/email/list-identities).
        return HttpCall(
            "POST", "/v2/email/list-identities", headers={"Content-Type": "application/json"}, content=b"{}"
        )

    def sign(self, call: HttpCall, request: httpx.Request) -> httpx.Request:
        body = call.content or b""
        headers = signed_headers(
            request.method,
            str(request.url),
            headers={k: v for k, v in call.headers.items()},
            body=body,
            service="ses",
            credentials=self._credentials,
        )
        return self._client.build_request(request.method, request.url, headers=headers, content=body)

    def is_transient(self, response: httpx.Response) -> bool:
        return _error_type(response) in _TRANSIENT_TYPES or super().is_transient(response)

    def error_text(self, response: httpx.Response) -> str:
        try:
            message = response.json().get("message") or response.json().get("Message")
        except ValueError:
            message = None
        return f"{_error_type(response) or 'error'}: {message or response.text[:300]}"


def _error_type(response: httpx.Response) -> str | None:
    value: str | None = response.headers.get("x-amzn-ErrorType")
    if value:
        return value.split(":", 1)[0]
    try:
        code = str(response.json().get("__type") or response.json().get("code") or "")
    except (ValueError, AttributeError):
        return None
    return str(code).rsplit("#", 1)[-1] if code else None
