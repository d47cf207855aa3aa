"""Dashboard HTTP: sign-in and out, messages (find, show, preview, raw MIME, retry one or many). HTML only."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from iep.admin import auth, preview, web
from iep.admin.web import Action
from iep.kit.problems import NotFound, TooManyAuthAttempts
from iep.messages import operator
from iep.messages.admin_queries import Search
from iep.messages.status import Status
from iep.tenancy import repository as tenancy_repository

router = APIRouter(prefix="/admin", include_in_schema=False)
Operator = Annotated[auth.Session, Depends(web.current)]
Act = Annotated[Action, Depends(web.action)]
PAGE_SIZE = 50
_FILTERS = ("q", "tenant", "status", "from", "to")


@router.get("")
async def home() -> Response:
    return web.redirect("/admin/messages")


@router.get("/login")
async def login_page(request: Request) -> Response:
    token = web.new_login_token()
    response = web.page(request, "login.html", login_token=token, email="")
    web.set_cookie(response, web.LOGIN_COOKIE, token, 3600)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = await web.login_form(request)
    container = request.app.state.container
    try:
        token, _ = await auth.login(
            container.engine,
            form.get("email", ""),
            form.get("password", ""),
            client=web.client_of(request),
            now=container.clock.now(),
        )
    except auth.TooManyAttempts as exc:
        raise TooManyAuthAttempts(
            "too many failed sign-ins; wait and try again", headers={"Retry-After": str(exc.retry_after)}
        ) from None
    except auth.LoginRefused:
        fresh = web.new_login_token()
        response = web.page(
            request,
            "login.html",
            status=401,
            login_token=fresh,
            email=form.get("email", ""),
            flash="Wrong email or password.",
            flash_error=True,
        )
        web.set_cookie(response, web.LOGIN_COOKIE, fresh, 3600)
        return response
    done = web.redirect("/admin/messages")
    web.set_cookie(done, web.COOKIE, token, int(auth.SESSION_TTL.total_seconds()))
    done.delete_cookie(web.LOGIN_COOKIE, path="/admin")
    return done


@router.post("/logout")
async def logout(request: Request, act: Act) -> Response:
    container = request.app.state.container
    await auth.logout(container.engine, act.session, client=act.client, now=container.clock.now())
    response = web.redirect("/admin/login")
    response.delete_cookie(web.COOKIE, path="/admin", secure=True, httponly=True, samesite="strict")
    return response


def _day(value: str, *, end: bool = False) -> datetime | None:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def _search(values: dict[str, str], *, dead_lettered: bool = False) -> Search:
    status = values.get("status", "")
    return Search(
        tenant_slug=values.get("tenant") or None,
        status=status if status in {s.value for s in Status} else None,
        date_from=_day(values.get("from", "")),
        date_to=_day(values.get("to", ""), end=True),
        q=(values.get("q") or "")[:254] or None,
        dead_lettered=dead_lettered,
    )


def _filters(request: Request) -> dict[str, str]:
    return {k: request.query_params.get(k, "").replace("\x00", "") for k in _FILTERS}


def _query(values: dict[str, str], **extra: str) -> str:
    return urlencode({k: v for k, v in {**values, **extra}.items() if v})


async def _tenants(request: Request) -> list[dict[str, Any]]:
    async with request.app.state.container.engine.connect() as conn:
        return await tenancy_repository.list_tenants(conn)


@router.get("/messages")
async def messages(request: Request, session: Operator) -> Response:
    f = _filters(request)
    cursor = request.query_params.get("cursor") or None
    rows, next_cursor = await operator.search(
        request.app.state.container.engine, _search(f), limit=PAGE_SIZE, cursor=cursor
    )
    retried = request.query_params.get("retried")
    return web.page(
        request,
        "messages.html",
        flash=f"{retried} message(s) queued again." if retried else None,
        f=f,
        rows=rows,
        tenants=await _tenants(request),
        statuses=[s.value for s in Status],
        query=_query(f),
        next_url=f"/admin/messages?{_query(f, cursor=next_cursor)}" if next_cursor else None,
    )


def _described(values: dict[str, str]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in values.items() if v)


@router.get("/messages/retry")
async def bulk_retry_confirm(request: Request, session: Operator) -> Response:
    f = _filters(request)
    count = await operator.retryable(request.app.state.container.engine, _search(f))
    fields = {k: v for k, v in f.items() if v}
    return web.page(
        request,
        "retry_confirm.html",
        count=count,
        limit=operator.BULK_LIMIT,
        fields=fields,
        described=_described(f),
        query=_query(f),
    )


@router.post("/messages/retry")
async def bulk_retry(request: Request, act: Act) -> Response:
    container = request.app.state.container
    f = {k: act.get(k) for k in _FILTERS}
    moved = await operator.bulk_retry(container.engine, _search(f), container.clock)
    await auth.audit(
        container.engine,
        act.session,
        "messages_bulk_retry",
        _described(f) or "all",
        client=act.client,
        now=container.clock.now(),
        detail={"filter": {k: v for k, v in f.items() if v}, "retried": moved},
    )
    return web.redirect(f"/admin/messages?{_query(f)}&retried={moved}")


def _message_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound("no such message") from None


@router.get("/messages/{message_id}")
async def message(message_id: str, request: Request, session: Operator) -> Response:
    row = await operator.message(request.app.state.container.engine, _message_id(message_id))
    events = [
        {**e, "payload": json.dumps(e["payload"], indent=2, ensure_ascii=False, default=str) if e["payload"] else ""}
        for e in row["events"]
    ]
    metadata = json.dumps(row["metadata"], indent=2, ensure_ascii=False) if row["metadata"] else ""
    flash = "Queued again." if request.query_params.get("retried") else None
    return web.page(request, "message.html", m=row, events=events, metadata=metadata, flash=flash)


@router.get("/messages/{message_id}/preview")
async def message_preview(message_id: str, request: Request, session: Operator) -> Response:
    container = request.app.state.container
    row = await operator.message(container.engine, _message_id(message_id))
    shown = await preview.rendered(container.renderer, row)
    if shown.html:
        body = shown.html
    else:  # a text-only message: shown as text, escaped by the response type
        return web.harden(Response(shown.text or "", media_type="text/plain; charset=utf-8"), web.PREVIEW_CSP)
    response = web.harden(HTMLResponse(body), web.PREVIEW_CSP)
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@router.get("/messages/{message_id}/raw")
async def message_raw(message_id: str, request: Request, session: Operator) -> Response:
    container = request.app.state.container
    row = await operator.message(container.engine, _message_id(message_id))
    eml = await preview.raw_mime(container.renderer, row, container.settings.message_id_domain)
    response = Response(eml, media_type="message/rfc822")
    response.headers["Content-Disposition"] = f'attachment; filename="{row["id"]}.eml"'
    return web.harden(response, "default-src 'none'; sandbox")


@router.post("/messages/{message_id}/retry")
async def message_retry(message_id: str, request: Request, act: Act) -> Response:
    container = request.app.state.container
    mid = _message_id(message_id)
    await operator.retry(container.engine, mid, container.clock)
    await auth.audit(
        container.engine, act.session, "message_retry", str(mid), client=act.client, now=container.clock.now()
    )
    return web.redirect(f"/admin/messages/{mid}?retried=1")
