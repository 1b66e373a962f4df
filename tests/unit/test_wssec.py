"""WS-Security requests as zeep's own plugin signs them, and every way the verifier must refuse one.

Requests are signed by ``zeep.wsse.signature.BinarySignature`` (libxmlsec1
through the ``xmlsec`` package), as a partner's zeep client would; the
attacks move, copy or add parts after signing, as an attacker would.
"""

from __future__ import annotations

import copy
import datetime as dt

import pytest
import xmlsec
from lxml import etree
from zeep.wsse.signature import BinarySignature, Signature, verify_envelope
from zeep.wsse.utils import WSU

from hub.errors import CertificateError, SignatureError
from hub.pki import PkiPaths, init_pki
from hub.signing import Signer, TrustStore
from hub.soap import SOAP_ENV
from hub.verify import DS
from hub.wssec import WSSE, WSU_ID, Freshness, WsSecurityVerifier, security_header, signed_envelope
from tests.unit.test_pipeline import ARRIVAL, inbound, log, pipeline  # noqa: F401 - its fixtures, reused

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
BODY = f"{{{SOAP_ENV}}}Body"
REQUEST = (f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Header/><soap:Body>'
           '<b:NotifyArrival xmlns:b="urn:om:rop:border:2020"><b:MsgId>ROP-ARR-1</b:MsgId>'
           '<b:VisaNo>EV-1</b:VisaNo></b:NotifyArrival></soap:Body></soap:Envelope>').encode()


