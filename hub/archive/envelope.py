"""Encrypting an archive for one recipient: CMS EnvelopedData (RFC 5652), as ``openssl cms`` writes it.

CMS is what the recipient's own tools already open, with no Rabt installed::

    openssl cms -decrypt -binary -inform DER -in archive.zip.p7m -inkey key.pem -recip cert.pem -out archive.zip

The content is encrypted with AES-256-CBC under a random key, and that key
with the recipient certificate's RSA key (``cryptography``'s PKCS7
EnvelopeBuilder). The builder takes the content in memory, so encrypting or
decrypting needs memory for the archive's size; the plain archive is
written (and streamed) first.
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7

from hub.errors import ConfigError, InputError

_BINARY = [pkcs7.PKCS7Options.Binary]


def encrypt_file(path: Path, recipient: x509.Certificate) -> None:
    """Replace the file at ``path`` with its CMS EnvelopedData (DER) for ``recipient``."""
    if not isinstance(recipient.public_key(), rsa.RSAPublicKey):
        raise ConfigError("--encrypt-to needs an RSA certificate (CMS key transport)")
    builder = (pkcs7.PKCS7EnvelopeBuilder().set_data(path.read_bytes()).add_recipient(recipient)
               .set_content_encryption_algorithm(algorithms.AES256))
    path.write_bytes(builder.encrypt(serialization.Encoding.DER, _BINARY))


def decrypt(data: bytes, key_pem: bytes, certificate: x509.Certificate | None = None) -> bytes:
    """The archive inside CMS EnvelopedData ``data``, opened with ``key_pem`` (its certificate beside it or given)."""
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"the decryption key is not an unencrypted PEM private key: {exc}") from None
    if certificate is None:
        try:
            certificate = x509.load_pem_x509_certificate(key_pem)
        except ValueError:
            raise ConfigError("the decryption key file holds no certificate: give it with --decrypt-cert") from None
    try:
        return pkcs7.pkcs7_decrypt_der(data, certificate, key, [])
    except ValueError as exc:
        raise InputError(f"the archive cannot be decrypted with this key: {exc}") from None
