"""The `iep` command (P7): run a role, migrate, manage tenants and keys, look at messages."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.config import ConfigError, Role, Settings, load_settings
from iep.entrypoints.cli_admins import admins
from iep.entrypoints.cli_domains import domains
from iep.kit.db import create_engine
from iep.observability import logging as iep_logging

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc.code)) from None


def _print(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, default=_jsonable, ensure_ascii=False))


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


async def _with_db(work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    from iep.entrypoints.runtime import database_url
    from iep.kit import migrate

    settings = _settings()
    url = await database_url(settings)
    if not settings.database_url:
        await migrate.upgrade(url)
    engine = create_engine(url, pool_size=1)
    try:
        try:
            conn = await engine.connect()
        except DBAPIError as exc:  # e.g. no such database or role, wrong password: an operator error
            raise click.ClickException(f"cannot reach the database: {exc.orig}") from None
        try:
            async with conn.begin():
                return await work(conn)
        finally:
            await conn.close()
    finally:
        await engine.dispose()


def _run(coro: Awaitable[T]) -> T:
    from iep.tenancy.service import TenancyError

    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except TenancyError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot reach the database: {exc}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """IEP, the Internal Email Platform."""


@main.command()
@click.option("--role", type=click.Choice([r.value for r in Role]), default=None, help="defaults to SERVICE_ROLE")
def run(role: str | None) -> None:
    """Run IEP in one role: api, worker, relay, webhooks, smtp, registry, all or dev."""
    gc.disable()  # until start-up is done and frozen (`runtime.run_role`; `launch.py` says why)
    from iep.entrypoints.runtime import run_role
    from iep.kit.selftest import UnsafeInterpreterError

    settings = _settings()
    iep_logging.configure(settings.log_level, json=settings.log_json)
    chosen = Role(role) if role else settings.service_role
    copies = {Role.WORKER: settings.worker_processes, Role.API: settings.api_workers}.get(chosen, 1)
    if copies > 1:
        from iep.entrypoints.processes import run_copies

        gc.enable()  # this process only watches its copies; each of them starts as above

        if not settings.database_url:
            raise click.ClickException("several processes of a role need DATABASE_URL (not the embedded database)")
        env = {"WORKER_PROCESSES": "1", "API_WORKERS": "1"}
        sys.exit(
            run_copies(
                chosen, copies, env=env, host=settings.host, port=settings.port, metrics_port=settings.metrics_port
            )
        )
    try:
        asyncio.run(run_role(settings, chosen))
    except UnsafeInterpreterError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
def openapi() -> None:
    """Print the API's OpenAPI document (what /openapi.json serves), keys sorted; no database is reached."""

    async def document() -> dict[str, Any]:
        from iep import bootstrap
        from iep.config import load_settings
        from iep.entrypoints.api import create_app

        # The engine and pools are made lazily and never used: any well-formed URL describes the same API.
        url = "postgresql+asyncpg://iep@127.0.0.1:9/iep"
        container = bootstrap.build(load_settings(database_url=url), url, pool_size=1)
        try:
            doc: dict[str, Any] = create_app(container).openapi()
            return doc
        finally:
            await container.close()

    click.echo(json.dumps(asyncio.run(document()), indent=2, sort_keys=True, ensure_ascii=False))


main.add_command(domains)
main.add_command(admins)


@main.group()
def db() -> None:
    """Database schema."""


@db.command()
def upgrade() -> None:
    """Apply every migration up to head."""
    from iep.entrypoints.runtime import database_url
    from iep.kit import migrate

    async def go() -> None:
        await migrate.upgrade(await database_url(_settings()))

    _run(go())
    click.echo(json.dumps({"upgraded_to": migrate.head_revision()}))


@main.group()
def tenants() -> None:
    """Tenants: create, list, update limits, suspend, activate."""


@tenants.command("create")
@click.option("--name", required=True)
@click.option("--slug", default=None, help="URL-safe id; made from the name when omitted")
@click.option("--domain", "domains", multiple=True, help="allowed sender domain (repeatable)")
def tenants_create(name: str, slug: str | None, domains: tuple[str, ...]) -> None:
    from iep.tenancy import service

    _print(_run(_with_db(lambda c: service.create_tenant(c, name=name, slug=slug, sender_domains=list(domains)))))


@tenants.command("list")
def tenants_list() -> None:
    from iep.tenancy import repository

    _print(_run(_with_db(repository.list_tenants)))


