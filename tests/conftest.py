"""Shared fixtures: a real PostgreSQL database built by the migrations, a real SMTP sink, the API in-process."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from iep import bootstrap
from iep.bootstrap import Container
from iep.config import load_settings
from iep.entrypoints.api import create_app
from iep.kit import migrate
from iep.kit.clock import FakeClock
from iep.messages.status import INITIAL, Status, can_move
from iep.providers.smtp import SmtpProvider
from iep.rendering.renderer import Renderer
from iep.sending_domains import repository as sending_domains
from iep.tenancy import service as tenancy
from tests.support import brokers
from tests.support.smtp_sink import SmtpSink

ADMIN_URL = os.environ.get("IEP_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
TABLES = (
    "tenants, api_keys, messages, attachments, events, suppression_list, bounce_counts, webhook_endpoints, "
    "allowed_sender_domains, outbox, queue_jobs, provider_events, message_recipients, provider_event_nonces, "
    "webhook_events, webhook_deliveries, tenant_usage, admin_operators, admin_sessions, admin_audit, "
    "directory_users, directory_addresses, directory_events, "
    "directory_audit_log, registry.users, registry.addresses, registry.processed_events, registry.parked_events, "
    "registry.dead_events"
)


def _url_for(db: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + db


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    """A database of its own for this test run, built by `alembic upgrade head`."""
    name = f"iep_test_{os.getpid()}"
    try:
        admin = await asyncpg.connect(ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.exit(f"PostgreSQL is required at {ADMIN_URL} and is unreachable: {exc}", returncode=3)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = _url_for(name)
    await migrate.upgrade(url)
    conn = await asyncpg.connect(url)
    await conn.execute(STATUS_MOVES_AUDIT)
    await conn.close()
    yield url
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


# Every status a message takes, by any write path (API, worker, feedback, CLI, roles in subprocesses), is logged
# by a trigger in a schema of the tests' own (the migrations never see it); after each test the moves are checked
# against iep.messages.status.TRANSITIONS, so the whole suite walks the state machine.
STATUS_MOVES_AUDIT = """
CREATE SCHEMA test_audit;
CREATE TABLE test_audit.status_moves (message_id uuid, old_status text, new_status text);
CREATE FUNCTION test_audit.log_status_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO test_audit.status_moves VALUES (NEW.id, NULL, NEW.status);
  ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
    INSERT INTO test_audit.status_moves VALUES (NEW.id, OLD.status, NEW.status);
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER status_moves AFTER INSERT OR UPDATE OF status ON messages
  FOR EACH ROW EXECUTE FUNCTION test_audit.log_status_move();
"""


def illegal_moves(moves: list[tuple[str | None, str]]) -> list[str]:
    def legal(old: str | None, new: str) -> bool:
        if old is None:
            return Status(new) in INITIAL
        return can_move(Status(old), Status(new))

    return sorted({f"{old} -> {new}" for old, new in moves if not legal(old, new)})


@pytest.fixture(autouse=True)
async def status_moves_follow_the_state_machine(database_url: str) -> AsyncIterator[None]:
    yield
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("DELETE FROM test_audit.status_moves RETURNING old_status, new_status")
    finally:
        await conn.close()
    bad = illegal_moves([(r["old_status"], r["new_status"]) for r in rows])
    assert bad == [], f"status moves outside iep.messages.status.TRANSITIONS: {bad}"


@pytest.fixture(scope="session")
async def rabbitmq_url() -> AsyncIterator[str]:
    """A vhost of its own on the machine's RabbitMQ for this test run."""
    problem = await brokers.rabbitmq_reachable()
    if problem:
        pytest.exit(problem, returncode=3)
    vhost = f"iep_test_{os.getpid()}"
    url = brokers.create_vhost(vhost)
    yield url
    brokers.delete_vhost(vhost)


@pytest.fixture(scope="session")
async def redis_url() -> str:
    problem = await brokers.redis_reachable()
    if problem:
        pytest.exit(problem, returncode=3)
    return brokers.REDIS_URL


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


