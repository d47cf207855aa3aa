"""1,000 events for 200 messages, shuffled and 20 % duplicated: the final statuses are the ordered stream's."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections import Counter
from typing import Any

from tests.conftest import TenantKey
from tests.provider_events.conftest import Hooks, sent_message
from tests.provider_events.signing import epoch, sendgrid_headers

# The rule stated in docs/feedback.md, written here on its own: an outcome never moves down this list, and a
# message shows the worst outcome of any of its recipients.
SEVERITY = ["sent", "delivered", "bounced", "complained"]
KINDS = [
    ("delivered", None, "delivered"),
    ("bounce", "bounce", "bounced"),  # hard
    ("bounce", "blocked", None),  # soft: no outcome
    ("deferred", None, None),
    ("spamreport", None, "complained"),
    ("open", None, None),
    ("click", None, None),
]


def ordered_outcome(stream: list[dict[str, Any]], recipients: list[str]) -> str:
    """What applying `stream` in order gives, the way an operator would do it by hand."""
    outcome = dict.fromkeys(recipients, "sent")
    for item in stream:
        if item["_outcome"] and SEVERITY.index(item["_outcome"]) > SEVERITY.index(outcome[item["email"]]):
            outcome[item["email"]] = item["_outcome"]
    return max(outcome.values(), key=SEVERITY.index)


async def test_shuffled_duplicated_stream_ends_where_the_ordered_stream_does(hooks: Hooks, tenant: TenantKey) -> None:
    rng = random.Random(20261202)
    messages: dict[uuid.UUID, tuple[list[str], list[dict[str, Any]]]] = {}
    stream: list[dict[str, Any]] = []
    for n in range(200):
        recipients = [f"user{n}-{r}@example.com" for r in range(rng.choice([1, 1, 2]))]
        message_id = await sent_message(hooks, tenant, to=recipients, provider="sendgrid", provider_msg_id=f"sg{n}")
        events = []
        for k in range(5):
            name, bounce_type, outcome = rng.choice(KINDS)
            item = {
                "email": rng.choice(recipients),
                "timestamp": epoch(hooks.clock.now()) + k,
                "event": name,
                "sg_event_id": f"ev-{n}-{k}",
                "sg_message_id": f"sg{n}.filter0001.16648.5515E0B88.{k}",
                "_outcome": outcome,
            }
            if bounce_type:
                item["type"] = bounce_type
            events.append(item)
        messages[message_id] = (recipients, events)
        stream += events
    assert len(stream) == 1000
    delivered = stream + rng.sample(stream, 200)  # 20 % again
    rng.shuffle(delivered)

    async def post(batch: list[dict[str, Any]]) -> dict[str, int]:
        body = json.dumps([{k: v for k, v in e.items() if k != "_outcome"} for e in batch]).encode()
        headers = sendgrid_headers(hooks.sendgrid_key, body, epoch(hooks.clock.now()))
        response = await hooks.client.post("/webhooks/sendgrid", content=body, headers=headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    batches = [delivered[i : i + 50] for i in range(0, len(delivered), 50)]
    results: list[dict[str, int]] = []
    for i in range(0, len(batches), 4):  # four requests at a time, as a provider's workers would post
        results += await asyncio.gather(*(post(b) for b in batches[i : i + 4]))

    totals = Counter[str]()
    for result in results:
        totals.update(result)
    assert (totals["received"], totals["stored"], totals["duplicates"]) == (1200, 1000, 200)
    assert await hooks.count() == 1000
    for message_id, (recipients, events) in messages.items():
        assert await hooks.status(message_id) == ordered_outcome(events, recipients), message_id
