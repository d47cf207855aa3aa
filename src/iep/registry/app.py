"""The registry's HTTP face (role `registry`, REGISTRY_LISTEN): the uniqueness lookup the directory calls
(SPEC R2), health, readiness, metrics, and the dead-letter queue to inspect and requeue."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import iep
from iep.kit.clock import Clock
from iep.kit.problems import PROBLEM_BASE, PROBLEM_JSON
from iep.queue.port import Job, Queue
from iep.registry import repository


class Lookup(BaseModel):
    addresses: list[Annotated[str, Field(max_length=320)]] = Field(max_length=100)


def create_registry_app(engine: AsyncEngine, clock: Clock, metrics: CollectorRegistry, queue: Queue) -> FastAPI:
    app = FastAPI(title="IEP address registry", version=iep.__version__, docs_url=None, redoc_url=None)

    @app.post("/v1/lookup", summary="Which of these addresses the registry holds (for any user, deleted or not)")
    async def lookup(body: Lookup) -> dict[str, list[str]]:
        wanted = [a.lower() for a in body.addresses]
        async with engine.connect() as conn:
            return {"taken": await repository.taken(conn, wanted)}

    @app.get("/v1/dead-events", summary="Events in the dead-letter queue, with their reason")
    async def dead_events(
        limit: Annotated[int, Query(ge=1, le=500)] = 100, requeued: bool = False
    ) -> dict[str, list[dict[str, Any]]]:
        async with engine.connect() as conn:
            rows = await repository.dead(conn, limit=limit, waiting_only=not requeued)
        return {"data": [_dead_out(r) for r in rows]}

    @app.post("/v1/dead-events/{dead_id}/requeue", summary="Publish a dead event again (after a fix)")
    async def requeue(dead_id: int) -> JSONResponse:
        async with engine.begin() as conn:
            row = await repository.take_dead(conn, dead_id, clock.now())
            if row is None:
                return _problem(404, "not-found", "Not found", "no such dead event waiting")
            doc = row["document"]
            job = Job(
                message_id=_uuid(doc.get("eventId"), uuid.uuid4()),
                tenant_id=_uuid(doc.get("tenantId"), uuid.UUID(int=0)),
                payload=doc,
            )
            await queue.publish([job], connection=conn)  # committed with the mark, or neither
        return JSONResponse({"requeued": dead_id}, status_code=202)

    @app.get("/health", summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="Readiness: the database answers")
    async def ready() -> JSONResponse:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                held = await repository.counts(conn)
        except Exception as exc:
            return _problem(503, "not-ready", "Not ready", f"database: {type(exc).__name__}")
        return JSONResponse({"status": "ready", "checks": {"database": "ok"}, **held})

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics), media_type=CONTENT_TYPE_LATEST)

    return app


def _dead_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "eventId": row["event_id"],
        "correlationId": row["correlation_id"],
        "reason": row["reason"],
        "attempts": row["attempts"],
        "deadAt": row["dead_at"].isoformat(),
        "requeuedAt": row["requeued_at"].isoformat() if row["requeued_at"] else None,
        "document": row["document"],
    }


def _problem(status: int, kind: str, title: str, detail: str) -> JSONResponse:
    body = {"type": PROBLEM_BASE + kind, "title": title, "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _uuid(value: Any, fallback: uuid.UUID) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return fallback
