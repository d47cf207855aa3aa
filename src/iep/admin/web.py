"""What every dashboard page shares: templates, security headers, the session cookie, forms and CSRF checks."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from iep.admin import auth
from iep.kit.problems import Forbidden, PayloadTooLarge

COOKIE = "iep_admin"
# Before sign-in there is no session to hold a CSRF token: the login form's token is a double-submit cookie.
LOGIN_COOKIE = "iep_admin_login"
MAX_FORM_BYTES = 64 * 1024

# Every page: scripts and styles from this origin only (no inline script or style), frames only our own preview.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# The tenant's HTML: no script, no origin of its own (sandbox), only inline styles and remote or inline images.
PREVIEW_CSP = "sandbox; default-src 'none'; img-src data: https:; style-src 'unsafe-inline'"

_HERE = Path(__file__).resolve().parent


class LoginRequired(Exception):
    """No live session: the page answers with a redirect to the sign-in form."""


@dataclass(frozen=True, slots=True)
class Action:
    """A state change that passed the CSRF checks: who asks, and the form they sent."""

    session: auth.Session
    form: dict[str, str]
    client: str

    def get(self, name: str, default: str = "") -> str:
        return self.form.get(name, default).strip()


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,  # every tenant value is escaped; nothing in the templates is marked safe
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    return env


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def harden(response: Response, csp: str = PAGE_CSP) -> Response:
    response.headers["Content-Security-Policy"] = csp
    response.headers["X-Content-Type-Options"] = "nosniff"
    # same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` with our own form posts.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    env: jinja2.Environment = request.app.state.admin_templates
    session: auth.Session | None = getattr(request.state, "admin_session", None)
    context.setdefault("flash", None)
    context.setdefault("flash_error", False)
    html = env.get_template(template).render(
        request=request,
        operator=session.email if session else None,
        csrf=session.csrf_token if session else "",
        dev=request.app.state.container.settings.service_role.value == "dev",
        **context,
    )
    return harden(HTMLResponse(html, status_code=status))


def redirect(url: str) -> Response:
    return harden(RedirectResponse(url, status_code=303))


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def current(request: Request) -> auth.Session:
    """The signed-in operator, or a redirect to the sign-in form (a dependency of every page)."""
    container = request.app.state.container
    session = await auth.session_of(container.engine, request.cookies.get(COOKIE), container.clock.now())
    if session is None:
        raise LoginRequired()
    request.state.admin_session = session
    return session


def _same_origin(request: Request) -> bool:
    """The browser's own word on where the request comes from: Origin when sent, else Sec-Fetch-Site."""
    origin = request.headers.get("origin")
    if origin is not None:
        return origin != "null" and urlsplit(origin).netloc == request.headers.get("host")
    return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


async def read_form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise PayloadTooLarge(f"a dashboard form is at most {MAX_FORM_BYTES} bytes")
    try:
        text = body.decode()
    except UnicodeDecodeError:
        text = ""
    # The last value wins; no value holds a NUL (PostgreSQL refuses it and no stored name has one).
    return {k: v[-1].replace("\x00", "") for k, v in parse_qs(text, keep_blank_values=True).items()}


async def action(request: Request) -> Action:
    """Every state change: a live session, a same-origin request and the session's CSRF token, else refused."""
    session = await current(request)
    if not _same_origin(request):
        raise Forbidden("cross-origin request refused")
    form = await read_form(request)
    sent = form.get("csrf") or request.headers.get("x-csrf-token") or ""
    if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
        raise Forbidden("missing or wrong CSRF token")
    return Action(session, form, client_of(request))


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


async def login_form(request: Request) -> dict[str, str]:
    """The sign-in form's own CSRF check (login CSRF): same origin and the double-submit token."""
    if not _same_origin(request):
        raise Forbidden("cross-origin request refused")
    form = await read_form(request)
    cookie = request.cookies.get(LOGIN_COOKIE) or ""
    if not cookie or not hmac.compare_digest(form.get("csrf", "").encode(), cookie.encode()):
        raise Forbidden("missing or wrong CSRF token")
    return form


def set_cookie(response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/admin", secure=True, httponly=True, samesite="strict")
