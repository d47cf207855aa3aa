"""The provider-events bench sends requests the endpoint accepts (checked with the real verifier, no process)."""

from __future__ import annotations

from datetime import UTC, datetime

from bench import provider_events
from iep.provider_events.parsers import resend
from iep.provider_events.parsers.base import WebhookCredentials, WebhookRequest


async def test_each_bench_request_is_a_distinct_verifiable_resend_event() -> None:
    raw = provider_events.signed_requests([("bench-1", "a@example.com"), ("bench-2", "b@example.com")], 4, "h:1")
    ids = set()
    for request in raw:
        head, _, body = request.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        assert lines[0] == f"POST {provider_events.PATH} HTTP/1.1"
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        assert int(headers["content-length"]) == len(body)
        verified = await resend.verify_and_parse(
            WebhookRequest(body, headers, datetime.now(UTC)),
            WebhookCredentials(resend_secret=provider_events.SECRET),
            None,
        )
        [event] = verified.events
        ids.add(event.event_id)
    assert len(ids) == 4