@tenants.command("show")
@click.argument("slug")
def tenants_show(slug: str) -> None:
    """One tenant, with its keys (never their secrets)."""
    from iep.kit.clock import SystemClock
    from iep.tenancy import repository, service
    from iep.tenancy.schemas import KeyOut

    async def go(conn: AsyncConnection) -> dict[str, Any]:
        tenant = await service.tenant(conn, slug)
        rows = await repository.list_keys(conn, tenant["id"])
        now = SystemClock().now()
        return {**tenant, "keys": [KeyOut.of(r, now).model_dump(mode="json", by_alias=True) for r in rows]}

    _print(_run(_with_db(go)))


@tenants.command("suspend")
@click.argument("slug")
def tenants_suspend(slug: str) -> None:
    """Refuse the tenant's keys (403) and hold its mail unsent until it is activated."""
    from iep.tenancy import service

    _print(_run(_with_db(lambda c: service.set_active(c, slug, active=False))))


@tenants.command("activate")
@click.argument("slug")
def tenants_activate(slug: str) -> None:
    """Accept the tenant's keys again and queue the mail held while it was suspended (`requeued`)."""
    from iep.tenancy import service

    _print(_run(_with_db(lambda c: service.set_active(c, slug, active=True))))


_LIMIT = click.IntRange(min=0, max=2**31 - 1)


@tenants.command("update")
@click.argument("slug")
@click.option("--max-per-minute", type=_LIMIT, default=None, help="messages per minute (0 = unlimited)")
@click.option("--max-per-hour", type=_LIMIT, default=None, help="messages per hour (0 = unlimited)")
@click.option("--max-per-day", type=_LIMIT, default=None, help="messages per day (0 = unlimited)")
@click.option("--burst", type=_LIMIT, default=None, help="messages at once: a token bucket's size (0 = none)")
@click.option("--monthly-quota", type=_LIMIT, default=None, help="messages per calendar month (0 = unlimited)")
def tenants_update(slug: str, **limits: int | None) -> None:
    """Set a tenant's rate limits and monthly quota (merged into its settings); prints the tenant."""
    from iep.kit.clock import SystemClock
    from iep.limits import service

    changes = {name: value for name, value in limits.items() if value is not None}
    if not changes:
        raise click.UsageError(
            "give at least one of --max-per-minute, --max-per-hour, --max-per-day, --burst, --monthly-quota"
        )
    _print(_run(_with_db(lambda c: service.update_limits(c, slug, changes, SystemClock().now()))))


@main.group()
def keys() -> None:
    """API keys: create (the secret is printed once), list, rotate, revoke."""


@keys.command("create")
@click.option("--tenant", "tenant_slug", required=True)
@click.option("--scopes", default="send,read", show_default=True)
@click.option("--name", default=None)
@click.option("--expires-at", type=click.DateTime(), default=None, help="UTC")
def keys_create(tenant_slug: str, scopes: str, name: str | None, expires_at: datetime | None) -> None:
    from datetime import UTC

    from iep.tenancy import service

    when = expires_at.replace(tzinfo=UTC) if expires_at else None
    scope_list = [s.strip() for s in scopes.split(",") if s.strip()]

    async def go(conn: AsyncConnection) -> dict[str, Any]:
        row, full = await service.create_key(
            conn, tenant_slug=tenant_slug, scopes=scope_list, name=name, expires_at=when
        )
        return {
            "id": row["id"],
            "tenant": tenant_slug,
            "prefix": row["key_prefix"],
            "scopes": row["scopes"],
            "expiresAt": row["expires_at"],
            "key": full,
        }

    _print(_run(_with_db(go)))


@keys.command("list")
@click.option("--tenant", "tenant_slug", required=True)
def keys_list(tenant_slug: str) -> None:
    """A tenant's keys: prefix, scopes, status and dates (never secrets or hashes)."""
    from iep.kit.clock import SystemClock
    from iep.tenancy import repository, service
    from iep.tenancy.schemas import KeyOut

    async def go(conn: AsyncConnection) -> list[dict[str, Any]]:
        tenant = await service.tenant(conn, tenant_slug)
        now = SystemClock().now()
        return [
            KeyOut.of(r, now).model_dump(mode="json", by_alias=True)
            for r in await repository.list_keys(conn, tenant["id"])
        ]

    _print(_run(_with_db(go)))


@keys.command("rotate")
@click.argument("prefix")
@click.option(
    "--grace-seconds",
    type=click.IntRange(0, 30 * 24 * 3600),
    default=3600,
    show_default=True,
    help="how long the old key keeps working",
)
def keys_rotate(prefix: str, grace_seconds: int) -> None:
    """Issue a key with PREFIX's scopes (printed once); PREFIX works until the grace period ends."""
    from iep.kit.clock import SystemClock
    from iep.tenancy import service
    from iep.tenancy.schemas import KeyCreated, KeyOut

    async def go(conn: AsyncConnection) -> dict[str, Any]:
        now = SystemClock().now()
        row, full, old = await service.rotate_key(conn, prefix=prefix, grace_seconds=grace_seconds, now=now)
        doc = KeyCreated.of_new(row, full, now).model_dump(mode="json", by_alias=True)
        return {**doc, "previous": KeyOut.of(old, now).model_dump(mode="json", by_alias=True)}

    _print(_run(_with_db(go)))


