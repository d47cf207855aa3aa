"""`iep admins create --email E --password-stdin` (S10): the dashboard's operator accounts, from the shell."""

from __future__ import annotations

import sys

import click
from sqlalchemy.ext.asyncio import AsyncConnection


@click.group()
def admins() -> None:
    """Operators who sign in to the dashboard at /admin."""


@admins.command("create")
@click.option("--email", required=True, help="the operator's sign-in address")
@click.option(
    "--password-stdin", "password_stdin", is_flag=True, required=True, help="read the password from standard input"
)
def admins_create(email: str, password_stdin: bool) -> None:
    """Create an operator, or set a new password for an existing one (Argon2id); the password never on argv."""
    from iep.admin import auth
    from iep.entrypoints.cli import _print, _run, _with_db
    from iep.kit.clock import SystemClock

    del password_stdin  # required: a password on the command line would sit in the shell history and `ps`
    password = sys.stdin.readline().rstrip("\r\n")

    async def go(conn: AsyncConnection) -> str:
        return await auth.create_operator(conn, email, password, SystemClock().now())

    try:
        outcome = _run(_with_db(go))
    except auth.OperatorError as exc:
        raise click.ClickException(str(exc)) from None
    _print({"email": auth.normalize_email(email), "status": outcome})
