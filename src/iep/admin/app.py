"""Mount the dashboard on the API app: its routes, its static files, and HTML answers for its errors."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from iep.admin import endpoints, endpoints_ops, endpoints_status, web

_STATIC = Path(__file__).resolve().parent / "static"
# Every dashboard route; tests walk these to prove each state change is CSRF-checked.
ROUTERS = (endpoints.router, endpoints_ops.router, endpoints_status.router)


class _HardenedStatic:
    """The vendored script and the stylesheet, with the same headers as every page (nosniff, CSP)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))  # type: ignore[call-overload]
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"content-security-policy", b"default-src 'none'"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)  # type: ignore[arg-type]


def install(app: FastAPI) -> None:
    app.state.admin_templates = web.environment()
    app.mount("/admin/static", _HardenedStatic(StaticFiles(directory=_STATIC)), name="admin-static")
    for router in ROUTERS:
        app.include_router(router)

    @app.exception_handler(web.LoginRequired)
    async def _login(request: Request, exc: web.LoginRequired) -> Response:
        return web.redirect("/admin/login")
