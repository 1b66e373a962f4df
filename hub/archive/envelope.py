"""Encrypting an archive for one recipient: CMS EnvelopedData (RFC 5652), as ``openssl cms`` writes it.

CMS is what the recipient's own tools already open, with no Rabt installed::

    openssl cms -decrypt -binary -inform DER -in archive.zip.p7m -inkey key.pem -recip cert.pem -out archive.zip

The content is encrypted with AES-256-CBC under a random key, and that key
with the recipient certificate's RSA key (PKCS #1 v1.5 key transport, which
every CMS reader takes). A month's archive can be gigabytes, so both ways
stream in chunks: the plain archive is written first, so its size, hence the
ciphertext's, is known and the envelope is plain DER; decrypting reads the
envelope's headers one by one (:mod:`hub.archive.der`) and writes the
archive out as it goes. Memory stays a few chunks whatever the size.
Besides our own DER, decrypting takes what ``openssl cms -encrypt`` writes,
with or without ``-stream`` (the content in indefinite-length chunks).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from collections.abc import Iterator
from typing import BinaryIO

from asn1crypto import algos, cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from hub.archive import der
from hub.errors import ConfigError, InputError

CHUNK = 1 << 20
_ENVELOPED_DATA = der.tlv(der.OID, bytes.fromhex("2a864886f70d010703"))  # 1.2.840.113549.1.7.3
_DATA = der.tlv(der.OID, bytes.fromhex("2a864886f70d010701"))  # 1.2.840.113549.1.7.1
_WHAT = "the encrypted archive"


def encrypt_file(path: Path, recipient: x509.Certificate) -> None:
    """Replace the file at ``path`` with its CMS EnvelopedData (DER) for ``recipient``, streamed."""
    public_key = recipient.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ConfigError("--encrypt-to needs an RSA certificate (CMS key transport)")
    key, iv = secrets.token_bytes(32), secrets.token_bytes(16)
    size = path.stat().st_size
    ciphertext_length = (size // 16 + 1) * 16  # PKCS #7 padding always adds 1 to 16 bytes
    prefix = _envelope_prefix(recipient, public_key.encrypt(key, rsa_padding.PKCS1v15()), iv, ciphertext_length)
    sealed = path.with_name(path.name + ".cms")
    try:
        with path.open("rb") as plain, sealed.open("wb") as out:
            out.write(prefix)
            _encrypt(plain, out, Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor())
        os.replace(sealed, path)
    finally:
        sealed.unlink(missing_ok=True)


def _envelope_prefix(recipient: x509.Certificate, encrypted_key: bytes, iv: bytes, ciphertext_length: int) -> bytes:
    """Every byte of the envelope before the ciphertext, lengths included."""
    issuer = cms.IssuerAndSerialNumber({"issuer": cms.Name.load(recipient.issuer.public_bytes()),
                                        "serial_number": recipient.serial_number})
    info = cms.RecipientInfo({"ktri": {
        "version": "v0", "rid": cms.RecipientIdentifier({"issuer_and_serial_number": issuer}),
        "key_encryption_algorithm": {"algorithm": "rsaes_pkcs1v15"}, "encrypted_key": encrypted_key}})
    algorithm = algos.EncryptionAlgorithm({"algorithm": "aes256_cbc", "parameters": iv}).dump()
    content_head = der.head(der.CONTEXT_0_PRIMITIVE, ciphertext_length)
    content_info = _DATA + algorithm + content_head
    content_info = der.head(der.SEQUENCE, len(content_info) + ciphertext_length) + content_info
    enveloped = der.tlv(der.INTEGER, b"\x00") + der.tlv(der.SET, info.dump()) + content_info
    enveloped = der.head(der.SEQUENCE, len(enveloped) + ciphertext_length) + enveloped
    explicit = der.head(der.CONTEXT_0_CONSTRUCTED, len(enveloped) + ciphertext_length) + enveloped
    outer = _ENVELOPED_DATA + explicit
    return der.head(der.SEQUENCE, len(outer) + ciphertext_length) + outer


def _encrypt(source: BinaryIO, out: BinaryIO, cipher) -> None:
    """Pad and encrypt ``source`` to its end into ``out``, a chunk at a time."""
    pad = padding.PKCS7(128).padder()
    while chunk := source.read(CHUNK):
        out.write(cipher.update(pad.update(chunk)))
    out.write(cipher.update(pad.finalize()) + cipher.finalize())


def decrypt_to(source: Path, out: BinaryIO, key_pem: bytes, certificate: x509.Certificate | None = None) -> None:
    """Write the archive inside the CMS EnvelopedData at ``source`` to ``out``, opened with ``key_pem``.

    The key's certificate is read from the same PEM unless given.
    """
    key, certificate = _recipient(key_pem, certificate)
    with source.open("rb") as stream:
        reader = der.Reader(stream, _WHAT)
        recipients, algorithm = _read_head(reader)
        decryptor = _cipher(algorithm, _content_key(recipients, key, certificate)).decryptor()
        unpad = padding.PKCS7(128).unpadder()
        for chunk in _content(reader):
            out.write(unpad.update(decryptor.update(chunk)))
        try:
            out.write(unpad.update(decryptor.finalize()) + unpad.finalize())
        except ValueError:
            raise InputError(f"{_WHAT} cannot be decrypted with this key: its content does not decrypt") from None


def _recipient(key_pem: bytes, certificate: x509.Certificate | None):
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"the decryption key is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError("the decryption key must be an RSA key (CMS key transport)")
    if certificate is None:
        try:
            certificate = x509.load_pem_x509_certificate(key_pem)
        except ValueError:
            raise ConfigError("the decryption key file holds no certificate: give it with --decrypt-cert") from None
    return key, certificate


def _read_head(reader: der.Reader) -> tuple[cms.RecipientInfos, algos.EncryptionAlgorithm]:
    """Read ContentInfo down to the encrypted content: the recipients and the content's algorithm."""
    reader.expect(der.SEQUENCE, "ContentInfo")
    if reader.whole(der.OID, "content type") != _ENVELOPED_DATA:
        raise InputError(f"{_WHAT} is not CMS EnvelopedData (is it encrypted at all?)")
    reader.expect(der.CONTEXT_0_CONSTRUCTED, "content")
    reader.expect(der.SEQUENCE, "EnvelopedData")
    reader.value(der.INTEGER, "version")
    recipients = cms.RecipientInfos.load(reader.whole(der.SET, "recipient infos (no originator info)"))
    reader.expect(der.SEQUENCE, "EncryptedContentInfo")
    reader.whole(der.OID, "content type")
    return recipients, algos.EncryptionAlgorithm.load(reader.whole(der.SEQUENCE, "content encryption algorithm"))


