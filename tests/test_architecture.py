"""Guardrails as code: the schema the migrations build is the schema the code declares, and tenant-owned
tables are only queried through the scoping helpers outside the few places that must see every tenant."""

from __future__ import annotations

import ast
import re
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
    "dkim_keys", "bounce_counts", "provider_events", "webhook_events", "webhook_deliveries", "tenant_usage",
    "directory_users", "directory_addresses", "directory_events", "directory_audit_log",
}  # fmt: skip
# Places that legitimately cross tenants: the worker acts on a job's message id, the operator CLI sees all,
# and authentication finds a key by its prefix before any tenant is known.
UNSCOPED_ALLOWED = {
    "delivery/repository.py",
    "messages/admin_queries.py",
    "tenancy/repository.py",
    # Provider events arrive signed by a provider, not by a tenant: the message they name decides the tenant.
    "provider_events/repository.py",
    # Retention deletes what is old, whichever tenant it belongs to.
    "retention/repository.py",
    # Addresses are unique across the platform (SPEC R2), and the directory's relay and audit writer act on
    # event ids across tenants, as the send step does on message ids.
    "directory/repository.py",
}
RECORDED_HEAD = "0017"


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


# `*` in raw SQL hands back columns in the migrated table's order, which is not the declared one (ALTER TABLE
# appends); a textual select mapped onto `.columns(*table.c)` then reads each value under another name.
_STAR_SQL = re.compile(r"\b(SELECT|RETURNING)\s+(DISTINCT\s+)?(\w+\.)?\*|,\s*\w+\.\*", re.IGNORECASE)


def _star_sql(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _STAR_SQL.search(node.value):
            found.append(f"{path.name}:{node.lineno}")
    return found


def test_raw_sql_names_its_columns() -> None:
    offenders = [hit for path in SRC.rglob("*.py") for hit in _star_sql(path)]
    assert offenders == [], "name the columns: `*` maps by position onto a table whose order differs"


def test_the_star_check_can_fail(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text('A = "UPDATE messages m SET x = 1 RETURNING m.*, old.y"\nB = "SELECT count(*) FROM t"\n')
    assert _star_sql(probe) == ["probe.py:1"]
    probe.write_text('A = """\nWITH c AS (SELECT 1)\nSELECT * FROM c\n"""\n')
    assert _star_sql(probe) == ["probe.py:1"]


REPO = SRC.parent.parent
PROGRAMS_LIST = REPO / "scripts" / "programs.txt"
# Executables the virtual environment itself provides (pip packages), so no Debian package is needed.
FROM_THE_VENV = {"iep", "py-spy"}
_SPAWNERS = {"run", "Popen", "check_output", "check_call", "call", "create_subprocess_exec", "which"}


def _programs_called(path: Path) -> set[str]:
    """Program names in `subprocess.run(["x", ...])`, `create_subprocess_exec("x", ...)`, `shutil.which("x")`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
            continue
        if node.func.attr not in _SPAWNERS:
            continue
        first = node.args[0]
        if isinstance(first, ast.List | ast.Tuple) and first.elts:
            first = first.elts[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value:
            found.add(Path(first.value).name)
    return found


def test_every_program_the_code_runs_is_in_the_one_list() -> None:
    listed = {line.split()[0] for line in PROGRAMS_LIST.read_text().splitlines() if line.strip() and line[0] != "#"}
    called = set()
    for folder in ("src", "tests", "bench"):
        for path in (REPO / folder).rglob("*.py"):
            if "node_modules" not in path.parts:
                called |= _programs_called(path)
    assert called - FROM_THE_VENV - listed == set(), "add it to scripts/programs.txt (make test installs it)"


def test_the_program_check_can_fail(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text('import subprocess, shutil\nsubprocess.run(["mailtool", "-t"])\nshutil.which("nslookup-ng")\n')
    assert _programs_called(probe) == {"mailtool", "nslookup-ng"}
