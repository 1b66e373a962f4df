"""hub.jws.verify_json: what the hub signed checks with its certificate (RSA and P-256), and nothing else does.

PyJWT checks the same objects independently in ``tests/integration/test_ledger.py``;
this is the hub's own check, used where it reads back what it signed (archive receipts).
"""

from __future__ import annotations

import pytest

from hub.errors import InputError
from hub.jws import b64url, b64url_decode, sign_json, verify_json
from hub.pki import init_pki
from hub.signing import Signer, TrustStore


@pytest.fixture(params=["rsa", "ec"])
def signer(request, tmp_path) -> Signer:
    init_pki(tmp_path / "pki", ["police"], key_type=request.param)
    return Signer(TrustStore.load(tmp_path / "pki").hub)


def test_a_signed_payload_verifies_and_comes_back(signer):
    signed = sign_json(signer, {"file": "a.zip", "n": 3}, "application/json")
    assert verify_json(signed, signer.identity.certificate) == {"file": "a.zip", "n": 3}


def test_a_changed_payload_another_certificate_or_a_broken_object_is_refused(signer, tmp_path):
    signed = sign_json(signer, {"file": "a.zip"}, "application/json")
    changed = {**signed, "payload": b64url(b'{"file":"b.zip"}')}
    with pytest.raises(InputError, match="does not verify"):
        verify_json(changed, signer.identity.certificate)
    with pytest.raises(InputError, match="does not verify"):
        verify_json(signed, _police_certificate(tmp_path))
    truncated = {**signed, "signature": b64url(b64url_decode(signed["signature"])[:-1])}
    with pytest.raises(InputError, match="does not verify"):  # not an r||s of the curve's size, nor RSA's length
        verify_json(truncated, signer.identity.certificate)
    for broken in ({}, {**signed, "signature": "!!"}, {**signed, "protected": None}):
        with pytest.raises(InputError):
            verify_json(broken, signer.identity.certificate)


def _police_certificate(tmp_path):
    from hub.pki import load_certificate

    return load_certificate(tmp_path / "pki" / "agencies" / "police.pem")