@keys.command("revoke")
@click.argument("prefix")
def keys_revoke(prefix: str) -> None:
    """Revoke PREFIX: refused by every API process within a second."""
    from iep.tenancy import service

    row = _run(_with_db(lambda c: service.revoke_key(c, prefix)))
    _print({"prefix": row["key_prefix"], "active": row["active"], "revokedAt": row["revoked_at"]})


@main.group()
def messages() -> None:
    """Messages: list, show, and the dev inbox."""


@messages.command("list")
@click.option("--tenant", "tenant_slug", default=None)
@click.option("--status", default=None)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
def messages_list(tenant_slug: str | None, status: str | None, limit: int) -> None:
    from iep.messages import admin_queries

    rows = _run(_with_db(lambda c: admin_queries.recent(c, tenant_slug=tenant_slug, status=status, limit=limit)))
    _print(rows)


@messages.command("show")
@click.argument("message_id", type=click.UUID)
def messages_show(message_id: uuid.UUID) -> None:
    from iep.messages import admin_queries

    row = _run(_with_db(lambda c: admin_queries.one_with_events(c, message_id)))
    if row is None:
        raise click.ClickException(f"no message {message_id}")
    _print(row)


@messages.group("dlq")
def dlq() -> None:
    """The dead-letter queue (D-8): messages that ran out of attempts."""


@dlq.command("list")
@click.option("--tenant", "tenant_slug", default=None)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
def dlq_list(tenant_slug: str | None, limit: int) -> None:
    from iep.messages import admin_queries

    _print(
        _run(
            _with_db(
                lambda c: admin_queries.recent(c, tenant_slug=tenant_slug, status=None, limit=limit, dead_lettered=True)
            )
        )
    )


@dlq.command("show")
@click.argument("message_id", type=click.UUID)
def dlq_show(message_id: uuid.UUID) -> None:
    from iep.messages import admin_queries

    row = _run(_with_db(lambda c: admin_queries.one_with_events(c, message_id)))
    if row is None or row["dead_lettered_at"] is None:
        raise click.ClickException(f"message {message_id} is not in the dead-letter queue")
    _print(row)


@dlq.command("requeue")
@click.argument("message_id", type=click.UUID)
def dlq_requeue(message_id: uuid.UUID) -> None:
    """Send a dead-lettered message again: attempts reset, queued now."""
    from iep.kit.clock import SystemClock
    from iep.messages import admin_queries
    from iep.messages import repository as message_repository

    async def go(conn: AsyncConnection) -> bool:
        tenant_id = await admin_queries.tenant_of(conn, message_id)
        if tenant_id is None:
            return False
        now = SystemClock().now()
        return await message_repository.requeue(conn, tenant_id, message_id, now, dead_lettered_only=True)

    if not _run(_with_db(go)):
        raise click.ClickException(f"message {message_id} is not in the dead-letter queue")
    _print({"messageId": str(message_id), "status": "queued"})


@messages.command("inbox")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
def messages_inbox(limit: int) -> None:
    """What the dev inbox received (role dev)."""
    from iep.providers.devinbox import list_inbox

    _print(list_inbox(_settings().state_dir / "inbox", limit=limit))


@main.group()
def suppressions() -> None:
    """Suppressed addresses of a tenant (SPEC F3): list, add, remove."""


async def _tenant_id(conn: AsyncConnection, slug: str) -> uuid.UUID:
    from iep.tenancy import repository

    tenant = await repository.tenant_by_slug(conn, slug)
    if tenant is None:
        raise click.ClickException(f"no tenant with slug {slug!r}")
    return uuid.UUID(str(tenant["id"]))


@suppressions.command("list")
@click.option("--tenant", "tenant_slug", required=True)
@click.option("--email", default=None)
@click.option("--reason", type=click.Choice(["manual", "hard_bounce", "complaint"]), default=None)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
def suppressions_list(tenant_slug: str, email: str | None, reason: str | None, limit: int) -> None:
    from iep.kit.clock import SystemClock
    from iep.suppressions import service

    async def go(conn: AsyncConnection) -> list[dict[str, Any]]:
        tenant_id = await _tenant_id(conn, tenant_slug)
        rows, _ = await service.list(
            conn, tenant_id=tenant_id, now=SystemClock().now(), email=email, reason=reason, limit=limit
        )
        return rows

    _print(_run(_with_db(go)))


