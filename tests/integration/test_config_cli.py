"""``rabt config show`` and ``rabt --version`` as an operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

SECRETS = ("hunter2", "pw-db", "console-key", "mgmt-pw")


def rabt(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RABT_")}
    return subprocess.run([sys.executable, "-m", "hub", *args], cwd=cwd, env={**clean, **env},
                          capture_output=True, text=True, timeout=60)


def test_config_show_prints_the_effective_tree_with_every_secret_masked(tmp_path):
    (tmp_path / "console.key").write_text("console-key\n", encoding="utf-8")
    (tmp_path / "rabt.toml").write_text(
        'home = "state"\n[gateway]\nprocesses = 3\n[console]\nsecret_key_file = "console.key"\n'
        'management_url = "http://admin:mgmt-pw@127.0.0.1:15672/"\n', encoding="utf-8")
    result = rabt(tmp_path, "config", "show", RABT_BROKER_URL="amqp://rabt:hunter2@mq:5672/%2F",
                  RABT_DATABASE_URL="postgresql://rabt@db/rabt?password=pw-db&sslmode=require")
    assert result.returncode == 0, result.stderr
    assert not any(secret in result.stdout + result.stderr for secret in SECRETS)
    assert 'broker_url = "amqp://rabt:********@mq:5672/%2F"' in result.stdout
    assert "password=********&sslmode=require" in result.stdout
    assert 'secret_key = "********"' in result.stdout and "admin:********@127.0.0.1:15672" in result.stdout
    assert "[gateway]" in result.stdout and "processes = 3" in result.stdout and 'home = "state"' in result.stdout


def test_config_show_json_fills_in_the_defaults(tmp_path):
    result = rabt(tmp_path, "config", "show", "--json", RABT_HOME=str(tmp_path / "h"))
    assert result.returncode == 0, result.stderr
    tree = json.loads(result.stdout)
    assert tree["database_url"] == f"sqlite:///{tmp_path / 'h' / 'messages.sqlite3'}"
    assert tree["console"]["users_file"] == str(tmp_path / "h" / "console-users.toml")
    assert tree["console"]["secret_key"] == "" and tree["gateway"]["port"] == 8000


def test_a_broken_settings_file_is_one_line_naming_it(tmp_path):
    (tmp_path / "rabt.toml").write_text("[gateway]\nport = \"eighty\"\n", encoding="utf-8")
    result = rabt(tmp_path, "config", "show")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"rabt: {tmp_path / 'rabt.toml'}: gateway.port must be int: "
                                                  "invalid literal for int() with base 10: 'eighty'"]


def test_version_is_the_installed_distributions(tmp_path):
    result = rabt(tmp_path, "--version")
    assert result.returncode == 0 and result.stdout.strip() == f"rabt, version {version('rabt')}"
