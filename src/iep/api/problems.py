"""Every error the API returns is application/problem+json (D10)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from iep.kit.problems import PROBLEM_BASE, PROBLEM_JSON, Problem

log = structlog.get_logger("iep.api")


def problem_response(problem: Problem, request: Request) -> JSONResponse:
    return JSONResponse(
        problem.body(instance=request.url.path),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


# Every error answer, as the OpenAPI document describes it (D10).
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
# Every `/v1` operation authenticates, so each can answer these whatever its own list says.
_AUTH_ANSWERS = {
    "401": "Missing or invalid API key",
    "403": "Scope missing or tenant suspended",
    "429": "Too many API key verifications for this key prefix or client address (Retry-After)",
}


def document_problems(doc: dict[str, Any]) -> dict[str, Any]:
    """Describe every 4xx/5xx answer as what it is, application/problem+json (FastAPI's own 422 says JSON)."""
    doc.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in doc.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            answers = operation["responses"]
            if path.startswith("/v1/"):
                for code, text in _AUTH_ANSWERS.items():
                    answers.setdefault(code, {"description": text})
            for code, answer in answers.items():
                # The Resend-compatible facade answers errors in Resend's JSON shape, as its SDKs require.
                if code[:1] in ("4", "5") and not path.startswith("/emails"):
                    answer["content"] = dict(problem)
    return doc


class RefuseNul:
    """No NUL in a path or query parameter reaches a handler: PostgreSQL refuses it in text (a 500 otherwise), and
    no name, address or id IEP stores holds one. Answered 422 before routing, for every endpoint at once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            where = _nul_in(scope)
            if where is not None and scope.get("path", "").startswith("/emails"):
                # The Resend-compatible facade's own error shape (its SDKs read nothing else).
                body = {"statusCode": 422, "name": "validation_error", "message": f"`{where[1]}` must not contain NUL"}
                await JSONResponse(body, status_code=422)(scope, receive, send)
                return
            if where is not None:
                body = {
                    "type": PROBLEM_BASE + "validation",
                    "title": "The request has invalid fields",
                    "status": 422,
                    "detail": "1 invalid field(s)",
                    "instance": scope.get("path", ""),
                    "errors": [{"field": where[1], "in": where[0], "code": "nul", "message": "must not contain NUL"}],
                }
                await JSONResponse(body, status_code=422, media_type=PROBLEM_JSON)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _nul_in(scope: Scope) -> tuple[str, str] | None:
    if "\x00" in scope.get("path", ""):
        return "path", ""
    query = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                return "query", name.replace("\x00", "")
    return None


def hoist_local_defs(doc: dict[str, Any]) -> dict[str, Any]:
    """Request schemas given through `openapi_extra` carry pydantic's `$defs` and `#/$defs/X` references, which
    resolve against the document's root, where nothing is: move them to `components.schemas` and point there."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    stack: list[Any] = [doc.get("paths", {})]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for name, schema in (node.pop("$defs", None) or {}).items():
                schemas.setdefault(name, schema)
                stack.append(schema)
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                node["$ref"] = "#/components/schemas/" + ref.removeprefix("#/$defs/")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return doc


def name_request_bodies(doc: dict[str, Any]) -> dict[str, Any]:
    """A request body schema given inline with a title (`SendRequest`, `BatchRequest`, ...) becomes a named
    component, so generated clients call its type by that name."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {}) if isinstance(operation, dict) else {}
            body = content.get("application/json")
            if not isinstance(body, dict) or not isinstance(body.get("schema"), dict):
                continue
            schema: dict[str, Any] = body["schema"]
            title = schema.get("title")
            if not isinstance(title, str) or "properties" not in schema:
                continue
            if schemas.setdefault(title, schema) == schema:
                body["schema"] = {"$ref": f"#/components/schemas/{title}"}
    return doc


def install(app: FastAPI) -> None:
    app.add_middleware(RefuseNul)
    fastapi_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(name_request_bodies(hoist_local_defs(fastapi_openapi())))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]),
                "in": str(e["loc"][0]),
                "code": e["type"],
                "message": e["msg"],
            }
            for e in exc.errors()
        ]
        body = {
            "type": PROBLEM_BASE + "validation",
            "title": "The request has invalid fields",
            "status": 422,
            "detail": f"{len(errors)} invalid field(s)",
            "instance": request.url.path,
            "errors": errors,
        }
        return JSONResponse(body, status_code=422, media_type=PROBLEM_JSON)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kinds = {404: "not-found", 405: "method-not-allowed"}
        body = {
            "type": PROBLEM_BASE + kinds.get(exc.status_code, f"http-{exc.status_code}"),
            "title": str(exc.detail),
            "status": exc.status_code,
            "instance": request.url.path,
        }
        return JSONResponse(body, status_code=exc.status_code, media_type=PROBLEM_JSON, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path)
        body = {
            "type": PROBLEM_BASE + "internal",
            "title": "Internal error",
            "status": 500,
            "instance": request.url.path,
        }
        return JSONResponse(body, status_code=500, media_type=PROBLEM_JSON)
