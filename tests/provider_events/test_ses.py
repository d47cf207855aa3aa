"""SES through SNS: the documented records, signed with a throwaway certificate served by an injected fetcher."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from iep.provider_events.parsers.sns import SubscriptionConfirmer
from tests.conftest import TenantKey
from tests.provider_events.conftest import TOPIC, Hooks, fixture, sent_message
from tests.support.http_peer import HttpPeer, Reply

SES_ID = "0100019a2b3c4d5e-11112222-3333-4444-5555-666677778888-000000"


def notification(record: dict[str, Any], *, sns_id: str | None = None) -> dict[str, Any]:
    """The documented SNS envelope carrying an SES record, as SNS delivers it."""
    envelope = fixture("sns_notification.json")
    envelope.pop("Subject")  # SES publishes without one
    envelope.update(Message=json.dumps(record), MessageId=sns_id or str(uuid.uuid4()), TopicArn=TOPIC)
    return dict(envelope)


def ses_record(name: str, *, message_id: str = SES_ID, recipient: str = "recipient@example.com") -> dict[str, Any]:
    text = json.dumps(fixture(name))
    text = text.replace("EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000", message_id)
    return dict(json.loads(text.replace("recipient@example.com", recipient)))


async def post(hooks: Hooks, envelope: dict[str, Any]) -> Any:
    return await hooks.client.post(
        "/webhooks/ses", content=json.dumps(envelope), headers={"Content-Type": "text/plain"}
    )


@pytest.mark.parametrize(
    ("record", "version", "stored_type", "bounce", "status"),
    [
        ("ses_event_bounce.json", "1", "bounced", "hard", "bounced"),
        ("ses_event_delivery.json", "2", "delivered", None, "delivered"),
        ("ses_event_complaint.json", "2", "complained", None, "complained"),
    ],
)
async def test_documented_event_records_verify_map_and_apply(
    hooks: Hooks, tenant: TenantKey, record: str, version: str, stored_type: str, bounce: str | None, status: str
) -> None:
    message_id = await sent_message(hooks, tenant, to=["recipient@example.com"], provider="ses", provider_msg_id=SES_ID)
    envelope = hooks.sns.sign(notification(ses_record(record)), version=version)

    response = await post(hooks, envelope)

    assert response.status_code == 200, response.text
    assert response.json()["statusChanges"] == 1
    [row] = await hooks.stored()
    assert (row["type"], row["bounce"], row["message_id"]) == (stored_type, bounce, message_id)
    assert await hooks.status(message_id) == status
    assert (await hooks.event_types(message_id))[-1] == status
    assert hooks.sns.fetched == [fixture("sns_notification.json")["SigningCertURL"]]


async def test_identity_notification_shape_bounces_one_of_three_recipients(hooks: Hooks, tenant: TenantKey) -> None:
    stored_id = "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000"
    to = ["jane@example.com", "mary@example.com", "richard@example.com"]
    message_id = await sent_message(hooks, tenant, to=to, provider="ses", provider_msg_id=stored_id)
    delivered = ses_record("ses_event_delivery.json", message_id=stored_id, recipient="mary@example.com")

    assert (await post(hooks, hooks.sns.sign(notification(delivered)))).status_code == 200
    assert await hooks.status(message_id) == "delivered"
    bounce = hooks.sns.sign(notification(fixture("ses_notification_bounce.json")))
    assert (await post(hooks, bounce)).status_code == 200

    rows = await hooks.stored()
    assert [(r["type"], r["recipient"], r["bounce"]) for r in rows][-1] == ("bounced", "jane@example.com", "hard")
    assert await hooks.status(message_id) == "bounced"  # the most severe recipient outcome
    # A late delivery for jane changes nothing; SNS redelivering the same notification is a no-op.
    late = ses_record("ses_event_delivery.json", message_id=stored_id, recipient="jane@example.com")
    assert (await post(hooks, hooks.sns.sign(notification(late)))).status_code == 200
    assert (await post(hooks, bounce)).json()["duplicates"] == 1
    assert await hooks.status(message_id) == "bounced"
    assert await hooks.count() == 3


async def test_transient_bounce_is_soft_and_changes_nothing(hooks: Hooks, tenant: TenantKey) -> None:
    message_id = await sent_message(hooks, tenant, to=["recipient@example.com"], provider="ses", provider_msg_id=SES_ID)
    record = ses_record("ses_event_bounce.json")
    record["bounce"]["bounceType"] = "Transient"
    assert (await post(hooks, hooks.sns.sign(notification(record)))).status_code == 200
    [row] = await hooks.stored()
    assert (row["type"], row["bounce"]) == ("bounced", "soft")
    assert await hooks.status(message_id) == "sent"
    assert (await hooks.event_types(message_id))[-1] == "deferred"


async def test_subscription_confirmation_gets_the_subscribe_url(hooks: Hooks) -> None:
    with HttpPeer(lambda request: Reply(200, "<ConfirmSubscriptionResponse/>")) as peer:
        # The explicit test hook: this confirmer may reach the local server; production allows SNS hosts only.
        hooks.deps.confirmer = SubscriptionConfirmer(allow=lambda url: url.startswith(peer.url + "/"))
        envelope = fixture("sns_subscription_confirmation.json")
        envelope["SubscribeURL"] = peer.url + "/?Action=ConfirmSubscription&Token=" + envelope["Token"][:16]
        response = await post(hooks, hooks.sns.sign(envelope))

    assert response.status_code == 200, response.text
    assert [(r.method, r.path) for r in peer.requests] == [
        ("GET", "/?Action=ConfirmSubscription&Token=2336412f37fb687f")
    ]
    [row] = await hooks.stored()
    assert row["event_id"] == "sns:165545c9-2a5c-472c-8df2-7ff2be2b3b1b"


async def test_a_subscribe_url_off_sns_is_refused_without_a_request(hooks: Hooks) -> None:
    with HttpPeer(lambda request: Reply(200, "ok")) as peer:
        envelope = fixture("sns_subscription_confirmation.json")
        envelope["SubscribeURL"] = peer.url + "/?Action=ConfirmSubscription"
        response = await post(hooks, hooks.sns.sign(envelope))  # the production confirmer: SNS hosts only
    assert response.status_code == 401
    assert peer.requests == []
    assert await hooks.count() == 0


def _tampered(hooks: Hooks, case: str) -> dict[str, Any] | str:
    envelope = hooks.sns.sign(notification(ses_record("ses_event_bounce.json")))
    if case == "body changed":
        envelope["Message"] = envelope["Message"].replace("Permanent", "Transient")
    elif case == "wrong key":
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        envelope = hooks.sns.sign(notification(ses_record("ses_event_bounce.json")), key=other)
    elif case == "topic not ours":
        envelope = hooks.sns.sign({**notification(ses_record("ses_event_bounce.json")), "TopicArn": "arn:aws:sns:x"})
    elif case == "signature missing":
        envelope.pop("Signature")
    elif case == "unknown signature version":
        envelope["SignatureVersion"] = "3"
    elif case == "not JSON":
        return "Type=Notification"
    return envelope


@pytest.mark.parametrize(
    "case",
    ["body changed", "wrong key", "topic not ours", "signature missing", "unknown signature version", "not JSON"],
)
async def test_tampered_notifications_are_401_and_store_nothing(hooks: Hooks, tenant: TenantKey, case: str) -> None:
    message_id = await sent_message(hooks, tenant, to=["recipient@example.com"], provider="ses", provider_msg_id=SES_ID)
    tampered = _tampered(hooks, case)
    content = tampered if isinstance(tampered, str) else json.dumps(tampered)
    response = await hooks.client.post("/webhooks/ses", content=content)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/problems/webhook-signature")
    assert await hooks.count() == 0
    assert await hooks.status(message_id) == "sent"


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/SimpleNotificationService.pem",
        "http://sns.us-west-2.amazonaws.com/SimpleNotificationService.pem",
        "https://sns.us-west-2.amazonaws.com.evil.example/cert.pem",
        "https://user@sns.us-west-2.amazonaws.com/cert.pem",
        "https://sns.us-west-2.amazonaws.com:8443/cert.pem",
        "https://sns.us-west-2.amazonaws.com/not-a-cert.txt",
    ],
)
async def test_a_signing_cert_url_off_sns_is_refused_without_fetching(hooks: Hooks, url: str) -> None:
    envelope = hooks.sns.sign({**notification(ses_record("ses_event_delivery.json")), "SigningCertURL": url})
    response = await post(hooks, envelope)
    assert response.status_code == 401
    assert hooks.sns.fetched == []
    assert await hooks.count() == 0


async def test_the_certificate_is_fetched_once(hooks: Hooks, tenant: TenantKey) -> None:
    await sent_message(hooks, tenant, to=["recipient@example.com"], provider="ses", provider_msg_id=SES_ID)
    for name in ("ses_event_delivery.json", "ses_event_complaint.json"):
        assert (await post(hooks, hooks.sns.sign(notification(ses_record(name))))).status_code == 200
    assert len(hooks.sns.fetched) == 1
