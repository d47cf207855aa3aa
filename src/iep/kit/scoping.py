"""Tenant scoping in one place: every tenant-owned read or write starts from these (STYLE.md convention 2)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Delete, Select, Table, Update, delete, select, update


def scoped_select(table: Table, tenant_id: uuid.UUID, *columns: Any) -> Select[Any]:
    stmt = select(*columns) if columns else select(table)
    return stmt.where(table.c.tenant_id == tenant_id)


def scoped_update(table: Table, tenant_id: uuid.UUID) -> Update:
    return update(table).where(table.c.tenant_id == tenant_id)


def scoped_delete(table: Table, tenant_id: uuid.UUID) -> Delete:
    return delete(table).where(table.c.tenant_id == tenant_id)
