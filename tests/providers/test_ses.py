"""SES v2 against a moto server started by the tests: raw MIME keeps attachments and headers, Bcc travels
only in the destination, and the id kept is the one SES answered."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import boto3
import pytest

from iep.kit.sigv4 import AwsCredentials
from iep.providers.base import PermanentProviderError
from iep.providers.ses import SesProvider
from tests.providers.samples import MESSAGE_ID, PDF, PNG, UNSUBSCRIBE, rich_email

REGION = "eu-west-1"
CREDENTIALS = AwsCredentials("AKIDTESTSES", "secret-test-ses", REGION)


def _sent_messages() -> list[object]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)


@pytest.fixture
def ses_endpoint(moto_server: str) -> str:
    client = boto3.client(
        "sesv2",
        endpoint_url=moto_server,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS.access_key,
        aws_secret_access_key=CREDENTIALS.secret_key,
    )
    client.create_email_identity(EmailIdentity="product.example")
    return moto_server


async def test_raw_mime_reaches_ses_whole_and_its_message_id_is_kept(ses_endpoint: str) -> None:
    provider = SesProvider(credentials=CREDENTIALS, message_id_domain="iep.test", base_url=ses_endpoint)
    before = len(_sent_messages())
    result = await provider.send(rich_email())
    assert await provider.check_health()
    await provider.close()

    sent = _sent_messages()[before:]
    assert len(sent) == 1
    raw = sent[0]
    assert result.provider_message_id == raw.id  # type: ignore[attr-defined]
    assert raw.source == "noreply@product.example"  # type: ignore[attr-defined]
    assert "audit@example.org" in raw.destinations  # type: ignore[attr-defined]
    parsed: EmailMessage = email.message_from_string(raw.raw_data, policy=email.policy.default)  # type: ignore[attr-defined,assignment]
    assert "Bcc" not in parsed
    assert parsed["X-IEP-Message-Id"] == str(MESSAGE_ID)
    assert parsed["X-Campaign"] == "spring"
    assert parsed["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert parsed.get_content_type() == "multipart/mixed"
    files = {part.get_filename(): part.get_content() for part in parsed.iter_attachments()}
    assert files == {"invoice.pdf": PDF}
    related = next(p for p in parsed.walk() if p.get_content_type() == "multipart/related")
    image = next(p for p in related.walk() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<logo>"
    assert image.get_content() == PNG


async def test_an_unverified_sender_is_a_permanent_refusal(ses_endpoint: str) -> None:
    provider = SesProvider(credentials=CREDENTIALS, message_id_domain="iep.test", base_url=ses_endpoint)
    with pytest.raises(PermanentProviderError, match=r"MessageRejected|not verified|authority"):
        await provider.send(rich_email(sender=rich_email().sender.__class__("x@unverified.example")))
    await provider.close()


async def test_requests_are_sigv4_signed_for_ses_in_the_region() -> None:
    from tests.support.http_peer import HttpPeer, Reply

    with HttpPeer(lambda request: Reply(200, {"MessageId": "0102018e-test"})) as peer:
        provider = SesProvider(credentials=CREDENTIALS, message_id_domain="iep.test", base_url=peer.url)
        result = await provider.send(rich_email())
        await provider.close()
    assert result.provider_message_id == "0102018e-test"
    auth = peer.requests[0].headers["authorization"]
    assert auth.startswith(f"AWS4-HMAC-SHA256 Credential={CREDENTIALS.access_key}/")
    assert f"/{REGION}/ses/aws4_request" in auth
    assert "SignedHeaders=" in auth
    assert "Signature=" in auth


async def test_an_unreachable_endpoint_is_transient_and_unhealthy() -> None:
    from iep.providers.base import TransientProviderError
    from tests.support.smtp_sink import free_port

    provider = SesProvider(
        credentials=CREDENTIALS, message_id_domain="iep.test", base_url=f"http://127.0.0.1:{free_port()}"
    )
    with pytest.raises(TransientProviderError):
        await provider.send(rich_email())
    assert not await provider.check_health()
    await provider.close()