EXAMPLE_TEMPLATES = Path(__file__).resolve().parent.parent / "examples" / "templates"
SHARED_RENDER_TIMEOUT_MS = 1000


@pytest.fixture(scope="session")
async def renderer(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Renderer]:
    """One set of warm render processes for the run, serving `examples/templates`; tests that kill or configure
    renderers build their own."""
    dist = tmp_path_factory.mktemp("templates-dist")
    # Two test processes render beside Chromium on 2 cores: the examples get room to render; the hard timeout's
    # own behaviour (RENDER_TIMEOUT_MS, 200 ms) is tested where it is the subject.
    settings = load_settings(
        templates_source_dir=EXAMPLE_TEMPLATES, templates_dist_dir=dist, render_timeout_ms=SHARED_RENDER_TIMEOUT_MS
    )
    shared = bootstrap.build_renderer(settings)
    yield shared
    await shared.close()


@pytest.fixture
async def container(
    database_url: str, sink: SmtpSink, clock: FakeClock, renderer: Renderer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Container]:
    settings = load_settings(
        database_url=database_url,
        smtp_port=sink.port,
        default_provider="smtp",
        attachments_dir=tmp_path_factory.mktemp("attachments"),
        # DNS stays on loopback: a port nobody answers on, so a lookup no test arranged fails fast, never leaves.
        dns_nameservers="127.0.0.1:9",
        dns_timeout_seconds=0.5,
    )
    providers = {
        "smtp": SmtpProvider(
            host="127.0.0.1",
            port=sink.port,
            username=None,
            password=None,
            tls="none",
            timeout=5,
            pool_size=4,
            message_id_domain="iep.test",
        )
    }
    built = bootstrap.build(settings, database_url, clock=clock, providers=providers, pool_size=10, renderer=renderer)
    async with built.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    yield built
    await built.close()


@pytest.fixture
async def api(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://iep.test") as client:
        yield client


@dataclass(frozen=True)
class TenantKey:
    slug: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


# The sender domains the suite's payloads use; make_tenant gives each tenant them, verified, as production
# requires (SENDER_DOMAINS_REQUIRE_VERIFIED). Tests about sender domains pass their own (or none).
SENDER_DOMAINS = ("product.example", "demo.example")


async def make_tenant(
    container: Container,
    slug: str,
    *,
    scopes: tuple[str, ...] = ("send", "read"),
    verified_domains: tuple[str, ...] = SENDER_DOMAINS,
) -> TenantKey:
    async with container.engine.begin() as conn:
        row = await tenancy.create_tenant(conn, name=slug.title(), slug=slug)
        for domain in verified_domains:
            await sending_domains.insert_domain(conn, row["id"], domain, verified=True)
        _, key = await tenancy.create_key(conn, tenant_slug=slug, scopes=list(scopes))
    return TenantKey(slug, key)


async def verify_domains(container: Container, slug: str, domains: tuple[str, ...] = SENDER_DOMAINS) -> None:
    """Give a tenant made another way (CLI, admin API) the verified sender domains the tests send from."""
    async with container.engine.begin() as conn:
        tenant_id = (await conn.execute(text("SELECT id FROM tenants WHERE slug = :s"), {"s": slug})).scalar_one()
        for domain in domains:
            await sending_domains.insert_domain(conn, tenant_id, domain, verified=True)


@pytest.fixture
async def tenant(container: Container) -> TenantKey:
    return await make_tenant(container, "acme")


def pytest_sessionstart(session: pytest.Session) -> None:
    # Fail fast and loudly when the suite runs on an interpreter IEP would refuse.
    from iep.kit.selftest import ensure_safe_interpreter

    ensure_safe_interpreter()
    del session


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server (SES, S3) on loopback for the whole run; tests use their own identities and buckets."""
    from moto.server import ThreadedMotoServer

    from tests.support.smtp_sink import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()
