"""`make dev`: a demo tenant and key, and a banner that says how to send the first email."""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

from iep.bootstrap import Container
from iep.config import Settings
from iep.kit.crypto import KeyRing
from iep.sending_domains import repository as sending_domains
from iep.tenancy import repository as tenancy_repo
from iep.tenancy import service as tenancy

DEMO_SLUG = "demo"
DEMO_DOMAIN = "demo.example"
DEMO_OPERATOR = "admin@demo.example"
# The example templates of a source checkout: what `make dev` serves when TEMPLATES_SOURCE_DIR has none.
EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "templates"


def dev_templates_dir(settings: Settings) -> Path:
    if settings.templates_source_dir.is_dir() or not EXAMPLES.is_dir():
        return settings.templates_source_dir
    return EXAMPLES


def dev_encryption_key(settings: Settings) -> str:
    """A key ring for `make dev` when IEP_ENCRYPTION_KEY is unset, made once and kept in the state folder."""
    path = settings.state_dir / "encryption-key"
    if path.exists():
        return path.read_text().strip()
    ring = f"dev1:{KeyRing.generate_key()}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ring + "\n")
    path.chmod(0o600)
    return ring


async def demo_key(container: Container, settings: Settings) -> str:
    """The demo tenant's key, created once and kept in the state folder so every `make dev` prints it."""
    key_file = settings.state_dir / "demo-key"
    async with container.engine.begin() as conn:
        tenant = await tenancy_repo.tenant_by_slug(conn, DEMO_SLUG)
        if tenant is None:
            tenant = await tenancy.create_tenant(conn, name="Demo", slug=DEMO_SLUG)
        # Listed, not verified: dev accepts any listed domain (SENDER_DOMAINS_REQUIRE_VERIFIED defaults to false
        # there), and `iep domains verify` shows what production would need.
        await sending_domains.ensure_domain(conn, tenant["id"], DEMO_DOMAIN)
        if key_file.exists():
            key = key_file.read_text().strip()
            row = await tenancy_repo.key_for_auth(conn, key.split("_")[1]) if key.count("_") >= 2 else None
            if row is not None and row["active"]:
                return key
        _, key = await tenancy.create_key(conn, tenant_slug=DEMO_SLUG, scopes=["send", "read", "admin"], name="demo")
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    return key


async def demo_operator(container: Container, settings: Settings) -> str:
    """The demo operator's password for the dashboard: made once, kept in the state folder, set at each start."""
    from iep.admin import auth

    path = settings.state_dir / "demo-operator-password"
    if path.exists():
        password = path.read_text().strip()
    else:
        password = secrets.token_urlsafe(12)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(password + "\n")
        path.chmod(0o600)
    async with container.engine.begin() as conn:
        await auth.create_operator(conn, DEMO_OPERATOR, password, container.clock.now())
    return password


async def announce(container: Container, settings: Settings, *, smtp_listen: str | None = None) -> None:
    key = await demo_key(container, settings)
    password = await demo_operator(container, settings)
    base = f"http://{settings.host}:{settings.port}"
    # The session cookie is Secure: browsers keep it over plain http only for `localhost`.
    loopback = settings.host in ("127.0.0.1", "::1", "localhost")
    dashboard = f"http://localhost:{settings.port}/admin" if loopback else f"{base}/admin"
    body = json.dumps(
        {
            "to": ["ada@example.com"],
            "from": {"email": f"hello@{DEMO_DOMAIN}", "name": "Demo"},
            "subject": "Hello {{name}}",
            "htmlBody": "<h1>Hello {{name}}</h1><p>Your first IEP email.</p>",
            "variables": {"name": "Ada"},
        }
    )
    with_template = json.dumps(
        {
            "to": ["ada@example.com"],
            "from": {"email": f"hello@{DEMO_DOMAIN}", "name": "Demo"},
            "template": "react/welcome",
            "templateData": {"name": "Ada", "product": "Demo", "loginUrl": "https://demo.example/login"},
        }
    )
    mailbox = f"bounces+<messageId>@{settings.bounce_domain or 'localhost'}"
    smtp_line = (
        [
            f"  Bounces    smtp://{smtp_listen}   (DSNs and ARF reports to {mailbox})",
            f"  Submit     smtp://{smtp_listen}   (AUTH PLAIN or LOGIN: any user, the demo key as the password)",
        ]
        if smtp_listen
        else []
    )
    lines = [
        "",
        "IEP is running (role dev: API + worker + relay + smtp + registry, embedded PostgreSQL, dev inbox)",
        f"  API        {base}/v1/messages   (OpenAPI: {base}/docs)",
        f"  Dashboard  {dashboard}   (sign in: {DEMO_OPERATOR} / {password}; more: iep admins create)",
        f"  Demo key   {key}",
        f"  Dev inbox  {settings.state_dir / 'inbox'}   (list it: .venv/bin/iep messages inbox)",
        f"  Users      {base}/v1/users   (address registry: http://{settings.registry_listen}, docs/directory.md)",
        *smtp_line,
        "",
        "Send an email:",
        f"  curl -sS {base}/v1/messages -H 'Authorization: Bearer {key}' \\",
        f"    -H 'Content-Type: application/json' -d '{body}'",
        "",
        f"Or with a template from {settings.templates_source_dir}",
        f"  (list them: TEMPLATES_SOURCE_DIR={settings.templates_source_dir} .venv/bin/iep templates list):",
        f"  curl -sS {base}/v1/messages -H 'Authorization: Bearer {key}' \\",
        f"    -H 'Content-Type: application/json' -d '{with_template}'",
        "",
        "Feedback: send to delivered@, bounced@ or complained@simulator.iep.dev and watch the status move,",
        "  the address get suppressed and your webhooks fire (docs/feedback.md).",
        "",
        "Then: .venv/bin/iep messages list   (Ctrl-C stops IEP)",
        "",
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)
