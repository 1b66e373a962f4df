"""``rabt config show``: the effective settings, every secret masked.

What the operator sees is what the hub would run with: rabt.toml merged with
the environment, the broker and database URLs with their defaults filled in.
Fields marked secret in :mod:`hub.config` are replaced by ``********``, and so
is the password in any URL (``amqp://rabt:********@mq/``) or a query
parameter that looks like a credential, wherever in the tree it appears.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import click

from hub.config import Settings
from hub.redact import redact_url

MASK = "********"


def masked_tree(settings: Any) -> dict[str, Any]:
    """A settings dataclass as plain data, secrets masked."""
    tree = {}
    for spec in dataclasses.fields(settings):
        value = getattr(settings, spec.name)
        if spec.metadata.get("secret"):
            tree[spec.name] = MASK if value else ""
        else:
            tree[spec.name] = _plain(value)
    return tree


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return masked_tree(value)
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str):
        return redact_url(value, MASK)
    return "" if value is None else value


def effective(settings: Settings) -> dict[str, Any]:
    """The tree ``config show`` prints: URLs as the hub would use them, users file resolved."""
    resolved = dataclasses.replace(
        settings, broker_url=settings.effective_broker_url, database_url=settings.effective_database_url,
        console=dataclasses.replace(settings.console, users_file=settings.console_users_file))
    return masked_tree(resolved)


def as_toml(tree: dict[str, Any], prefix: str = "") -> list[str]:
    """TOML lines for ``tree``: scalars first, then one ``[table]`` per nested mapping."""
    lines = [f"{_key(k)} = {json.dumps(v, ensure_ascii=False)}" for k, v in tree.items() if not isinstance(v, dict)]
    for key, value in tree.items():
        if isinstance(value, dict):
            name = f"{prefix}{_key(key)}"
            lines += ["", f"[{name}]", *as_toml(value, f"{name}.")]
    return lines


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


@click.group()
def config() -> None:
    """Settings: rabt.toml (``RABT_CONFIG`` or ./rabt.toml) with the environment overriding it."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of TOML.")
@click.pass_obj
def show(settings: Settings, as_json: bool) -> None:
    """Print the effective settings, every secret masked."""
    tree = effective(settings)
    if as_json:
        click.echo(json.dumps(tree, indent=2, ensure_ascii=False))
        return
    source = settings.config_file or "no rabt.toml"
    click.echo(f"# effective settings: {source}, overridden by RABT_* environment variables")
    click.echo("\n".join(as_toml(tree)))
