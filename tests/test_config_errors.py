"""A bad setting is named, never echoed (docs/security.md): a key ring or a password in a value stays out of the
message the operator's terminal, CI log or crash reporter receives."""

from __future__ import annotations

import pytest

from iep.config import ConfigError, load_settings
from iep.kit.crypto import KeyRing

SECRET_KEY = KeyRing.generate_key()
CASES = {
    # A whole ring with one bad entry: the good key must not be printed either.
    "IEP_ENCRYPTION_KEY": f"k1:{SECRET_KEY},k2:not-base64-{SECRET_KEY[:10]}",
    "DATABASE_URL": "mysql://iep:hunter2-pa55word@db.internal:3306/iep",
    "SMTP_PORT": "s3cr3t-port-token",
    "PORT": "99999999",
    "REDIS_URL": None,
    "QUEUE_BACKEND": "redis-with-password-x9",
    "RETRY_DELAYS_SECONDS": "[-1, 0]",
}
SECRETS = [SECRET_KEY, SECRET_KEY[:10], "hunter2-pa55word", "s3cr3t-port-token", "99999999", "redis-with-password-x9"]


def test_every_bad_variable_is_named_and_no_value_is_repeated(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CASES.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    for name in ("IEP_ENCRYPTION_KEY", "DATABASE_URL", "SMTP_PORT", "PORT", "QUEUE_BACKEND", "RETRY_DELAYS_SECONDS"):
        assert name in message, message
    for secret in SECRETS:
        assert secret not in message, f"{secret!r} leaked: {message}"


def test_a_rule_across_variables_is_named_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_BACKEND", "redis")
    monkeypatch.delenv("REDIS_URL", raising=False)
    with pytest.raises(ConfigError, match="REDIS_URL is required"):
        load_settings()
