"""REGISTRY_* settings: where the registry listens and where the API reaches it."""

from __future__ import annotations

import pytest

from iep.config import ConfigError, load_settings


def test_a_bad_registry_listen_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="REGISTRY_LISTEN"):
        load_settings(registry_listen="8100")


def test_registry_url_defaults_to_where_the_registry_listens() -> None:
    assert load_settings(registry_listen="127.0.0.1:8200").registry_base_url == "http://127.0.0.1:8200"
    assert load_settings(registry_url="http://registry.internal:80/").registry_base_url == "http://registry.internal:80"
