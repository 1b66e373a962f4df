"""Where each setting is looked up: the environment first, then rabt.toml.

:mod:`hub.config` says *which* settings exist; this module only knows how to
read one value — a text, a number, a path, a secret given inline or by file
reference — and to name the variable or key when a value is wrong.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from hub.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class ConfigSource:
    """The environment over one parsed rabt.toml."""

    env: Mapping[str, str]
    """Environment variables; a non-empty one wins over the file."""

    file: Mapping[str, Any]
    """The parsed rabt.toml, empty when there is none."""

    path_of_file: Path | None = None
    """Where ``file`` was read from, for error messages and ``rabt config show``."""

    def raw(self, variable: str, key: str, section: str | None = None) -> Any:
        """The environment's value, else the file's (``[section] key``), else None."""
        if self.env.get(variable):
            return self.env[variable]
        return self.table(section).get(key) if section else self.file.get(key)

    def text(self, variable: str, key: str, section: str | None = None) -> str:
        """A text setting; empty when given nowhere."""
        value = self.raw(variable, key, section)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{self._where(key, section)} must be a string")
        return value or ""

    def path(self, variable: str, key: str, section: str | None = None) -> Path | None:
        """A file or folder setting; None when given nowhere."""
        value = self.text(variable, key, section)
        return Path(value).expanduser() if value else None

    def number(self, variable: str, key: str, kind: type[T], default: T, section: str | None = None) -> T:
        """An int or float setting; ConfigError naming where the bad value came from."""
        value = self.raw(variable, key, section)
        if value is None or value == "":
            return default
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ConfigError(f"{self._where(key, section, variable)} must be a number")
        try:
            return kind(value)
        except ValueError as exc:
            raise ConfigError(f"{self._where(key, section, variable)} must be {kind.__name__}: {exc}") from exc

    def secret(self, variable: str, key: str, section: str | None = None) -> str:
        """A secret, given inline or by reference (``<VARIABLE>_FILE`` or ``<key>_file``); the file's
        content, trailing newline removed. The value never appears in an error."""
        if self.env.get(variable):
            return self.env[variable]
        reference = self.env.get(f"{variable}_FILE")
        if not reference:
            inline = self.text("", key, section)
            if inline:
                return inline
            reference = self.text("", f"{key}_file", section)
        return _read_secret(Path(reference).expanduser()) if reference else ""

    def group(self, cls: type[T], section: str, prefix: str, *, skip: tuple[str, ...] = (),
              env_names: Mapping[str, str] | None = None) -> T:
        """A settings dataclass whose every number field is ``[section] field`` or ``<prefix><FIELD>``."""
        env_names = env_names or {}
        values = {}
        for spec in dataclasses.fields(cls):
            if spec.name in skip:
                continue
            variable = env_names.get(spec.name, prefix + spec.name.upper())
            if isinstance(spec.default, str):
                values[spec.name] = self.text(variable, spec.name, section) or spec.default
            else:
                values[spec.name] = self.number(variable, spec.name, type(spec.default), spec.default, section)
        return cls(**values)

    def table(self, *keys: str | None) -> Mapping[str, Any]:
        """The file's table at ``[keys…]``; empty if absent, ConfigError if not a table."""
        table: Any = self.file
        for key in keys:
            table = table.get(key, {}) if key else table
            if not isinstance(table, Mapping):
                raise ConfigError(f"{self._file()}: [{'.'.join(k for k in keys if k)}] must be a table")
        return table

    def _where(self, key: str, section: str | None, variable: str = "") -> str:
        if variable and self.env.get(variable):
            return variable
        return f"{self._file()}: {section + '.' if section else ''}{key}"

    def _file(self) -> str:
        return str(self.path_of_file or "rabt.toml")


def read_source(env: Mapping[str, str], path: Path | None, *, required: bool) -> ConfigSource:
    """The environment over the TOML file at ``path`` (none: the environment alone)."""
    if path is None:
        return ConfigSource(env, {})
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        if required:
            raise ConfigError(f"RABT_CONFIG names {path}, which does not exist") from exc
        return ConfigSource(env, {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read settings file {path}: {exc}") from exc
    return ConfigSource(env, data, path)


def _read_secret(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        # The reason names the file and the OS error, never any of its content.
        raise ConfigError(f"cannot read secret file {path}: {exc.__class__.__name__}") from exc
