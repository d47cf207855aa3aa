"""Attachments given by URL (`attachments[].path`): fetched once at accept, under the SSRF guard of tenant webhooks
(the same WEBHOOK_ALLOW_HTTP and WEBHOOK_ALLOWED_CIDRS), dialling only the checked address, size-capped."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpcore

from iep.attachments.validation import MAX_FILE_BYTES
from iep.kit.problems import ValidationFailed
from iep.tenant_webhooks.sender import PinnedBackend
from iep.tenant_webhooks.ssrf import Guard, UrlRefused

FETCH_TIMEOUT_SECONDS = 10.0
USER_AGENT = b"IEP-Attachments/1.0"


async def fetch(guard: Guard, url: str) -> tuple[bytes, str | None]:
    """The file at `url` and its Content-Type; ValueError with the reason when it cannot be had."""
    target = await guard.check(url)
    extensions: dict[str, Any] = {"timeout": dict.fromkeys(("connect", "read", "write", "pool"), FETCH_TIMEOUT_SECONDS)}
    if target.scheme == "https":
        extensions["sni_hostname"] = target.host
    headers = [(b"Host", target.host_header.encode("ascii")), (b"User-Agent", USER_AGENT)]
    body = bytearray()
    async with httpcore.AsyncConnectionPool(network_backend=PinnedBackend(target.address), retries=0) as pool:
        try:
            async with asyncio.timeout(FETCH_TIMEOUT_SECONDS):
                async with pool.stream("GET", target.pinned_url, headers=headers, extensions=extensions) as response:
                    if response.status != 200:
                        raise ValueError(f"the URL answered HTTP {response.status}")
                    async for chunk in response.aiter_stream():
                        body += chunk
                        if len(body) > MAX_FILE_BYTES:
                            raise ValueError(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
                    content_type = dict(response.headers).get(b"Content-Type")
        except TimeoutError:
            raise ValueError(f"no answer within {FETCH_TIMEOUT_SECONDS:g} s") from None
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError, OSError) as exc:
            raise ValueError(f"the URL could not be fetched: {type(exc).__name__}") from None
    kind = content_type.decode("latin-1").split(";")[0].strip().lower() if content_type else None
    return bytes(body), kind or None


async def resolve_paths(guard: Guard, body: Any) -> Any:
    """`body` with every attachment given by `path` turned into `content`; a 422 naming the attachment otherwise."""
    attachments = body.get("attachments") if isinstance(body, dict) else None
    if not isinstance(attachments, list) or not any(isinstance(a, dict) and a.get("path") for a in attachments):
        return body
    resolved = []
    for index, attachment in enumerate(attachments):
        if not (isinstance(attachment, dict) and isinstance(attachment.get("path"), str) and attachment["path"]):
            resolved.append(attachment)
            continue
        url = attachment["path"]
        try:
            content, content_type = await fetch(guard, url)
        except UrlRefused as exc:
            raise _fetch_refused(index, f"refused by the SSRF guard of tenant webhooks: {exc}") from None
        except ValueError as exc:
            raise _fetch_refused(index, str(exc)) from None
        name = attachment.get("filename") or url.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or "attachment"
        fetched = {k: v for k, v in attachment.items() if k != "path"}
        fetched.update(filename=name, content=base64.b64encode(content).decode())
        if not fetched.get("content_type") and content_type and content_type != "application/octet-stream":
            fetched["content_type"] = content_type
        resolved.append(fetched)
    return {**body, "attachments": resolved}


def _fetch_refused(index: int, reason: str) -> ValidationFailed:
    field, pointer = f"attachments[{index}].path", f"/attachments/{index}/path"
    return ValidationFailed([{"field": field, "pointer": pointer, "code": "fetch", "message": reason}])
