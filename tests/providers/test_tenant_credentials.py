"""A tenant's own provider account never inherits the platform's credentials (docs/security.md)."""

from __future__ import annotations

import pytest

from iep.config import load_settings
from iep.providers import registry
from iep.providers.base import ProviderError
from tests.providers.samples import rich_email
from tests.support.smtp_sink import SmtpSink

PLATFORM = {"smtp_host": "relay.platform.example", "smtp_user": "platform-user", "smtp_pass": "platform-secret-77"}


async def test_a_tenant_smtp_account_with_only_a_host_sends_without_the_platform_login(sink: SmtpSink) -> None:
    # The sink offers no AUTH: a provider holding the platform's user would try to log in and fail.
    settings = load_settings(**PLATFORM)
    provider = registry.build("smtp", "own", {"host": "127.0.0.1", "port": sink.port}, settings, tenant=True)
    try:
        await provider.send(rich_email(attachments=(), list_unsubscribe=None))
    finally:
        await provider.close()
    assert len(sink.handler.received) == 1


async def test_the_platform_account_still_logs_in_with_its_own_settings(sink: SmtpSink) -> None:
    settings = load_settings(**{**PLATFORM, "smtp_host": "127.0.0.1", "smtp_port": sink.port})
    provider = registry.from_settings(settings)["smtp"]
    try:
        with pytest.raises(ProviderError, match=r"(?i)auth"):
            await provider.send(rich_email(attachments=(), list_unsubscribe=None))
    finally:
        await provider.close()
    assert sink.handler.received == []


def test_a_tenant_smtp_account_needs_its_own_host() -> None:
    with pytest.raises(registry.ProviderConfigError, match="own `host`"):
        registry.build("smtp", "own", {"port": 2525}, load_settings(**PLATFORM), tenant=True)
