"""``rabt console``: serve the operator console; ``rabt console user|token``: manage access.

    rabt console --host 127.0.0.1 --port 8080
    rabt console user amal --role operator        # asks for the password
    rabt console token prometheus --role viewer   # prints the token once

Users and tokens go to the configured users file (``RABT_CONSOLE_USERS``) or
``$RABT_HOME/console-users.toml``,
hashed (see :mod:`hub.console.users`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import click

from hub.config import Settings
from hub.console.sessions import SESSIONS_FILE_NAME, SessionStore
from hub.console.users import ALL_ROLES, Users, new_token, users_path, write_users_file
from hub.errors import ConfigError
from hub.logs import configure_logging, log_format_option

_role_option = click.option("--role", type=click.Choice(ALL_ROLES), required=True, help="What the holder may do.")


@click.group("console", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64), help="waitress threads.")
@log_format_option
@click.pass_context
def console(ctx: click.Context, host: str, port: int, threads: int, log_format: str) -> None:
    """Serve the operator console, its JSON API, /metrics, /healthz and /readyz."""
    if ctx.invoked_subcommand is not None:
        return
    from hub.bootstrap import bootstrap, console_app

    settings: Settings = ctx.obj
    configure_logging("console", log_format)
    hub = bootstrap(settings)
    app = console_app(hub)
    if not app.extensions["rabt_console"].users.passwords and not app.extensions["rabt_console"].users.tokens:
        click.echo(f"rabt: warning: no console users in {users_path(settings.home, settings.console.users_file)}; "
                   "add one with `rabt console user NAME --role admin`", err=True)
    click.echo(f"rabt console on http://{host}:{port}/", err=True)
    try:
        serve(app, host, port, threads)
    finally:
        app.extensions["rabt_console"].console.broker.close()
        hub.close()


def serve(app, host: str, port: int, threads: int = 8) -> None:
    """Serve ``app`` as the supervised ``console`` role until SIGTERM or Ctrl-C."""
    from hub.serve import CONSOLE_LIMITS, Role, Supervisor, WsgiRole

    role = WsgiRole("console", app, host, port, threads=threads, limits=CONSOLE_LIMITS)
    supervisor = Supervisor()
    supervisor.install_signal_handlers()
    supervisor.start(Role("console", role.run))
    supervisor.wait()


def _load(path: Path) -> dict:
    Users.load(path)  # refuses a malformed file before we touch it
    return tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _write(path: Path, data: dict) -> None:
    write_users_file(path, data)  # created 0600, then renamed into place


@console.command("user")
@click.argument("name")
@_role_option
@click.password_option(help="The user's password (asked for when not given).")
@click.pass_obj
def user(settings: Settings, name: str, role: str, password: str) -> None:
    """Add or change a password user."""
    from werkzeug.security import generate_password_hash

    if not name.strip() or ":" in name:
        raise ConfigError("a user name must be non-empty and contain no ':'")
    if len(password) < 12:
        raise ConfigError("a console password needs at least 12 characters")
    path = users_path(settings.home, settings.console.users_file)
    data = _load(path)
    data.setdefault("users", {})[name] = {"role": role, "password": generate_password_hash(password)}
    _write(path, data)
    # a new password or role ends the user's console sessions in every console process
    ended = SessionStore(settings.home / SESSIONS_FILE_NAME).end_user(name)
    click.echo(f"user {name} ({role}) saved in {path}; {ended} session(s) ended")


@console.command("token")
@click.argument("name")
@_role_option
@click.pass_obj
def token(settings: Settings, name: str, role: str) -> None:
    """Create an API token (printed once; only its hash is kept)."""
    path = users_path(settings.home, settings.console.users_file)
    data = _load(path)
    secret, digest = new_token()
    data.setdefault("tokens", {})[name] = {"role": role, "sha256": digest}
    _write(path, data)
    click.echo(secret)
    click.echo(f"token {name} ({role}) saved in {path}; send it as 'Authorization: Bearer <token>'", err=True)