def _content_key(recipients: cms.RecipientInfos, key: rsa.RSAPrivateKey, certificate: x509.Certificate) -> bytes:
    """The content key encrypted for ``certificate``'s holder, decrypted with ``key``."""
    try:
        for info in recipients:
            if info.name == "ktri" and _names(info.chosen["rid"], certificate):
                return key.decrypt(info.chosen["encrypted_key"].native,
                                   _key_padding(info.chosen["key_encryption_algorithm"]))
    except ValueError as exc:
        raise InputError(f"{_WHAT} cannot be decrypted with this key: {exc or 'its content key does not decrypt'}"
                         ) from None
    raise InputError(f"{_WHAT} cannot be decrypted with this key: it is not encrypted for "
                     f"{certificate.subject.rfc4514_string()}")


def _names(rid: cms.RecipientIdentifier, certificate: x509.Certificate) -> bool:
    """Whether the recipient identifier names ``certificate`` (issuer and serial, or key identifier)."""
    if rid.name == "issuer_and_serial_number":
        return (rid.chosen["issuer"] == cms.Name.load(certificate.issuer.public_bytes())
                and rid.chosen["serial_number"].native == certificate.serial_number)
    try:
        ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return False
    return rid.chosen.native == ski


def _key_padding(algorithm: cms.KeyEncryptionAlgorithm):
    name = algorithm["algorithm"].native
    if name == "rsaes_pkcs1v15":
        return rsa_padding.PKCS1v15()
    if name == "rsaes_oaep" and algorithm["parameters"]["hash_algorithm"]["algorithm"].native == "sha1":
        return rsa_padding.OAEP(rsa_padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)
    raise ValueError(f"key transport {name} with these parameters is not supported")


def _cipher(algorithm: algos.EncryptionAlgorithm, key: bytes) -> Cipher:
    try:
        cipher, mode = algorithm.encryption_cipher, algorithm.encryption_mode
        iv, length = algorithm.encryption_iv, algorithm.key_length
    except (ValueError, KeyError):
        raise InputError(f"{_WHAT} uses {algorithm['algorithm'].native}: only AES-CBC is read") from None
    if cipher != "aes" or mode != "cbc":
        raise InputError(f"{_WHAT} uses {algorithm['algorithm'].native}: only AES-CBC is read")
    if len(key) != length:
        raise InputError(f"{_WHAT} cannot be decrypted with this key: its content key does not decrypt")
    return Cipher(algorithms.AES(key), modes.CBC(iv))


def _content(reader: der.Reader) -> Iterator[bytes]:
    """The encrypted content's bytes in chunks: one primitive value, or constructed OCTET STRING pieces."""
    tag, length, _raw = reader.header()
    if tag == der.CONTEXT_0_PRIMITIVE and length is not None:
        yield from reader.chunks(length, CHUNK)
        return
    if tag != der.CONTEXT_0_CONSTRUCTED:
        raise InputError(f"{_WHAT} has no encrypted content where it should be (tag 0x{tag:02x})")
    consumed = 0
    while length is None or consumed < length:
        piece, size, raw = reader.header()
        if piece == 0 and size == 0 and length is None:
            return  # end of the indefinite-length content
        if piece != der.OCTET_STRING or size is None:
            raise InputError(f"{_WHAT}: a piece of its content is not an OCTET STRING")
        yield from reader.chunks(size, CHUNK)
        consumed += len(raw) + size
