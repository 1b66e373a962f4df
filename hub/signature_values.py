"""The raw signature values a :class:`hub.signing.Signer` writes: RSA PKCS#1 v1.5, or ECDSA as r||s, over SHA-256.

Checking them is :mod:`hub.signature_checks`'s part.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from hub.verify import RSA_SHA256


def raw_signing_function(key, method: str) -> Callable[[bytes], bytes]:
    """``key``'s signature over some bytes as XML-DSig's SignatureValue holds it (before base64).

    The padding and algorithm objects are made once here, not per signature.
    """
    if method == RSA_SHA256:
        pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
        return lambda data: key.sign(data, pkcs1, sha256)
    size = (key.curve.key_size + 7) // 8
    ecdsa = ec.ECDSA(hashes.SHA256())

    def sign_ecdsa(data: bytes) -> bytes:
        return raw_ecdsa(key.sign(data, ecdsa), size)

    return sign_ecdsa


def raw_ecdsa(der: bytes, size: int) -> bytes:
    """XML-DSig's ECDSA value, r||s each ``size`` bytes wide, from the DER SEQUENCE of two INTEGERs OpenSSL returns.

    P-256 and P-384 signatures fit a one-byte SEQUENCE length, read here by slicing (a third of the
    cost of decode_dss_signature's two Python ints); a longer form (P-521) goes that general way.
    """
    if der[1] < 0x80:
        s_at = 4 + der[3]  # 0x30 len 0x02 len(r) r… 0x02 len(s) s…
        r, s = der[4:s_at], der[s_at + 2:]
        # a DER INTEGER has a leading zero byte when its top bit is set and no leading zeros otherwise
        return r[-size:].rjust(size, b"\0") + s[-size:].rjust(size, b"\0")
    r, s = decode_dss_signature(der)
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")
