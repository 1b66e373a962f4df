"""The shipped deployment files agree with systemd, with ``rabt serve`` and with each other.

systemd's own checker (``systemd-analyze verify``) reads every unit; a unit's
command line is parsed by ``rabt serve``'s real option parser, so a renamed
option cannot leave a unit that fails at boot.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from hub.cli.serve import serve
from hub.serve import ROLES
from tests.integration.nginx_proxy import render_template

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = DEPLOY / "systemd"
INSTALLED_RABT = "/opt/rabt/bin/rabt"
HARDENING = {"User": "rabt", "Group": "rabt", "Restart": "on-failure", "ProtectSystem": "strict",
             "ReadWritePaths": "/var/lib/rabt", "Environment": "RABT_HOME=/var/lib/rabt",
             "EnvironmentFile": "/etc/rabt/rabt.env", "StateDirectory": "rabt", "NoNewPrivileges": "yes",
             "PrivateTmp": "yes", "ProtectHome": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": ""}


def unit_settings(path: Path) -> dict[str, dict[str, list[str]]]:
    """section → key → every value given (systemd keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, separator, value = line.partition("=")
        assert current is not None and separator, f"{path.name}: not a unit line: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.mark.parametrize("role", ROLES)
def test_each_role_has_a_hardened_unit_running_that_role(role):
    service = unit_settings(UNITS / f"rabt-{role}.service")["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == [value], f"rabt-{role}.service: {key}={service.get(key)}"
    [command] = service["ExecStart"]
    program, *arguments = shlex.split(command)
    assert program == INSTALLED_RABT and arguments[:1] == ["serve"]
    context = serve.make_context("serve", arguments[1:])  # the real parser: an unknown option raises here
    assert context.params["roles"] == (role,)


def test_every_unit_belongs_to_the_target_and_nothing_else_is_shipped():
    names = {path.name for path in UNITS.glob("*.service")}
    assert names == {f"rabt-{role}.service" for role in ROLES}
    for name in names:
        assert unit_settings(UNITS / name)["Install"]["WantedBy"] == ["rabt.target"]
        assert unit_settings(UNITS / name)["Unit"]["PartOf"] == ["rabt.target"]


def test_systemd_analyze_verify_accepts_every_unit_without_a_warning(tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is not installed (apt-get install -y systemd)"
    rabt = Path(sys.executable).with_name("rabt")  # verify checks that ExecStart's program exists
    assert rabt.exists(), f"{rabt}: install the package (pip install -e .)"
    for unit in UNITS.iterdir():
        (tmp_path / unit.name).write_text(unit.read_text(encoding="utf-8").replace(INSTALLED_RABT, str(rabt)))
    units = sorted(str(p) for p in tmp_path.glob("rabt*.service")) + [str(tmp_path / "rabt.target")]
    result = subprocess.run([analyze, "verify", *units], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr


def test_systemd_analyze_flags_a_broken_unit(tmp_path):
    """The check above can fail: a misspelt key is reported, so silence means something."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is not installed (apt-get install -y systemd)"
    unit = tmp_path / "rabt-gateway.service"
    text = (UNITS / unit.name).read_text(encoding="utf-8").replace(INSTALLED_RABT, sys.executable)
    unit.write_text(text.replace("ProtectSystem=strict", "ProtectSystem=stricter"))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert "protect system" in (result.stdout + result.stderr).lower()


def env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#"))
    return {key: value for key, value in pairs}


def test_the_example_nginx_values_fill_every_placeholder():
    values = env_file(DEPLOY / "nginx" / "nginx.env.example")
    assert "ssl_verify_client on;" in render_template(values)  # render_template fails on a missing value


def test_the_example_hub_environment_trusts_one_proxy_and_names_a_public_https_url():
    values = env_file(DEPLOY / "rabt.env.example")
    assert values["RABT_TRUSTED_PROXY_HOPS"] == "1" and values["RABT_PUBLIC_URL"].startswith("https://")
    assert set(values) <= {"RABT_BROKER_URL", "RABT_DATABASE_URL", "RABT_PUBLIC_URL", "RABT_TRUSTED_PROXY_HOPS",
                           "RABT_XML_MAX_BYTES", "RABT_TSA_URL", "RABT_TSA_CERTIFICATE"}, "a setting the hub does not read"


def test_the_option_parser_used_on_the_units_refuses_what_it_does_not_know():
    with pytest.raises(click.UsageError):
        serve.make_context("serve", ["--role", "gateway", "--no-such-option"])
