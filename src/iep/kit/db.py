"""Database plumbing: one MetaData, the async engine, URL forms for SQLAlchemy and raw asyncpg."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def sqlalchemy_url(url: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url}")


def asyncpg_dsn(url: str) -> str:
    return "postgresql://" + sqlalchemy_url(url)[len("postgresql+asyncpg://") :]


def create_engine(url: str, *, pool_size: int = 20, application_name: str = "iep") -> AsyncEngine:
    return create_async_engine(
        sqlalchemy_url(url),
        # Names the role in pg_stat_activity, so an operator (or a fault test) can tell the connections apart.
        connect_args={"server_settings": {"application_name": application_name}},
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        # A connection killed by pg_terminate_backend or a server restart is replaced, not reused.
        pool_recycle=1800,
    )
