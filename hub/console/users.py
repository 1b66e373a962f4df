"""Who may use the console: users (HTTP basic / login form) and API tokens, with roles.

The operator keeps them in a TOML file, ``$RABT_CONSOLE_USERS`` or else
``$RABT_HOME/console-users.toml``; secrets are stored hashed only::

    [users.amal]
    role = "operator"                 # viewer | operator | admin | ledger
    password = "scrypt:32768:8:1$…"   # werkzeug.security.generate_password_hash

    [tokens.prometheus]
    role = "viewer"
    sha256 = "9f86d0…"                # hex SHA-256 of the token

    [tokens.citizen-portal]
    role = "ledger"                   # the disclosure ledger API, and nothing else

Tokens are random 32-byte strings (``rabt console token``), so a plain
SHA-256 is enough for them; passwords are chosen by people and get werkzeug's
salted, slow hash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from hub.errors import ConfigError
from hub.private_files import write_private

#: roles from least to most powerful; each includes what the ones before it may do
ROLES = ("viewer", "operator", "admin")
#: roles outside that order, each for one purpose: ``ledger`` (a citizen portal's token) may read
#: workers' disclosure ledgers and nothing else. Which ordered roles share each one's right:
#: operators and admins answer workers' requests; a viewer watches the hub's health, and a
#: person's whole disclosure history compiled in one report is more than that job needs.
SEPARATE_ROLES = {"ledger": ("operator", "admin")}
#: every role a user or token may have
ALL_ROLES = (*ROLES, *SEPARATE_ROLES)
USERS_FILE_NAME = "console-users.toml"
#: hash checked for unknown users, so a wrong name costs as long as a wrong password
_DUMMY_HASH = generate_password_hash("not-a-user")


def role_allows(role: str, needed: str) -> bool:
    """True when ``role`` is ``needed`` or more powerful; a separate role allows only itself."""
    if needed in SEPARATE_ROLES:
        return role == needed or role in SEPARATE_ROLES[needed]
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def token_digest(token: str) -> str:
    """The stored form of an API token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh API token and its stored digest."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: name, role, and how they proved it."""

    name: str
    role: str
    method: str
    """``bearer``, ``basic`` or ``session``."""

    def may(self, needed: str) -> bool:
        return role_allows(self.role, needed)


@dataclass(frozen=True)
class Users:
    """Password users and API tokens, each with a role."""

    passwords: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """name → (werkzeug password hash, role)"""

    tokens: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """sha256 hex of token → (token name, role)"""

    def current(self) -> Users:
        """These users (a fixed set is always current; see :class:`~hub.console.users_watch.WatchedUsers`)."""
        return self

    @classmethod
    def load(cls, path: Path) -> Users:
        """Read ``path``; a missing file means nobody may log in (ConfigError if malformed)."""
        if not path.is_file():
            return cls()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read console users {path}: {exc}") from exc
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: Mapping, where: str = "console users") -> Users:
        """Build from the parsed TOML shape (see the module docstring)."""
        passwords = {name: (_field(entry, "password", where, name), _role(entry, where, name))
                     for name, entry in _table(data, "users", where).items()}
        tokens = {}
        for name, entry in _table(data, "tokens", where).items():
            digest = _field(entry, "sha256", where, name).lower()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ConfigError(f"{where}: tokens.{name}.sha256 must be 64 hex digits")
            tokens[digest] = (name, _role(entry, where, name))
        return cls(passwords, tokens)

    def check_password(self, name: str, password: str) -> Principal | None:
        """The user if ``password`` is theirs, else None (constant work for unknown names)."""
        stored = self.passwords.get(name)
        ok = check_password_hash(stored[0] if stored else _DUMMY_HASH, password)
        return Principal(name, stored[1], "basic") if ok and stored else None

    def check_token(self, token: str) -> Principal | None:
        """The token's principal, or None."""
        digest = token_digest(token)
        for known, (name, role) in self.tokens.items():
            if hmac.compare_digest(known, digest):
                return Principal(name, role, "bearer")
        return None


def users_path(home: Path, configured: Path | None = None) -> Path:
    """Where the users file is: the configured one (``settings.console.users_file``) or
    ``<home>/console-users.toml``."""
    return Path(configured) if configured else home / USERS_FILE_NAME


def write_users_file(path: Path, data: Mapping) -> None:
    """Save ``data`` (the TOML shape of the module docstring) to ``path``.

    The file holds password hashes, so it is created with mode 0600 and renamed
    into place (:func:`hub.private_files.write_private`), never chmod-ed later.
    """
    lines = ["# Rabt console users and API tokens (hashed). Edit with `rabt console user|token`.", ""]
    for table in ("users", "tokens"):
        for name, entry in sorted(data.get(table, {}).items()):
            # JSON strings are valid TOML basic strings, so names in any script are quoted safely
            lines.append(f"[{table}.{json.dumps(name, ensure_ascii=False)}]")
            lines += [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in entry.items()]
            lines.append("")
    write_private(path, "\n".join(lines).encode("utf-8"))


def _table(data: Mapping, key: str, where: str) -> Mapping:
    table = data.get(key, {})
    if not isinstance(table, Mapping) or not all(isinstance(v, Mapping) for v in table.values()):
        raise ConfigError(f"{where}: [{key}.NAME] entries must be tables")
    return table


def _field(entry: Mapping, key: str, where: str, name: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: {name} needs a non-empty {key}")
    return value


def _role(entry: Mapping, where: str, name: str) -> str:
    role = entry.get("role")
    if role not in ALL_ROLES:
        raise ConfigError(f"{where}: {name} has role {role!r}; expected one of {', '.join(ALL_ROLES)}")
    return role