def zulu(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def signed(pki_dir, *, party="police", timestamp=True, created=None, lifetime=dt.timedelta(minutes=5),
           plugin=BinarySignature, digest=xmlsec.Transform.SHA256,
           method=xmlsec.Transform.RSA_SHA256) -> etree._Element:
    """``REQUEST`` signed by ``party``'s key with zeep's plugin, with a Timestamp created at ``created`` (now)."""
    created = created or dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    envelope = etree.fromstring(REQUEST)
    if timestamp:
        security = etree.SubElement(envelope[0], f"{{{WSSE}}}Security")
        security.append(WSU.Timestamp(WSU.Created(zulu(created)), WSU.Expires(zulu(created + lifetime))))
    paths = PkiPaths(pki_dir)
    sign = plugin(str(paths.agency_key(party)), str(paths.agency_cert(party)), signature_method=method,
                  digest_method=digest)
    envelope, _ = sign.apply(envelope, {})
    return etree.fromstring(etree.tostring(envelope))  # as it travels


@pytest.fixture(scope="module")
def verifier(trust_store) -> WsSecurityVerifier:
    return WsSecurityVerifier(trust_store, Freshness(window=300, skew=60))


def refusal(verifier, envelope, *, now=None, error=SignatureError) -> str:
    with pytest.raises(error) as caught:
        verifier.verify(envelope, agency="police", now=now)
    return caught.value.reason


def test_a_request_signed_by_zeeps_binary_signature_plugin_is_verified(verifier, pki_dir):
    verified = verifier.verify(signed(pki_dir), agency="police")
    assert verified.signer == "police"
    assert verified.element.tag == "{urn:om:rop:border:2020}NotifyArrival"
    assert verified.element.findtext("{*}MsgId") == "ROP-ARR-1"
    assert verified.element.getparent() is None  # a copy: the caller's tree is never handed back


def test_without_a_timestamp_the_signed_body_suffices(verifier, pki_dir):
    assert verifier.verify(signed(pki_dir, timestamp=False), agency="police").signer == "police"


def test_a_comment_in_signed_text_is_not_part_of_what_is_read(verifier, pki_dir):
    envelope = signed(pki_dir)
    visa = envelope.find(f"{BODY}/*/{{*}}VisaNo")
    visa.text = "EV-"
    visa.append(etree.Comment("x"))
    visa[-1].tail = "1"  # the same canonical text, split by a comment the digest does not see
    assert verifier.verify(envelope, agency="police").element.findtext("{*}VisaNo") == "EV-1"


def test_a_changed_body_is_refused(verifier, pki_dir):
    envelope = signed(pki_dir)
    envelope.find(f"{BODY}/*/{{*}}VisaNo").text = "EV-2"
    assert refusal(verifier, envelope) == "the signed soap:Body was changed (digest mismatch)"


def test_a_changed_timestamp_is_refused(verifier, pki_dir):
    envelope = signed(pki_dir)
    envelope.find(".//{*}Timestamp/{*}Expires").text = zulu(NOW + dt.timedelta(days=1))
    assert refusal(verifier, envelope) == "the signed wsu:Timestamp was changed (digest mismatch)"


def test_a_wrapped_body_is_refused(verifier, pki_dir):
    """The signed Body moved into a header wrapper, a new Body in its place: the reference is not *the* Body."""
    envelope = signed(pki_dir)
    body = envelope.find(BODY)
    wrapper = etree.SubElement(envelope[0], "{urn:attacker}Wrapper")
    wrapper.append(copy.deepcopy(body))
    body.attrib.pop(WSU_ID)
    body.find("*/{*}VisaNo").text = "EV-FORGED"
    reason = refusal(verifier, envelope)
    assert reason == "the envelope must hold exactly one soap:Body, found 2"
    wrapper[0].tag = "{urn:attacker}Body"  # no second soap:Body: now the reference names another element
    assert refusal(verifier, envelope).startswith("ds:Reference URI '#id-")
    assert "does not name the soap:Body" in refusal(verifier, envelope)


def test_a_second_element_with_the_bodys_id_is_refused(verifier, pki_dir):
    envelope = signed(pki_dir)
    body = envelope.find(BODY)
    decoy = etree.SubElement(envelope[0], "{urn:attacker}Decoy", {WSU_ID: body.get(WSU_ID)})
    decoy.append(copy.deepcopy(body[0]))
    assert refusal(verifier, envelope) == f"Id {body.get(WSU_ID)!r} is used by more than one element"


def test_an_unsigned_timestamp_is_refused(verifier, pki_dir):
    envelope = signed(pki_dir, timestamp=False)
    security = security_header(envelope)
    security.append(WSU.Timestamp(WSU.Created(zulu(NOW))))
    assert refusal(verifier, envelope) == "the wsu:Timestamp is not signed"


@pytest.mark.parametrize(("created", "lifetime", "now", "reason"), [
    (NOW - dt.timedelta(minutes=7), dt.timedelta(hours=1), NOW, "wsu:Timestamp is stale: created"),
    (NOW + dt.timedelta(minutes=2), dt.timedelta(hours=1), NOW, "wsu:Timestamp Created"),
    (NOW, dt.timedelta(minutes=1), NOW + dt.timedelta(minutes=2, seconds=1), "wsu:Timestamp has expired"),
])
def test_a_timestamp_outside_the_freshness_window_is_refused(verifier, pki_dir, created, lifetime, now, reason):
    assert refusal(verifier, signed(pki_dir, created=created, lifetime=lifetime), now=now).startswith(reason)


def test_within_the_window_and_the_clock_skew_it_is_accepted(verifier, pki_dir):
    envelope = signed(pki_dir, created=NOW - dt.timedelta(minutes=5, seconds=50))
    assert verifier.verify(envelope, agency="police", now=NOW).signer == "police"


def test_a_token_that_is_not_the_pinned_certificate_is_refused(verifier, pki_dir):
    reason = refusal(verifier, signed(pki_dir, party="commerce"), error=CertificateError)
    assert reason == "wsse:BinarySecurityToken is not the certificate registered for 'police'"


def test_a_token_swapped_for_the_pinned_one_fails_the_signature(verifier, pki_dir, trust_store):
    envelope = signed(pki_dir, party="commerce")
    police = signed(pki_dir).find(f".//{{{WSSE}}}BinarySecurityToken").text
    envelope.find(f".//{{{WSSE}}}BinarySecurityToken").text = police
    assert refusal(verifier, envelope) == "signature does not verify (ds:SignatureValue over ds:SignedInfo)"


def test_sha1_digests_and_rsa_sha1_signatures_are_refused(verifier, pki_dir):
    assert "DigestMethod 'http://www.w3.org/2000/09/xmldsig#sha1' is not accepted (SHA-256)" in refusal(
        verifier, signed(pki_dir, digest=xmlsec.Transform.SHA1))
    assert "SignatureMethod 'http://www.w3.org/2000/09/xmldsig#rsa-sha1' is not accepted" in refusal(
        verifier, signed(pki_dir, method=xmlsec.Transform.RSA_SHA1))


def test_key_info_must_refer_to_the_token(verifier, pki_dir):
    """zeep's ``Signature`` plugin puts X509Data in a SecurityTokenReference and sends no token at all."""
    reason = refusal(verifier, signed(pki_dir, plugin=Signature))
    assert reason.startswith("wsse:Security must hold one BinarySecurityToken")


def test_a_second_transform_is_refused(verifier, pki_dir):
    envelope = signed(pki_dir)
    transforms = envelope.find(f".//{{{DS}}}Transforms")
    etree.SubElement(transforms, f"{{{DS}}}Transform", Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116")
    assert "only ds:Transform must be exclusive C14N" in refusal(verifier, envelope)


def test_two_security_headers_are_refused(verifier, pki_dir):
    envelope = signed(pki_dir)
    envelope[0].append(copy.deepcopy(security_header(envelope)))
    assert refusal(verifier, envelope) == "the SOAP Header holds more than one wsse:Security"


def test_the_hubs_signed_answer_verifies_with_zeep_and_with_the_hubs_verifier(trust_store, pki_dir):
    answer = etree.fromstring(b'<b:NotificationReceipt xmlns:b="urn:om:rop:border:2020"><b:MsgId>ROP-ARR-1</b:MsgId>'
                              b'</b:NotificationReceipt>')
    envelope = etree.fromstring(signed_envelope(answer, Signer(trust_store.hub)))
    verify_envelope(envelope, str(PkiPaths(pki_dir).hub_cert))  # zeep's own check (libxmlsec1)
    verified = WsSecurityVerifier(trust_store).verify(envelope, agency="hub")
    assert etree.tostring(verified.element, method="c14n") == etree.tostring(answer, method="c14n")


# -- the pipeline's seam: a payload the gateway verified, and the answers it logs -----------------


def test_a_payload_the_channel_verified_is_not_verified_again(pipeline, log):
    raw = ARRIVAL.encode()  # no ds:Signature in it: the gateway checked the WS-Security one
    receipt = pipeline.accept(inbound(raw, require_signature=True, verified_signer="police"), etree.fromstring(raw))
    assert log.get(receipt.message_id).source_agency == "police"


def test_a_payload_verified_as_another_partys_is_refused_and_recorded(pipeline, log):
    raw = ARRIVAL.encode()
    with pytest.raises(SignatureError, match="signed by 'commerce', not 'police'"):
        pipeline.accept(inbound(raw, require_signature=True, verified_signer="commerce"), etree.fromstring(raw))
    assert [r.reason for r in log.refusals("police")] == ["signature: signed by 'commerce', not 'police'"]


def test_the_gateways_answer_is_logged_as_sent(pipeline, log):
    raw = ARRIVAL.encode()
    question = pipeline.accept(inbound(raw), etree.fromstring(raw)).message_id
    answer_id = pipeline.answered(question, "police", b"<signed-answer/>", answer_type="NotificationReceipt")
    stored = log.get(answer_id)
    assert (stored.raw, stored.correlation_id, stored.source_agency, stored.destination, stored.status) == (
        b"<signed-answer/>", question, "hub", "police", "published")
    assert answer_id not in {m.message_id for m in log.unpublished()}  # never relayed to the broker


def test_an_ecdsa_hub_signs_answers_that_zeep_and_the_verifier_accept(tmp_path):
    init_pki(tmp_path, [], key_type="ec")
    store = TrustStore.load(tmp_path)
    data = signed_envelope(etree.fromstring(b"<a:Pong xmlns:a='urn:x'>1</a:Pong>"), Signer(store.hub))
    assert b"ecdsa-sha256" in data
    verify_envelope(etree.fromstring(data), str(PkiPaths(tmp_path).hub_cert))
    assert WsSecurityVerifier(store).verify(etree.fromstring(data), agency="hub").element.text == "1"
