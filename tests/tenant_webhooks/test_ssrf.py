"""The SSRF guard (S9), at registration and at every attempt: every disguise of an internal address is refused
before any connection is made. The dialer is patched to record every connect and to refuse any that is not to
loopback, so no test here can reach beyond this machine."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager

import httpcore
import httpx
import pytest

from iep.bootstrap import Container
from iep.tenant_webhooks import sender as sender_module
from iep.tenant_webhooks.sender import WebhookSender
from iep.tenant_webhooks.ssrf import Guard, UrlRefused, parse_cidrs
from tests.conftest import TenantKey
from tests.tenant_webhooks.receiver import Receiver

# Names an injected resolver answers for; nothing here is looked up in real DNS.
NAMES = {
    "internal.corp.example": ["10.1.2.3"],
    "metadata.example": ["169.254.169.254"],
    "loop.example": ["127.0.0.1"],
    "v6loop.example": ["::1"],
    "mixed.example": ["93.184.216.34", "192.168.0.10"],  # one bad answer is enough to refuse
    "mapped.example": ["::ffff:10.0.0.1"],
    "public.example": ["93.184.216.34"],
}

REFUSED = [
    # IPv4 private, loopback, link-local, metadata, and other non-public ranges
    "https://127.0.0.1/hook",
    "https://127.8.9.10/hook",
    "https://10.0.0.1/hook",
    "https://172.16.5.4/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://0.0.0.0/hook",
    "https://100.64.0.1/hook",
    "https://224.0.0.1/hook",
    "https://255.255.255.255/hook",
    "https://240.0.0.1/hook",
    "https://198.18.0.1/hook",
    # odd IPv4 spellings of loopback and metadata
    "https://2130706433/hook",
    "https://0177.0.0.1/hook",
    "https://0x7f.1/hook",
    "https://0x7f000001/hook",
    "https://017700000001/hook",
    "https://127.1/hook",
    "https://0251.0376.0251.0376/hook",
    "https://0xA9FEA9FE/hook",
    "https://2852039166/hook",
    # IPv6 loopback, unspecified, link-local, unique-local, multicast, site-local
    "https://[::1]/hook",
    "https://[::]/hook",
    "https://[fe80::1]/hook",
    "https://[fc00::1]/hook",
    "https://[fd12:3456::1]/hook",
    "https://[ff02::1]/hook",
    "https://[fec0::1]/hook",
    # IPv4 hidden in IPv6: mapped, compatible, NAT64, 6to4, local-use NAT64
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:7f00:1]/hook",
    "https://[::ffff:169.254.169.254]/hook",
    "https://[::127.0.0.1]/hook",
    "https://[::a9fe:a9fe]/hook",
    "https://[64:ff9b::7f00:1]/hook",
    "https://[64:ff9b::a9fe:a9fe]/hook",
    "https://[2002:7f00:1::1]/hook",
    "https://[2002:a9fe:a9fe::]/hook",
    "https://[64:ff9b:1::1]/hook",
    # names that resolve to internal addresses (injected resolver)
    "https://internal.corp.example/hook",
    "https://metadata.example/hook",
    "https://loop.example/hook",
    "https://v6loop.example/hook",
    "https://mixed.example/hook",
    "https://mapped.example/hook",
    # schemes and shapes
    "http://public.example/hook",  # https only (WEBHOOK_ALLOW_HTTP off)
    "ftp://public.example/hook",
    "file:///etc/passwd",
    "gopher://public.example:70/_",
    "https://user:pw@public.example/hook",
    "https://public.example\r\nX-Evil: 1/hook",
    "https://[::1%25lo]/hook",
    "https:///hook",
]


async def fake_resolver(host: str, port: int) -> list[str]:
    if host not in NAMES:
        raise OSError(f"no such name {host}")
    return NAMES[host]


class Dials:
    def __init__(self) -> None:
        self.targets: list[tuple[str, int]] = []

    async def __call__(
        self,
        host: str,
        port: int,
        timeout: float | None,  # noqa: ASYNC109 - the dialer's signature
    ) -> httpcore.AsyncNetworkStream:
        self.targets.append((host, port))
        assert ipaddress.ip_address(host).is_loopback, f"a test tried to connect to {host}"
        return await httpcore.AnyIOBackend().connect_tcp(host, port, timeout=timeout)


@pytest.fixture
def dials(monkeypatch: pytest.MonkeyPatch) -> Dials:
    recorder = Dials()
    monkeypatch.setattr(sender_module, "dial", recorder)
    return recorder


@contextmanager
def _started() -> Iterator[Receiver]:
    receiver = Receiver().start()
    receiver.secret = "whsec_" + "A" * 32
    try:
        yield receiver
    finally:
        receiver.stop()


def test_there_are_enough_targets() -> None:
    assert len(REFUSED) >= 30


@pytest.mark.parametrize("url", REFUSED)
async def test_refused_at_delivery_before_any_connection(url: str, dials: Dials) -> None:
    sender = WebhookSender(Guard(allow_http=False, resolver=fake_resolver), connect_timeout=1, total_timeout=2)
    result = await sender.post(url, b"{}", {})
    assert not result.success
    assert result.error is not None, result.error
    assert result.error.startswith("refused:"), result.error
    assert dials.targets == []
    await sender.close()


async def test_refused_at_registration(
    container: Container, api: httpx.AsyncClient, tenant: TenantKey, dials: Dials
) -> None:
    container.resolver = fake_resolver
    container.settings = container.settings.model_copy(update={"iep_encryption_key": "k1:" + "A" * 43 + "="})
    for url in REFUSED:
        resp = await api.post("/v1/webhooks", json={"url": url, "events": ["message.sent"]}, headers=tenant.headers)
        assert resp.status_code == 422, (url, resp.text)
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.json()["type"].endswith("/webhook-url-refused"), (url, resp.json())
    ok = await api.post(
        "/v1/webhooks", json={"url": "https://public.example/hook", "events": ["message.sent"]}, headers=tenant.headers
    )
    assert ok.status_code == 201, ok.text
    assert dials.targets == []


def test_the_allowlist_opens_exactly_its_ranges() -> None:
    from iep.tenant_webhooks.ssrf import refusal

    allowed = parse_cidrs("127.0.0.0/8, 10.0.0.0/8")
    assert refusal(ipaddress.ip_address("127.0.0.1"), allowed) is None
    assert refusal(ipaddress.ip_address("::ffff:10.1.1.1"), allowed) is None
    assert refusal(ipaddress.ip_address("192.168.0.1"), allowed) is not None
    assert refusal(ipaddress.ip_address("169.254.169.254"), allowed) is not None
    assert refusal(ipaddress.ip_address("93.184.216.34")) is None
    assert refusal(ipaddress.ip_address("64:ff9b::5db8:d822")) is None  # NAT64 of a public address
    with pytest.raises(ValueError, match="not a CIDR"):
        parse_cidrs("10.0.0.0/8,nonsense")


async def test_an_answer_that_changes_after_the_check_cannot_move_the_connection(dials: Dials) -> None:
    answers = iter([["127.0.0.1"], ["10.0.0.7"], ["10.0.0.7"]])
    asked: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        asked.append(host)
        return next(answers)

    with _started() as receiver:
        sender = WebhookSender(
            Guard(allow_http=True, allowed=parse_cidrs("127.0.0.0/8"), resolver=rebinding),
            connect_timeout=1,
            total_timeout=3,
        )
        url = f"http://rebind.example:{receiver.port}/hook"
        first = await sender.post(url, b"{}", {})
        assert first.success, first.error
        # One resolution per attempt, and the connection went to the address that was checked.
        assert asked == ["rebind.example"]
        assert dials.targets == [("127.0.0.1", receiver.port)]
        assert receiver.received[0].headers["host"] == f"rebind.example:{receiver.port}"
        # The next attempt resolves again, sees the internal address, and never connects.
        second = await sender.post(url, b"{}", {})
        assert not second.success
        assert second.error is not None
        assert "10.0.0.7" in second.error
        assert dials.targets == [("127.0.0.1", receiver.port)]
        await sender.close()


async def test_a_redirect_to_an_internal_address_is_not_followed(dials: Dials) -> None:
    with _started() as receiver:
        receiver.answer = lambda _: (302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})
        sender = WebhookSender(
            Guard(allow_http=True, allowed=parse_cidrs("127.0.0.0/8")), connect_timeout=1, total_timeout=3
        )
        result = await sender.post(receiver.url, b"{}", {})
        await sender.close()
    assert not result.success
    assert result.status_code == 302
    assert result.error == "redirect (302) not followed"
    assert dials.targets == [("127.0.0.1", receiver.port)]
    assert len(receiver.received) == 1


async def test_the_answer_is_read_up_to_a_bound_and_time_is_bounded(dials: Dials) -> None:
    with _started() as receiver:
        receiver.answer = lambda _: (200, b"x" * 2_000_000, {})
        sender = WebhookSender(
            Guard(allow_http=True, allowed=parse_cidrs("127.0.0.0/8")), connect_timeout=1, total_timeout=1
        )
        big = await sender.post(receiver.url, b"{}", {})
        assert big.success
        assert big.response_body == "x" * 1024
        receiver.answer = lambda _: (200, b"late", {})
        receiver.hold_seconds = 2.5
        slow = await sender.post(receiver.url, b"{}", {})
        await sender.close()
    assert not slow.success
    assert slow.error is not None
    assert "within 1 s" in slow.error
    assert slow.latency_ms < 2000


def test_urls_are_parsed_strictly() -> None:
    guard = Guard(allow_http=False)
    assert guard.parse("https://Hooks.Example.COM./a?b=1").host == "hooks.example.com"
    assert guard.parse("https://hooks.example.com:8443/a?b=1").path == "/a?b=1"
    with pytest.raises(UrlRefused):
        guard.parse("https://" + "a" * 64 + ".example/")
