"""RFC 3161 tokens: what the hub accepts from a TSA, checked against tokens the TSA simulator really signs.

Every token here is made by :class:`simulators.tsa.authority.Authority` from a
real query; the tampered ones are changed byte by byte or re-signed with
another key, as a forger would.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from asn1crypto import cms, tsp

from hub.errors import ConfigError
from hub.pki import cert_pem
from hub.timestamps import (
    MAX_REPLY_BYTES, REPLY_TYPE, StampInfo, TimeStampResp, TimestampError, TimestampUnavailableError,
    load_tsa_certificate, make_query, read_reply, request_stamp, verify_token,
)
from simulators.tsa.authority import POLICY, Authority, Identity

IMPRINT = hashlib.sha256(b"anchor 1").hexdigest()
OTHER_IMPRINT = hashlib.sha256(b"anchor 2").hexdigest()


@pytest.fixture(scope="module")
def tsa() -> Authority:
    return Authority(Identity.create())


def token_for(tsa: Authority, imprint: str = IMPRINT, nonce: int = 42) -> bytes:
    return read_reply(tsa.answer(make_query(imprint, nonce)), imprint, tsa.identity.certificate, nonce=nonce)


def refused(call, *args, **kw) -> str:
    with pytest.raises(TimestampError) as caught:
        call(*args, **kw)
    return caught.value.reason


def test_a_granted_token_verifies_and_says_when_and_under_which_policy(tsa):
    info = verify_token(token_for(tsa), IMPRINT, tsa.identity.certificate)
    assert isinstance(info, StampInfo) and info.policy == POLICY and info.nonce == 42
    assert info.gen_time.tzinfo is not None and info.serial > 0


def test_a_token_for_another_digest_is_refused(tsa):
    assert "another digest" in refused(verify_token, token_for(tsa), OTHER_IMPRINT, tsa.identity.certificate)


def test_a_token_signed_by_another_tsa_is_refused(tsa):
    other = Identity.create("another TSA")
    assert "not signed by the pinned TSA" in refused(verify_token, token_for(tsa), IMPRINT, other.certificate)


def test_a_token_resigned_with_another_key_in_the_pinned_certificates_name_is_refused(tsa):
    forger = Authority(replace(tsa.identity, key=Identity.create().key))  # same certificate, wrong key
    forged = forger.answer(make_query(IMPRINT, 7))
    token = tsp.TimeStampResp.load(forged)["time_stamp_token"].dump()
    assert "signature does not verify" in refused(verify_token, token, IMPRINT, tsa.identity.certificate)


def test_a_changed_time_in_the_token_is_refused(tsa):
    token = token_for(tsa)
    info = cms.ContentInfo.load(token)
    content = info["content"]["encap_content_info"]["content"].contents
    gen_time = tsp.TSTInfo.load(content)["gen_time"].dump()
    year = gen_time[2:6]
    tampered = token.replace(gen_time, gen_time.replace(year, b"2025", 1))
    assert tampered != token
    assert "content was altered" in refused(verify_token, tampered, IMPRINT, tsa.identity.certificate)


def test_a_flipped_signature_byte_is_refused(tsa):
    token = bytearray(token_for(tsa))
    token[-5] ^= 0x01  # inside the signature, the token's last field
    reason = refused(verify_token, bytes(token), IMPRINT, tsa.identity.certificate)
    assert "signature does not verify" in reason or "not a well-formed" in reason


def test_garbage_is_not_a_token(tsa):
    assert "not a well-formed RFC 3161 token" in refused(verify_token, b"\x30\x03\x02\x01\x01", IMPRINT,
                                                         tsa.identity.certificate)
    assert "not a well-formed" in refused(verify_token, token_for(tsa)[:-40], IMPRINT, tsa.identity.certificate)


def test_a_rejection_is_refused_naming_the_tsas_reason(tsa):
    reply = tsa.answer(b"not a query at all")
    reason = refused(read_reply, reply, IMPRINT, tsa.identity.certificate, nonce=1)
    assert reason.startswith("the TSA refused the stamp: rejection / bad_data_format")


@pytest.mark.parametrize("digest, failure", [("sha1", "bad_alg"), ("md5", "bad_alg")])
def test_the_tsa_rejects_weak_digests(tsa, digest, failure):
    query = tsp.TimeStampReq({"version": "v1", "message_imprint": {
        "hash_algorithm": {"algorithm": digest}, "hashed_message": hashlib.new(digest, b"x").digest()}}).dump()
    status = TimeStampResp.load(tsa.answer(query))["status"]
    assert status["status"].native == "rejection" and status["fail_info"].native == {failure}


def test_a_reply_with_another_nonce_is_refused(tsa):
    reply = tsa.answer(make_query(IMPRINT, 1))
    assert "nonce" in refused(read_reply, reply, IMPRINT, tsa.identity.certificate, nonce=2)


def test_a_reply_that_is_no_reply_is_refused(tsa):
    assert "not a TimeStampResp" in refused(read_reply, b"<html>busy</html>", IMPRINT, tsa.identity.certificate,
                                            nonce=1)


def test_the_pinned_certificate_must_be_for_time_stamping_only(tmp_path, pki_dir):
    assert load_tsa_certificate(_written(tmp_path, Identity.create().pem)).subject
    with pytest.raises(ConfigError, match="critical extended key usage timeStamping"):
        load_tsa_certificate(pki_dir / "hub.pem")
    with pytest.raises(ConfigError, match="cannot load the TSA certificate"):
        load_tsa_certificate(tmp_path / "missing.pem")


def test_an_identity_is_made_once_and_kept(tmp_path):
    first = Identity.load_or_create(tmp_path / "tsa")
    again = Identity.load_or_create(tmp_path / "tsa")
    assert cert_pem(again.certificate) == cert_pem(first.certificate)
    assert (tmp_path / "tsa" / "tsa.key").stat().st_mode & 0o077 == 0


def _written(folder, pem: bytes):
    path = folder / "tsa.pem"
    path.write_bytes(pem)
    return path


def test_every_single_byte_change_to_a_query_gets_an_answer_and_to_a_token_cannot_change_what_it_says(tsa):
    query, token = make_query(IMPRINT, 9), token_for(tsa, nonce=9)
    for index in range(len(query)):
        changed = bytearray(query)
        changed[index] ^= 0xFF
        status = TimeStampResp.load(tsa.answer(bytes(changed)))["status"]["status"].native
        assert status in ("granted", "rejection")
    original = verify_token(token, IMPRINT, tsa.identity.certificate)
    carried = cms.ContentInfo.load(token)["content"]["certificates"].dump()
    start = token.index(carried)  # the carried certificate is never read: its bytes are skipped
    for index in [*range(start), *range(start + len(carried), len(token))]:
        changed = bytearray(token)
        changed[index] ^= 0x01
        try:
            info = verify_token(bytes(changed), IMPRINT, tsa.identity.certificate)
        except TimestampError:
            continue
        # a byte outside what is signed (an algorithm field the pinned key decides): the token still
        # says exactly what the TSA signed
        assert info == original, f"byte {index} changed what the token says"


@pytest.fixture(scope="module")
def odd_tsa():
    """A server that answers like a TSA gone wrong: busy, an HTML page, a reply too large to be one."""
    import threading

    from flask import Flask, Response
    from werkzeug.serving import make_server

    app = Flask("odd-tsa")
    app.add_url_rule("/busy", "busy", lambda: Response("busy", status=503), methods=["POST"])
    app.add_url_rule("/html", "html", lambda: Response("<html>login</html>", content_type="text/html"),
                     methods=["POST"])
    app.add_url_rule("/huge", "huge", lambda: Response(b"0" * (MAX_REPLY_BYTES + 10), content_type=REPLY_TYPE),
                     methods=["POST"])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()


@pytest.mark.parametrize("path, error, reason", [
    ("/busy", TimestampUnavailableError, "answered HTTP 503"),
    ("/html", TimestampError, "without a time-stamp reply"),
    ("/huge", TimestampError, f"a reply over {MAX_REPLY_BYTES} bytes"),
])
def test_a_tsa_that_answers_oddly_is_named_for_what_it_did(odd_tsa, tsa, path, error, reason):
    with pytest.raises(error, match=reason):
        request_stamp(odd_tsa + path, IMPRINT, tsa.identity.certificate, timeout=5)


def test_a_tsa_given_an_rsa_key_and_certificate_by_path_signs_tokens_that_verify(tmp_path):
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from hub.pki import issue_certificate, key_pem, new_private_key
    from simulators.tsa.app import identity_from

    key = new_private_key("rsa")
    certificate = issue_certificate("RSA TSA", key, None, None, extended_usage=(ExtendedKeyUsageOID.TIME_STAMPING,),
                                    usage_critical=True)
    (tmp_path / "tsa.key").write_bytes(key_pem(key))
    pinned = load_tsa_certificate(_written(tmp_path, cert_pem(certificate)))
    identity = identity_from({"key_file": tmp_path / "tsa.key", "certificate_file": tmp_path / "tsa.pem"})
    rsa_tsa = Authority(identity)
    assert verify_token(token_for(rsa_tsa), IMPRINT, pinned).policy == POLICY
