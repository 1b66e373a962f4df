"""The foundation commands as a user runs them, checked by libxmlsec1 too."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLES

ENVELOPE = SAMPLES / "canonical" / "envelope-WorkerArrival.xml"


def rabt(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RABT_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "hub", *args], env=env, capture_output=True, text=True, timeout=60)


def xmlsec1_verify(home: Path, path: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("xmlsec1")
    assert binary, "xmlsec1 is not installed (apt-get install -y xmlsec1)"
    return subprocess.run([binary, "--verify", "--trusted-pem", str(home / "pki" / "ca.pem"), str(path)],
                          capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("home")
    result = rabt(home, "pki", "init", "--agency", "police")
    assert result.returncode == 0, result.stderr
    return home


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_pki_init_twice_changes_nothing(home):
    before = digests(home / "pki")
    assert {"ca.pem", "ca.key", "hub.pem", "hub.key", "agencies/police.pem", "agencies/police.key"} <= set(before)
    again = rabt(home, "pki", "init", "--agency", "police")
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert digests(home / "pki") == before


def test_signed_file_is_accepted_by_xmlsec1_and_one_changed_byte_is_refused_by_both(home, tmp_path):
    signed = tmp_path / "signed.xml"
    result = rabt(home, "sign", str(ENVELOPE), "-o", str(signed))
    assert result.returncode == 0, result.stderr
    assert xmlsec1_verify(home, signed).returncode == 0
    ok = rabt(home, "verify", str(signed), "--agency", "hub")
    assert ok.returncode == 0 and "signed by hub" in ok.stdout
    assert rabt(home, "validate", str(signed)).returncode == 0

    tampered = tmp_path / "tampered.xml"
    data = signed.read_bytes()
    position = data.index(b"T4827361") + 1  # one byte of the passport number in the body
    tampered.write_bytes(data[:position] + b"5" + data[position + 1:])
    refused = rabt(home, "verify", str(tampered))
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "digest mismatch" in refused.stderr
    assert xmlsec1_verify(home, tampered).returncode != 0


def test_verify_as_the_wrong_agency_fails_with_one_line(home, tmp_path):
    signed = tmp_path / "signed.xml"
    assert rabt(home, "sign", str(ENVELOPE), "-o", str(signed)).returncode == 0
    refused = rabt(home, "verify", str(signed), "--agency", "police")
    assert refused.returncode == 1
    assert refused.stderr.strip().startswith("rabt: signed with a certificate that is not the one registered")


def test_validate_names_the_line_and_the_rule(home, tmp_path):
    broken = tmp_path / "broken.xml"
    text = ENVELOPE.read_text(encoding="utf-8").replace("<rabt:Nationality>IND<", "<rabt:Nationality>India<")
    broken.write_text(text, encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "India" in row)
    result = rabt(home, "validate", str(broken))
    assert result.returncode == 1
    assert f"line {line}" in result.stderr and "pattern" in result.stderr.lower()
    assert result.stderr.count("\n") == 1


def test_hostile_file_gets_one_line_and_exit_1(home, tmp_path):
    hostile = tmp_path / "xxe.xml"
    hostile.write_bytes(b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>')
    for command in ("validate", "sign", "verify"):
        result = rabt(home, command, str(hostile))
        assert result.returncode == 1
        assert result.stderr == "rabt: DOCTYPE is not allowed (DTDs and entities are refused)\n"


def test_sign_without_pki_says_what_to_do(tmp_path):
    result = rabt(tmp_path, "sign", str(ENVELOPE))
    assert result.returncode == 1 and "rabt pki init" in result.stderr
