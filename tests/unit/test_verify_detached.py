"""An agency's payload taken out of its SOAP request verifies exactly as a copy of it does.

The gateway detaches the signed element from the parsed request instead of
copying it (the pipeline then verifies it without a copy). Exclusive C14N of
that element must give the bytes the agency signed whatever the envelope
around it declared: a prefix hoisted to the Envelope, ancestors redeclaring
the payload's prefixes, a default namespace or ``xml:lang`` on the Body, an
InclusiveNamespaces PrefixList naming an ancestor's prefix, whitespace around.
"""

from __future__ import annotations

import base64
import copy
import hashlib

import pytest
from lxml import etree

from hub.errors import SignatureError
from hub.pki import PkiPaths, load_certificate, load_private_key
from hub.signing import DS, Identity, Signer, Verifier
from hub.soap import SOAP_ENV, body_element
from hub.verify import ENVELOPED, EXC_C14N, RSA_SHA256, SHA256
from hub.xmlsafe import parse_xml
from tests.conftest import SAMPLES

POLICE_SAMPLES = sorted((SAMPLES / "police").glob("*.xml"))
BDR = "urn:om:rop:border:2020"

#: SOAP requests around the payload, "{payload}" standing for the signed element's bytes
ENVELOPES = {
    "plain": f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>{{payload}}</soap:Body></soap:Envelope>',
    "pretty": f'<soap:Envelope xmlns:soap="{SOAP_ENV}">\n  <soap:Header/>\n  <soap:Body>\n    {{payload}}\n  '
              "</soap:Body>\n</soap:Envelope>\n",
    "ancestors declare more": f'<soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:xsi="http://www.w3.org/2001/'
                              f'XMLSchema-instance" xmlns:ds="urn:not-dsig" xmlns="urn:default">'
                              f'<soap:Body xml:lang="ar" xmlns:x="urn:x">{{payload}}</soap:Body></soap:Envelope>',
    "its prefix elsewhere on the ancestors": f'<soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:bdr="urn:other">'
                                             f'<soap:Body>{{payload}}</soap:Body></soap:Envelope>',
}


def hoisted(payload: bytes) -> str:
    """The request as a SOAP stack may write it: the payload's own xmlns:bdr moved up to the Envelope."""
    inner = payload.decode().replace(f' xmlns:bdr="{BDR}"', "", 1)
    return (f'<soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:bdr="{BDR}"><soap:Body>{inner}</soap:Body>'
            "</soap:Envelope>")


def signed_with_prefix_list(signer: Signer, element: etree._Element, prefixes: str) -> bytes:
    """``element`` signed as its own document whose C14N transform names ``prefixes`` (InclusiveNamespaces)."""
    listed = prefixes.split()
    digest = base64.b64encode(hashlib.sha256(etree.tostring(
        element, method="c14n", exclusive=True, inclusive_ns_prefixes=listed)).digest()).decode()
    signed_info = etree.fromstring(
        f'<ds:SignedInfo xmlns:ds="{DS}"><ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/>'
        f'<ds:SignatureMethod Algorithm="{RSA_SHA256}"/><ds:Reference URI=""><ds:Transforms>'
        f'<ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="{EXC_C14N}">'
        f'<ec:InclusiveNamespaces xmlns:ec="{EXC_C14N}" PrefixList="{prefixes}"/></ds:Transform></ds:Transforms>'
        f'<ds:DigestMethod Algorithm="{SHA256}"/><ds:DigestValue>{digest}</ds:DigestValue></ds:Reference>'
        "</ds:SignedInfo>")
    value = signer.signature_value(etree.tostring(signed_info, method="c14n", exclusive=True))
    signature = etree.SubElement(element, f"{{{DS}}}Signature", nsmap={"ds": DS})
    signature.append(signed_info)
    etree.SubElement(signature, f"{{{DS}}}SignatureValue").text = base64.b64encode(value).decode()
    return etree.tostring(element)


@pytest.fixture(scope="module")
def police(pki_dir) -> Signer:
    paths = PkiPaths(pki_dir)
    return Signer(Identity("police", load_private_key(paths.agency_key("police")),
                           load_certificate(paths.agency_cert("police"))))


@pytest.fixture(scope="module")
def verifier(trust_store) -> Verifier:
    return Verifier(trust_store)


def outcome(verifier: Verifier, element: etree._Element) -> tuple[str, bytes | str]:
    """(signer, exclusive C14N of what was verified), or ("refused", the reason)."""
    try:
        verified = verifier.verify(element, expected_signer="police")
    except SignatureError as exc:
        return "refused", exc.reason
    return verified.signer, etree.tostring(verified.element, method="c14n", exclusive=True)


def both_ways(verifier: Verifier, request: str) -> tuple[tuple, tuple]:
    """The outcome of verifying a copy of the request's payload, and of the payload detached from it."""
    copied = copy.deepcopy(body_element(parse_xml(request.encode())))
    detached = body_element(parse_xml(request.encode()))
    detached.getparent().remove(detached)
    assert detached.getparent() is None
    return outcome(verifier, copied), outcome(verifier, detached)


def sample(path) -> etree._Element:
    return etree.fromstring(path.read_bytes(), etree.XMLParser(remove_comments=True, remove_blank_text=False))


@pytest.mark.parametrize("path", POLICE_SAMPLES, ids=lambda p: p.stem)
@pytest.mark.parametrize("shape", sorted(ENVELOPES))
def test_a_detached_payload_verifies_as_its_copy(police, verifier, path, shape):
    payload = police.sign_bytes(sample(path))
    by_copy, detached = both_ways(verifier, ENVELOPES[shape].format(payload=payload.decode()))
    assert by_copy[0] == "police", by_copy
    assert detached == by_copy


@pytest.mark.parametrize("path", POLICE_SAMPLES, ids=lambda p: p.stem)
def test_a_payload_whose_namespace_was_hoisted_to_the_envelope_verifies_detached(police, verifier, path):
    by_copy, detached = both_ways(verifier, hoisted(police.sign_bytes(sample(path))))
    assert by_copy[0] == "police", by_copy
    assert detached == by_copy


@pytest.mark.parametrize("prefixes", ["soap", "soap bdr", "x ds", "#default"])
@pytest.mark.parametrize("shape", sorted(ENVELOPES))
def test_an_inclusive_prefix_list_naming_the_envelope_s_prefixes_gives_the_same_outcome(
        police, verifier, prefixes, shape):
    payload = signed_with_prefix_list(police, sample(SAMPLES / "police" / "NotifyArrival.xml"), prefixes)
    by_copy, detached = both_ways(verifier, ENVELOPES[shape].format(payload=payload.decode()))
    assert by_copy[0] == "police", by_copy  # signed as its own document, it verifies as one
    assert detached == by_copy


@pytest.mark.parametrize("shape", sorted(ENVELOPES))
def test_a_changed_payload_is_refused_detached_as_copied(police, verifier, shape):
    payload = police.sign_bytes(sample(SAMPLES / "police" / "NotifyArrival.xml")).replace(b"T4827361", b"T4827362")
    by_copy, detached = both_ways(verifier, ENVELOPES[shape].format(payload=payload.decode()))
    assert by_copy == ("refused", "signed content was changed (digest mismatch)")
    assert detached == by_copy
