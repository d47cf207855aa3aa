"""Every provider IEP knows, built by kind from settings (the global ones) or a tenant's own credentials."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from iep.config import Settings
from iep.kit.sigv4 import AwsCredentials
from iep.providers.base import Provider
from iep.providers.devinbox import DevInboxProvider
from iep.providers.mailgun import MailgunProvider
from iep.providers.postmark import PostmarkProvider
from iep.providers.resend import ResendProvider
from iep.providers.sendgrid import SendGridProvider
from iep.providers.ses import SesProvider
from iep.providers.smtp import SmtpProvider

KINDS = ("smtp", "ses", "sendgrid", "mailgun", "postmark", "resend", "devinbox")


class ProviderConfigError(ValueError):
    """A provider's configuration is missing or wrong; the message names what to set."""


def build(kind: str, name: str, config: Mapping[str, Any], settings: Settings, *, tenant: bool = False) -> Provider:
    """A provider of `kind` from `config` (the keys each constructor takes); refuses unknown keys.

    `tenant`: a tenant's own account. It takes nothing of the platform's from `settings` that could let it send
    as the platform: no SMTP host, user or password (docs/security.md).
    """
    try:
        factory = _FACTORIES[kind]
    except KeyError:
        raise ProviderConfigError(f"unknown provider kind {kind!r}; one of {', '.join(KINDS)}") from None
    # `webhook_*` keys are the account's provider-event secrets (iep.provider_events), not sending options.
    sending = {k: v for k, v in config.items() if not k.startswith("webhook_")}
    if tenant and kind == "smtp":
        if not sending.get("host"):
            raise ProviderConfigError(f"provider {name!r} (smtp): a tenant's SMTP account needs its own `host`")
        # Absent means none: the platform's SMTP_USER / SMTP_PASS belong to the platform's relay only.
        sending.setdefault("username", None)
        sending.setdefault("password", None)
    try:
        return factory(name, sending, settings)
    except (TypeError, KeyError) as exc:
        raise ProviderConfigError(f"provider {name!r} ({kind}): {exc}") from None


def from_settings(settings: Settings) -> dict[str, Provider]:
    """The providers whose settings are present. smtp and devinbox need no secret, so they always exist."""
    configs: dict[str, dict[str, Any]] = {"smtp": {}, "devinbox": {}}
    if settings.sendgrid_api_key:
        configs["sendgrid"] = {"api_key": settings.sendgrid_api_key, "base_url": settings.sendgrid_base_url}
    if settings.mailgun_api_key or settings.mailgun_domain:
        if not (settings.mailgun_api_key and settings.mailgun_domain):
            raise ProviderConfigError("MAILGUN_API_KEY and MAILGUN_DOMAIN are needed together")
        configs["mailgun"] = {
            "api_key": settings.mailgun_api_key,
            "domain": settings.mailgun_domain,
            "base_url": settings.mailgun_base_url,
        }
    if settings.postmark_server_token:
        configs["postmark"] = {
            "server_token": settings.postmark_server_token,
            "message_stream": settings.postmark_message_stream,
            "base_url": settings.postmark_base_url,
        }
    if settings.resend_api_key:
        configs["resend"] = {"api_key": settings.resend_api_key, "base_url": settings.resend_base_url}
    if settings.ses_access_key_id or settings.ses_region:
        if not (settings.ses_access_key_id and settings.ses_secret_access_key and settings.ses_region):
            raise ProviderConfigError("SES_REGION, SES_ACCESS_KEY_ID and SES_SECRET_ACCESS_KEY are needed together")
        configs["ses"] = {
            "region": settings.ses_region,
            "access_key_id": settings.ses_access_key_id,
            "secret_access_key": settings.ses_secret_access_key,
            "base_url": settings.ses_endpoint,
            "configuration_set": settings.ses_configuration_set,
        }
    if settings.default_provider not in configs:
        hint = (
            f"set its credentials ({settings.default_provider.upper()}_...)"
            if settings.default_provider in KINDS
            else ""
        )
        raise ProviderConfigError(
            f"DEFAULT_PROVIDER={settings.default_provider!r} is not configured; "
            f"configured: {', '.join(sorted(configs))} {hint}".rstrip()
        )
    return {kind: build(kind, kind, config, settings) for kind, config in configs.items()}


def _http_options(settings: Settings) -> dict[str, Any]:
    return {"timeout": settings.provider_timeout_seconds, "connect_timeout": settings.provider_connect_timeout_seconds}


def _smtp(name: str, c: dict[str, Any], s: Settings) -> Provider:
    return SmtpProvider(
        name=name,
        host=c.pop("host", s.smtp_host),
        port=int(c.pop("port", s.smtp_port)),
        username=c.pop("username", s.smtp_user),
        password=c.pop("password", s.smtp_pass),
        tls=c.pop("tls", s.smtp_tls.value),
        timeout=float(c.pop("timeout", s.smtp_timeout_seconds)),
        connect_timeout=float(c.pop("connect_timeout", s.smtp_connect_timeout_seconds)),
        pool_size=int(c.pop("pool_size", s.smtp_pool_size)),
        message_id_domain=s.message_id_domain,
        bounce_domain=c.pop("bounce_domain", s.bounce_domain),
        **c,
    )


def _ses(name: str, c: dict[str, Any], s: Settings) -> Provider:
    credentials = AwsCredentials(c.pop("access_key_id"), c.pop("secret_access_key"), c.pop("region"))
    return SesProvider(
        name=name, credentials=credentials, message_id_domain=s.message_id_domain, **_http_options(s), **c
    )


_FACTORIES: dict[str, Callable[[str, dict[str, Any], Settings], Provider]] = {
    "smtp": _smtp,
    "ses": _ses,
    "sendgrid": lambda name, c, s: SendGridProvider(name=name, **_http_options(s), **c),
    "mailgun": lambda name, c, s: MailgunProvider(name=name, **_http_options(s), **c),
    "postmark": lambda name, c, s: PostmarkProvider(name=name, **_http_options(s), **c),
    "resend": lambda name, c, s: ResendProvider(name=name, **_http_options(s), **c),
    "devinbox": lambda name, c, s: DevInboxProvider(
        name=name, directory=s.state_dir / "inbox", message_id_domain=s.message_id_domain, **c
    ),
}
