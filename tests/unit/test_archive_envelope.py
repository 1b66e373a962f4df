"""Encrypted archives (hub.archive.envelope): streamed both ways, interchangeable with ``openssl cms``.

The memory test runs encryption and decryption of a file several times the
chunk size in a child process and reads the child's own peak resident size:
streaming keeps it flat, holding the archive in memory would add the file's
size (twice, for the plain and the encrypted copy).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.archive.envelope import CHUNK, decrypt_to, encrypt_file
from hub.errors import InputError
from hub.pki import load_certificate


@pytest.fixture
def courts(pki_dir):
    return pki_dir / "agencies" / "courts.pem", pki_dir / "agencies" / "courts.key"


def openssl_cms(*args: str) -> None:
    done = subprocess.run(["openssl", "cms", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def opened(path: Path, cert: Path, key: Path, out: Path) -> bytes:
    with out.open("wb") as target:
        decrypt_to(path, target, key.read_bytes(), load_certificate(cert))
    return out.read_bytes()


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, CHUNK - 1, CHUNK, 2 * CHUNK + 5])
def test_what_is_encrypted_decrypts_to_the_same_bytes_and_openssl_opens_it(tmp_path, courts, size):
    cert, key = courts
    data = os.urandom(size)
    sealed = tmp_path / "a.zip.p7m"
    sealed.write_bytes(data)
    encrypt_file(sealed, load_certificate(cert))
    assert size < 16 or data[:16] not in sealed.read_bytes()
    assert not (tmp_path / "a.zip.p7m.cms").exists()
    assert opened(sealed, cert, key, tmp_path / "ours.zip") == data
    openssl_cms("-decrypt", "-binary", "-inform", "DER", "-in", str(sealed), "-inkey", str(key), "-recip", str(cert),
                "-out", str(tmp_path / "openssl.zip"))
    assert (tmp_path / "openssl.zip").read_bytes() == data


@pytest.mark.parametrize("streamed", [False, True], ids=["der", "stream"])
def test_what_openssl_cms_encrypts_decrypts(tmp_path, courts, streamed):
    cert, key = courts
    data = os.urandom(3 * CHUNK + 123)
    (tmp_path / "plain.zip").write_bytes(data)
    openssl_cms("-encrypt", "-binary", "-aes256", "-outform", "DER", *(["-stream"] if streamed else []),
                "-in", str(tmp_path / "plain.zip"), "-out", str(tmp_path / "sealed.p7m"), str(cert))
    assert opened(tmp_path / "sealed.p7m", cert, key, tmp_path / "out.zip") == data


def test_another_recipient_a_cut_file_and_a_plain_zip_are_named(tmp_path, courts, pki_dir):
    cert, key = courts
    sealed = tmp_path / "a.p7m"
    sealed.write_bytes(os.urandom(5000))
    encrypt_file(sealed, load_certificate(cert))
    police = pki_dir / "agencies" / "police"
    with pytest.raises(InputError, match="not encrypted for .*police"):
        opened(sealed, police.with_suffix(".pem"), police.with_suffix(".key"), tmp_path / "x")
    cut = tmp_path / "cut.p7m"
    cut.write_bytes(sealed.read_bytes()[:-100])
    with pytest.raises(InputError, match="cut short"):
        opened(cut, cert, key, tmp_path / "x")
    plain = tmp_path / "plain.zip"
    plain.write_bytes(b"PK\x03\x04" + os.urandom(100))
    with pytest.raises(InputError, match="expected ContentInfo"):
        opened(plain, cert, key, tmp_path / "x")


_PEAK = """
import os, resource, sys
from pathlib import Path
from hub.archive.envelope import decrypt_to, encrypt_file
from hub.pki import load_certificate
path, cert, key, size = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
with path.open("wb") as out:
    for _ in range(size // (1 << 20)):
        out.write(os.urandom(1 << 20))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
encrypt_file(path, load_certificate(cert))
with open(os.devnull, "wb") as sink:
    decrypt_to(path, sink, key.read_bytes(), load_certificate(cert))
print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_encrypting_and_decrypting_a_large_archive_keeps_memory_flat(tmp_path, courts):
    cert, key = courts
    size = 192 << 20
    done = subprocess.run([sys.executable, "-c", _PEAK, str(tmp_path / "big.p7m"), str(cert), str(key), str(size)],
                          capture_output=True, text=True, timeout=300, check=True)
    before_kb, after_kb = map(int, done.stdout.split())
    grew_mb = (after_kb - before_kb) / 1024
    print(f"peak RSS {before_kb // 1024} MB before, {after_kb // 1024} MB after a {size >> 20} MB round trip")
    assert grew_mb < 16, f"peak memory grew {grew_mb:.0f} MB for a {size >> 20} MB archive"
