"""The operator's side of sender domains: SENDER_DOMAINS_REQUIRE_VERIFIED defaults by role, DNS_NAMESERVERS
is checked at start, domain names are normalized one way; and `make dev`'s demo tenant still sends."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from iep import bootstrap
from iep.bootstrap import Container
from iep.config import ConfigError, load_settings
from iep.entrypoints.api import create_app
from iep.entrypoints.dev import DEMO_DOMAIN, demo_key
from iep.kit.clock import FakeClock
from iep.rendering.renderer import Renderer
from iep.sending_domains.names import DomainError, normalize_domain
from iep.sending_domains.nameservers import parse_nameservers
from iep.sending_domains.records import DnsPlan


@pytest.mark.parametrize(
    ("env", "required"),
    [({}, True), ({"service_role": "api"}, True), ({"service_role": "dev"}, False),
     ({"service_role": "dev", "sender_domains_require_verified": "true"}, True),
     ({"sender_domains_require_verified": "false"}, False), ({"sender_domains_require_verified": ""}, True)],
    ids=["all", "api", "dev", "dev-forced", "off", "blank"],
)  # fmt: skip
def test_verified_senders_are_required_outside_dev(env: dict[str, str], required: bool) -> None:
    assert load_settings(**env).senders_must_be_verified is required


def test_dns_nameservers_take_host_and_port() -> None:
    assert parse_nameservers("127.0.0.1:5353, [::1]:5300,10.0.0.2 ,::1") == [
        ("127.0.0.1", 5353), ("::1", 5300), ("10.0.0.2", 53), ("::1", 53),
    ]  # fmt: skip
    assert parse_nameservers("") == []


@pytest.mark.parametrize("bad", ["dns.example:53", "127.0.0.1:0", "127.0.0.1:x", "[::1]x"], ids=str)
def test_a_bad_nameserver_stops_the_start_naming_the_variable(bad: str) -> None:
    with pytest.raises(ConfigError, match="DNS_NAMESERVERS"):
        load_settings(dns_nameservers=bad)


def test_the_platform_side_of_the_records() -> None:
    assert DnsPlan.from_settings(load_settings(bounce_domain="Bounces.Mail.Example.")) == DnsPlan(
        spf_include="_spf.bounces.mail.example", bounce_domain="bounces.mail.example"
    )
    plan = DnsPlan.from_settings(load_settings(bounce_domain="b.example", spf_include="spf.esp.example"))
    assert plan.spf_include == "spf.esp.example"


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("Example.COM", "example.com"), ("example.com.", "example.com"), (" mail.example.com ", "mail.example.com"),
     ("München.example", "xn--mnchen-3ya.example"), ("xn--mnchen-3ya.example", "xn--mnchen-3ya.example")],
    ids=["case", "trailing-dot", "spaces", "idn", "a-label"],
)  # fmt: skip
def test_domains_are_normalized(raw: str, stored: str) -> None:
    assert normalize_domain(raw) == stored


def test_domain_errors_say_what_is_wrong() -> None:
    with pytest.raises(DomainError, match="two labels"):
        normalize_domain("localhost")
    with pytest.raises(DomainError, match="not an IP address"):
        normalize_domain("192.0.2.1")


async def test_the_dev_demo_tenant_sends_from_its_listed_domain(
    container: Container, database_url: str, renderer: Renderer, tmp_path: Path
) -> None:
    del container  # its setup empties the tables
    settings = load_settings(
        database_url=database_url, service_role="dev", state_dir=tmp_path, attachments_dir=tmp_path / "att"
    )
    dev = bootstrap.build(settings, database_url, clock=FakeClock(), providers={}, pool_size=2, renderer=renderer)
    try:
        assert dev.limits.require_verified_senders is False
        key = await demo_key(dev, settings)
        assert await demo_key(dev, settings) == key  # a second `make dev` reuses both
        headers = {"Authorization": f"Bearer {key}"}
        mail = {"to": ["ada@example.com"], "subject": "Hi", "textBody": "Hello"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(dev)), base_url="http://t") as api:
            sent = await api.post("/v1/messages", json={**mail, "from": f"hello@{DEMO_DOMAIN}"}, headers=headers)
            assert sent.status_code == 202, sent.text
            other = await api.post("/v1/messages", json={**mail, "from": "a@other.example"}, headers=headers)
            assert other.status_code == 422
    finally:
        await dev.close()
