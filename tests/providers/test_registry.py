"""DEFAULT_PROVIDER selects any configured provider; a missing credential stops start-up naming the variable."""

from __future__ import annotations

import pytest

from iep.bootstrap import default_providers
from iep.config import ConfigError, load_settings
from iep.providers import registry


@pytest.mark.parametrize(
    ("default", "env"),
    [
        ("smtp", {}),
        ("devinbox", {}),
        ("sendgrid", {"sendgrid_api_key": "SG.x"}),
        ("mailgun", {"mailgun_api_key": "k", "mailgun_domain": "mg.example"}),
        ("postmark", {"postmark_server_token": "t"}),
        ("resend", {"resend_api_key": "re_x"}),
        ("ses", {"ses_region": "eu-west-1", "ses_access_key_id": "AKID", "ses_secret_access_key": "s"}),
    ],
)
async def test_default_provider_selects_any_configured_one(default: str, env: dict[str, str]) -> None:
    providers = default_providers(load_settings(default_provider=default, **env))
    assert providers[default].name == default
    for provider in providers.values():
        await provider.close()


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"default_provider": "sendgrid"}, "DEFAULT_PROVIDER='sendgrid' is not configured"),
        ({"default_provider": "carrier-pigeon"}, "DEFAULT_PROVIDER='carrier-pigeon'"),
        ({"mailgun_api_key": "k"}, "MAILGUN_API_KEY and MAILGUN_DOMAIN"),
        ({"ses_region": "eu-west-1"}, "SES_REGION, SES_ACCESS_KEY_ID and SES_SECRET_ACCESS_KEY"),
    ],
)
def test_bad_provider_configuration_names_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        default_providers(load_settings(**env))


def test_a_tenant_config_without_its_credential_is_refused_naming_it() -> None:
    with pytest.raises(registry.ProviderConfigError, match="api_key"):
        registry.build("sendgrid", "acme-sendgrid", {"api_token": "x"}, load_settings())