@suppressions.command("add")
@click.option("--tenant", "tenant_slug", required=True)
@click.argument("email")
@click.option("--expires-at", type=click.DateTime(), default=None, help="UTC; omitted = for good")
def suppressions_add(tenant_slug: str, email: str, expires_at: datetime | None) -> None:
    """Suppress EMAIL (reason `manual`); re-adding updates the expiry."""
    from datetime import UTC

    from iep.kit.clock import SystemClock
    from iep.messages.addresses import AddressError, normalize_address
    from iep.suppressions import service

    try:
        address = normalize_address(email)
    except AddressError as exc:
        raise click.ClickException(f"EMAIL: {exc}") from None
    now = SystemClock().now()
    when = expires_at.replace(tzinfo=UTC) if expires_at else None
    if when is not None and when <= now:
        raise click.ClickException("--expires-at must be in the future")

    async def go(conn: AsyncConnection) -> dict[str, Any]:
        tenant_id = await _tenant_id(conn, tenant_slug)
        row = await service.add_manual(
            conn, tenant_id=tenant_id, email=address, now=now, expires_at=when, source=service.Source.CLI
        )
        return {"tenant": tenant_slug, **row}

    _print(_run(_with_db(go)))


@suppressions.command("remove")
@click.option("--tenant", "tenant_slug", required=True)
@click.argument("email")
def suppressions_remove(tenant_slug: str, email: str) -> None:
    """Stop suppressing EMAIL."""
    from iep.suppressions import service

    async def go(conn: AsyncConnection) -> bool:
        return await service.remove(conn, tenant_id=await _tenant_id(conn, tenant_slug), email=email)

    if not _run(_with_db(go)):
        raise click.ClickException(f"{email} is not suppressed for tenant {tenant_slug}")
    _print({"tenant": tenant_slug, "email": email.strip().lower(), "removed": True})


@main.group()
def templates() -> None:
    """Named templates in TEMPLATES_SOURCE_DIR: list, check, preview."""
    settings = _settings()
    iep_logging.configure(settings.log_level, json=settings.log_json)  # logs to stderr; stdout is the answer


@templates.command("list")
@click.option("--tenant", "tenant_slug", default=None, help="what this tenant can use (its own, then _shared)")
def templates_list(tenant_slug: str | None) -> None:
    from iep.templates import service

    settings = _settings()
    _print(service.listing(_catalog(settings), tenant_slug))


@templates.command("check")
@click.option("--tenant", "tenant_slug", default=None)
def templates_check(tenant_slug: str | None) -> None:
    """Load, validate and render every template with its example data; exit 1 if any fails."""
    from iep.templates import service

    results = asyncio.run(service.check_all(_renderer(), tenant_slug))
    _print(results)
    failed = [r["name"] for r in results if not r["ok"]]
    if failed:
        raise click.ClickException(f"{len(failed)} template(s) failed: {', '.join(failed)}")


@templates.command("preview")
@click.argument("name")
@click.option("--tenant", "tenant_slug", default=None)
@click.option("--data", "data_arg", default=None, help="JSON object, or @file.json; default: the template's example")
@click.option("--part", type=click.Choice(["json", "subject", "html", "text"]), default="json", show_default=True)
def templates_preview(name: str, tenant_slug: str | None, data_arg: str | None, part: str) -> None:
    """Render NAME as a message would be rendered."""
    from iep.kit.problems import Problem
    from iep.templates import service

    data = _json_arg(data_arg) if data_arg else None
    renderer = _renderer()

    async def go() -> service.Preview:
        try:
            return await service.preview(renderer, tenant_slug, name, data)
        finally:
            await renderer.close()

    try:
        result = asyncio.run(go())
    except Problem as exc:
        errors = getattr(exc, "errors", None)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) if errors else exc.detail
        raise click.ClickException(f"{exc.title}: {detail}") from None
    rendered = result.rendered
    if part == "json":
        source = result.source
        doc = {"template": source.qualified, "format": source.format, "subject": rendered.subject}
        _print({**doc, "html": rendered.html, "text": rendered.text})
    else:
        click.echo(getattr(rendered, part) or "")


def _catalog(settings: Settings) -> Any:
    from iep.rendering.catalog import TemplateCatalog

    if not settings.templates_source_dir.is_dir():
        raise click.ClickException(f"TEMPLATES_SOURCE_DIR {settings.templates_source_dir} is not a folder")
    return TemplateCatalog(settings.templates_source_dir)


def _renderer() -> Any:
    from iep.bootstrap import build_renderer

    settings = _settings()
    _catalog(settings)
    return build_renderer(settings)


def _json_arg(value: str) -> dict[str, Any]:
    try:
        raw = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
        doc = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"--data: {exc}") from None
    if not isinstance(doc, dict):
        raise click.ClickException("--data must be a JSON object")
    return doc


if __name__ == "__main__":
    sys.exit(main())
