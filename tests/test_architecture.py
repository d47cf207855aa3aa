"""Guardrails as code: the schema the migrations build is the schema the code declares, and tenant-owned
tables are only queried through the scoping helpers outside the few places that must see every tenant."""

from __future__ import annotations

import ast
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from iep.kit.db import sqlalchemy_url
from iep.kit.migrate import head_revision
from iep.models import metadata

SRC = Path(__file__).resolve().parent.parent / "src" / "iep"
TENANT_OWNED = {
    "messages", "suppression_list", "webhook_endpoints", "allowed_sender_domains", "api_keys", "tenant_providers",
    "dkim_keys", "webhook_events", "webhook_deliveries",
}  # fmt: skip
# Places that legitimately cross tenants: the worker acts on a job's message id, the operator CLI sees all,
# and authentication finds a key by its prefix before any tenant is known.
UNSCOPED_ALLOWED = {
    "delivery/repository.py",
    "messages/admin_queries.py",
    "tenancy/repository.py",
}
RECORDED_HEAD = "0007"


async def test_migrations_build_exactly_the_declared_schema(database_url: str) -> None:
    engine = create_async_engine(sqlalchemy_url(database_url))
    async with engine.connect() as conn:
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
        diff = await conn.run_sync(lambda sync: compare_metadata(MigrationContext.configure(sync), metadata))
    await engine.dispose()
    assert version == head_revision()
    assert diff == []


def test_head_is_the_recorded_one() -> None:
    assert head_revision() == RECORDED_HEAD, "a new migration: update RECORDED_HEAD on purpose"


def _unscoped_uses(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"select", "update", "delete"}
        ):
            # `messages`, `messages.c.id` and `messages.c["to"]` all contain the bare name of the table.
            names = {n.id for arg in node.args for n in ast.walk(arg) if isinstance(n, ast.Name)}
            hit = names & TENANT_OWNED
            if hit:
                found.append(f"{path.name}:{node.lineno} {node.func.id}({', '.join(sorted(hit))})")
    return found


def test_tenant_owned_tables_are_queried_through_scoping() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = str(path.relative_to(SRC))
        if rel in UNSCOPED_ALLOWED or rel.startswith("migrations/"):
            continue
        offenders += _unscoped_uses(path)
    assert offenders == [], "use iep.kit.scoping.scoped_select/update/delete"


def test_the_scoping_check_can_fail(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from sqlalchemy import select\nfrom iep.messages.models import messages\nq = select(messages.c.id)\n"
    )
    assert _unscoped_uses(probe) == ["probe.py:3 select(messages)"]
