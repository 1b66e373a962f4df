"""SOAP 1.1 envelopes and faults, shared by the gateway and the simulators.

Only the envelope: payloads are document/literal elements that mappings and
agency schemas deal with. Requests are parsed by the hardened parser; a
request that is not a SOAP 1.1 envelope with exactly one body element is a
:class:`SoapFault`, never an exception escaping to the web server.
"""

from __future__ import annotations

import re

from lxml import etree

from hub.config import XmlLimits
from hub.errors import ParseError
from hub.xmlsafe import parse_xml

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
XML_CONTENT_TYPE = "text/xml; charset=utf-8"


class SoapFault(Exception):
    """A SOAP 1.1 Fault to send back instead of a response.

    ``code`` is the faultcode's local part in the SOAP envelope namespace:
    ``Client`` (the request is wrong), ``Server`` (we failed), or a dotted
    refinement such as ``Client.Schema``.
    """

    def __init__(self, code: str, text: str, *, detail: etree._Element | None = None) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text
        self.detail = detail


def envelope(payload: etree._Element) -> bytes:
    """Wrap a response element in a SOAP 1.1 envelope."""
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    etree.SubElement(env, f"{{{SOAP_ENV}}}Body").append(payload)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


_ENVELOPE_OPEN = f'<?xml version=\'1.0\' encoding=\'UTF-8\'?>\n<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'.encode()
_ENVELOPE_CLOSE = b"</soap:Body></soap:Envelope>"


def envelope_around(payload: bytes) -> bytes:
    """Wrap a response element already serialized (UTF-8, no XML declaration) in a SOAP 1.1 envelope.

    The same document as :func:`envelope` without parsing the element back into a
    tree: a signed answer is written as bytes and stays those bytes.
    """
    return b"".join((_ENVELOPE_OPEN, payload, _ENVELOPE_CLOSE))


def fault_envelope(fault: SoapFault) -> bytes:
    """Serialize a :class:`SoapFault` as a SOAP 1.1 Fault envelope."""
    return envelope(fault_element(fault))


def fault_element(fault: SoapFault) -> etree._Element:
    """The ``soap:Fault`` element of a :class:`SoapFault` (the one Body element of its envelope)."""
    body_fault = etree.Element(f"{{{SOAP_ENV}}}Fault", nsmap={"soap": SOAP_ENV})
    # faultcode/faultstring are unqualified in SOAP 1.1
    etree.SubElement(body_fault, "faultcode").text = f"soap:{fault.code}"
    etree.SubElement(body_fault, "faultstring").text = fault.text
    if fault.detail is not None:
        etree.SubElement(body_fault, "detail").append(fault.detail)
    return body_fault


def service_error(namespace: str, code: str, text: str) -> etree._Element:
    """The ``ServiceError`` fault detail that every agency contract here declares."""
    element = etree.Element(f"{{{namespace}}}ServiceError", nsmap={None: namespace})
    etree.SubElement(element, f"{{{namespace}}}ErrorCode").text = code
    etree.SubElement(element, f"{{{namespace}}}ErrorText").text = text
    return element


def parse_request(data: bytes, limits: XmlLimits | None = None, *, agency: str | None = None,
                  understood: frozenset[str] = frozenset()) -> etree._Element:
    """Return the one element inside a SOAP 1.1 Body, or raise a Client fault."""
    return body_element(parse_envelope(data, limits, agency=agency, understood=understood))


def parse_envelope(data: bytes, limits: XmlLimits | None = None, *, agency: str | None = None,
                   understood: frozenset[str] = frozenset()) -> etree._Element:
    """The SOAP 1.1 Envelope: an optional Header, then exactly one Body holding one element.

    ``understood`` names the header blocks (by tag) the caller processes, so
    they may be marked ``mustUnderstand``; any other such block is a fault.
    """
    try:
        root = parse_xml(data, limits, agency=agency)
    except ParseError as exc:
        raise SoapFault("Client.Parse", f"request is not acceptable XML: {exc.reason}") from exc
    if root.tag == f"{{{SOAP12_ENV}}}Envelope":
        raise SoapFault("VersionMismatch", "SOAP 1.2 envelope received; this service speaks SOAP 1.1")
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise SoapFault("Client", f"root element is {root.tag}, expected a SOAP 1.1 Envelope")
    bodies = root.findall(f"{{{SOAP_ENV}}}Body")
    if len(bodies) != 1:
        raise SoapFault("Client", f"SOAP Envelope must hold exactly one Body, found {len(bodies)}")
    _check_headers(root, understood)
    body_element(root)
    return root


def body_element(root: etree._Element) -> etree._Element:
    """The one element inside the Envelope's Body, or a Client fault."""
    children = [child for child in root.find(f"{{{SOAP_ENV}}}Body") if isinstance(child.tag, str)]
    if len(children) != 1:
        raise SoapFault("Client", f"SOAP Body must hold exactly one element, found {len(children)}")
    return children[0]


def _check_headers(root: etree._Element, understood: frozenset[str]) -> None:
    header = root.find(f"{{{SOAP_ENV}}}Header")
    for block in header if header is not None else ():
        if block.get(f"{{{SOAP_ENV}}}mustUnderstand") in ("1", "true") and block.tag not in understood:
            raise SoapFault("MustUnderstand", f"header block {block.tag} is not understood here")


def wsdl_with_address(wsdl_text: str, location: str) -> bytes:
    """The WSDL with every ``soap:address`` pointing at ``location``."""
    return re.sub(r'(<soap:address\s+location=")[^"]*(")', rf"\g<1>{location}\g<2>", wsdl_text).encode("utf-8")
