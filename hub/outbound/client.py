"""One agency SOAP service, called through zeep's public client API with raw XML in and out.

zeep does what it is good at, through its hooks only: it loads the agency's
WSDL from the local contract file (``schemas/agencies/<agency>/``, the copy the
simulators serve), builds the envelope with the operation's SOAPAction, applies
WS-Addressing, its plugins and WS-Security (``wsse=``), owns the HTTP session
and its timeouts, and reads SOAP Faults (``binding.process_error``). The call
is an ordinary ``client.service`` call; what the hub adds rides on zeep's seams:

* :class:`~hub.outbound.plugins.RequestBody` (an egress plugin) puts the element the declarative
  mapping built into the Body zeep made for it — the payload stays the
  mapping's XML, never zeep's object (de)serialization of it. zeep applies
  WS-Security after the plugins, so a WS-Security signature covers that body;
* :class:`~hub.outbound.bounded.BoundedTransport` (a ``Transport`` subclass)
  reads the answer within a size and a time budget;
* ``Settings(raw_response=True)`` hands back the raw answer, which the hub's
  one hardened parser (:mod:`hub.xmlsafe`) reads before anything trusts it;
  then zeep's WS-Security check, the ingress plugins and the Fault reader run
  on that parsed tree;
* :class:`~hub.outbound.plugins.CallLog` (a plugin) logs each call's operation and sizes, never its
  content, which is personal data.

Every requests/zeep exception is translated here, see :data:`REQUESTS_ERRORS`
and :data:`ZEEP_ERRORS`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import requests
import zeep
import zeep.exceptions
import zeep.plugins
import zeep.xsd
from lxml import etree

from hub.adapter import OutboundService
from hub.config import XmlLimits
from hub.errors import (
    AgencyError,
    AgencyFaultError,
    AgencyUnavailableError,
    ConfigError,
    InputError,
    ParseError,
    RabtError,
    SchemaError,
    SignatureError,
)
from hub.outbound.bounded import AnswerTooLarge, BoundedTransport
from hub.outbound.config import OutboundSettings
from hub.outbound.plugins import CallLog, RequestBody
from hub.soap import SOAP_ENV
from hub.xmlsafe import parse_xml

_FAULT = f"{{{SOAP_ENV}}}Fault"


class AgencySoapFault(AgencyFaultError):
    """The agency answered with a SOAP Fault: its faultcode, faultstring and detail."""

    def __init__(self, reason: str, *, fault_code: str | None, fault_text: str, system: str,
                 detail: etree._Element | None = None, raw: bytes = b"", **kw) -> None:
        super().__init__(reason, fault_code=fault_code, **kw)
        self.fault_text = fault_text
        self.system = system
        self.detail = detail
        self.raw = raw

    @property
    def client_side(self) -> bool:
        """True when the agency blames the request (``Client…``): asking again will not help."""
        return (self.fault_code or "").rpartition(":")[2].startswith("Client")


class AnswerRefusedError(InputError):
    """The agency's answer was refused: malformed, hostile, off-contract or unmappable.

    ``code`` is the refusing stage's (``parse``, ``schema``, ``mapping``); ``raw``
    holds the bytes the agency sent, kept for the operator.
    """

    def __init__(self, reason: str, *, raw: bytes, code: str = "input", **kw) -> None:
        super().__init__(reason, **kw)
        self.raw = raw
        self.code = code


#: requests exception → (hub error class, what it means); first match wins, most specific first
REQUESTS_ERRORS: tuple[tuple[type[Exception], type[RabtError], str], ...] = (
    (requests.exceptions.Timeout, AgencyUnavailableError, "no answer in time"),
    (requests.exceptions.InvalidURL, ConfigError, "the endpoint URL is not valid"),
    (requests.exceptions.MissingSchema, ConfigError, "the endpoint URL has no scheme"),
    (requests.exceptions.InvalidSchema, ConfigError, "the endpoint URL has an unsupported scheme"),
    (requests.exceptions.InvalidHeader, ConfigError, "an HTTP header is not valid"),
    (requests.exceptions.URLRequired, ConfigError, "no endpoint URL"),
    (requests.exceptions.TooManyRedirects, AgencyError, "too many redirects"),
    (requests.exceptions.ConnectionError, AgencyUnavailableError, "cannot connect"),
    (requests.exceptions.ChunkedEncodingError, AgencyUnavailableError, "the answer broke off"),
    (requests.exceptions.ContentDecodingError, AgencyUnavailableError, "the answer could not be decoded"),
    (requests.exceptions.RequestException, AgencyUnavailableError, "the HTTP call failed"),
)


def _translate(table, exc: Exception, *, agency: str, where: str, library: str) -> RabtError:
    """The hub error ``table`` gives for ``exc``, raised while calling ``where``; TypeError if it has none."""
    for library_error, hub_error, meaning in table:
        if isinstance(exc, library_error):
            return hub_error(f"{where}: {meaning} ({type(exc).__name__}: {exc})", agency=agency)
    raise TypeError(f"not a {library} exception: {exc!r}")


def translate_requests_error(exc: Exception, *, agency: str, where: str) -> RabtError:
    """The hub error for a requests exception raised while calling ``where``."""
    return _translate(REQUESTS_ERRORS, exc, agency=agency, where=where, library="requests")


#: zeep exception → (hub error class, what it means); first match wins, most specific first
ZEEP_ERRORS: tuple[tuple[type[Exception], type[RabtError], str], ...] = (
    (zeep.exceptions.Fault, AgencyFaultError, "the agency answered a SOAP Fault"),
    (zeep.exceptions.SignatureVerificationFailed, SignatureError, "the WS-Security signature does not verify"),
    (zeep.exceptions.DTDForbidden, ParseError, "a DOCTYPE is not allowed"),
    (zeep.exceptions.EntitiesForbidden, ParseError, "entities are not allowed"),
    (zeep.exceptions.ExternalReferenceForbidden, ParseError, "external references are not allowed"),
    (zeep.exceptions.XMLSyntaxError, ParseError, "the XML is not well-formed"),
    (zeep.exceptions.XMLParseError, ParseError, "the XML does not fit the contract"),
    (zeep.exceptions.UnexpectedElementError, SchemaError, "an element the contract does not allow"),
    (zeep.exceptions.ValidationError, SchemaError, "the message does not fit the contract"),
    (zeep.exceptions.TransportError, AgencyError, "the HTTP exchange failed"),
    (zeep.exceptions.WsdlSyntaxError, ConfigError, "the WSDL is not valid"),
    (zeep.exceptions.LookupError, ConfigError, "the WSDL lacks a type or element"),
    (zeep.exceptions.NamespaceError, ConfigError, "the WSDL uses an unknown namespace"),
    (zeep.exceptions.IncompleteMessage, ConfigError, "the WSDL has an incomplete message"),
    (zeep.exceptions.IncompleteOperation, ConfigError, "the WSDL has an incomplete operation"),
    (zeep.exceptions.Error, AgencyError, "the SOAP call failed"),
)


def translate_zeep_error(exc: Exception, *, agency: str, where: str) -> RabtError:
    """The hub error for a zeep exception raised while calling ``where``."""
    return _translate(ZEEP_ERRORS, exc, agency=agency, where=where, library="zeep")


def translate_fault(fault: zeep.exceptions.Fault, *, agency: str, system: str, raw: bytes = b"") -> AgencySoapFault:
    """The hub error for a SOAP Fault as zeep read it."""
    detail = fault.detail if isinstance(fault.detail, etree._Element) else None
    text = (fault.message or "").strip() or "no faultstring"
    return AgencySoapFault(f"{agency}/{system} answered SOAP Fault {fault.code}: {text}", fault_code=fault.code,
                           fault_text=text, system=system, detail=detail, raw=raw, agency=agency)


@dataclass(frozen=True)
class HttpAnswer:
    """What came back over HTTP, before it is trusted: status and the raw body."""

    status: int
    raw: bytes
    envelope: etree._Element | None = None
    """The parsed SOAP envelope when the status check already needed it (HTTP 500)."""
    too_large: str = ""
    """Why the answer was cut off unread (over the size limit); ``raw`` holds its beginning."""


def zeep_client(wsdl: Path, settings: OutboundSettings, *, plugins: Sequence[zeep.Plugin] = (),
                session: requests.Session | None = None, limits: XmlLimits | None = None,
                wsse=None) -> zeep.Client:
    """A zeep client for a local WSDL, locked down: no DTDs, entities or external references.

    Answers are read within the XML size limit and ``call_timeout`` for the whole call,
    and handed back raw (``raw_response``), for the hub's own parser to read.
    """
    transport = BoundedTransport(session=session or requests.Session(), timeout=settings.call_timeout,
                                 operation_timeout=settings.call_timeout,
                                 max_bytes=(limits or XmlLimits()).max_bytes, deadline=settings.call_timeout)
    hardened = zeep.Settings(strict=True, raw_response=True, xml_huge_tree=False, forbid_dtd=True,
                             forbid_entities=True, forbid_external=True)
    try:
        return zeep.Client(str(wsdl), transport=transport, settings=hardened, plugins=list(plugins), wsse=wsse)
    except (OSError, zeep.exceptions.Error, etree.LxmlError, ValueError) as exc:
        raise ConfigError(f"cannot load WSDL {wsdl}: {exc}") from exc


class AgencyClient:
    """Calls one operation of one agency service; build once per worker, reuse per message.

    ``plugins`` and ``wsse`` are zeep's own (e.g. ``zeep.wsse.UsernameToken``) and
    apply to every call, as they would on a plain zeep client.
    """

    def __init__(self, agency: str, service: OutboundService, schema_dir: Path, url: str,
                 settings: OutboundSettings, *, plugins: Sequence[zeep.Plugin] = (),
                 limits: XmlLimits | None = None, session: requests.Session | None = None, wsse=None) -> None:
        self.agency = agency
        self.service = service
        self.url = url
        self.limits = limits
        self._body = RequestBody()
        self.client = zeep_client(Path(schema_dir) / service.wsdl, settings, session=session, limits=limits,
                                  plugins=[self._body, *plugins, CallLog(agency)], wsse=wsse)
        binding = self._binding()
        self.proxy = self.client.create_service(binding.name, url)  # the WSDL's address replaced by ours
        try:
            self.operation = binding.get(service.operation)
        except ValueError as exc:
            raise ConfigError(f"{service.wsdl} has no operation {service.operation}", agency=agency) from exc
        self.binding = binding
        self.request_element = self.operation.input.body.qname
        self.response_element = self.operation.output.body.qname
        self._empty_request = _empty_arguments(self.operation.input.body)

    def _binding(self):
        services = self.client.wsdl.services
        name = self.service.service or next(iter(services), None)
        if name not in services:
            raise ConfigError(f"{self.service.wsdl} has no service {name!r} (has {sorted(services)})", agency=self.agency)
        ports = services[name].ports
        port = self.service.port or next(iter(ports), None)
        if port not in ports:
            raise ConfigError(f"service {name} has no port {port!r} (has {sorted(ports)})", agency=self.agency)
        return ports[port].binding

    @property
    def where(self) -> str:
        return f"{self.agency}/{self.service.system} at {self.url}"

    def post(self, request: etree._Element) -> HttpAnswer:
        """Send ``request`` in a SOAP envelope; transient HTTP trouble raises AgencyUnavailableError."""
        if etree.QName(request).text != self.request_element.text:
            raise SchemaError(f"mapping built {request.tag}, but {self.service.operation} takes "
                              f"{self.request_element.text}", agency=self.agency)
        try:
            with self._body.carrying(copy.deepcopy(request)):
                response = self.proxy[self.service.operation](**self._empty_request)
            raw = response.content  # read inside the try: a body that breaks off raises here
        except requests.exceptions.RequestException as exc:
            raise translate_requests_error(exc, agency=self.agency, where=self.where) from exc
        except zeep.exceptions.Error as exc:
            raise translate_zeep_error(exc, agency=self.agency, where=self.where) from exc
        except AnswerTooLarge as big:  # refused by read(), as every answer that is not XML we take
            limit = self.client.transport.max_bytes
            why = (f"answer declares {big.declared} bytes, over the limit of {limit}" if big.declared is not None
                   else f"answer is over the limit of {limit} bytes (cut off after {big.read})")
            return HttpAnswer(big.status, big.prefix, too_large=why)
        return self._check_status(response.status_code, raw, response.headers)

    def _check_status(self, status: int, raw: bytes, headers) -> HttpAnswer:
        if 200 <= status < 300:
            return HttpAnswer(status, raw)
        if status == 500:
            # SOAP 1.1 sends Faults with 500; anything else on a 500 is the server failing
            envelope = self._parse_or_none(raw)
            if envelope is not None and envelope.find(f"{{{SOAP_ENV}}}Body/{_FAULT}") is not None:
                return HttpAnswer(status, raw, envelope)
        if status >= 500:
            retry = headers.get("Retry-After")
            hint = f", Retry-After {retry}" if retry else ""
            raise AgencyUnavailableError(f"{self.where}: HTTP {status}{hint}", agency=self.agency)
        raise AgencyError(f"{self.where}: unexpected HTTP {status}", agency=self.agency)

    def _parse_or_none(self, raw: bytes) -> etree._Element | None:
        try:
            return parse_xml(raw, self.limits, agency=self.agency)
        except RabtError:
            return None

    def read(self, answer: HttpAnswer) -> etree._Element:
        """The response element; ParseError (hostile / malformed), AgencySoapFault, SchemaError."""
        if answer.too_large:
            raise ParseError(answer.too_large, agency=self.agency)
        envelope = answer.envelope if answer.envelope is not None else parse_xml(answer.raw, self.limits,
                                                                                 agency=self.agency)
        try:
            for wsse in _as_list(self.client.wsse):
                wsse.verify(envelope)
            envelope, _ = zeep.plugins.apply_ingress(self.client, envelope, {}, self.operation)
        except zeep.exceptions.Error as exc:
            raise translate_zeep_error(exc, agency=self.agency, where=self.where) from exc
        if envelope.tag != f"{{{SOAP_ENV}}}Envelope":
            raise SchemaError(f"{self.where} answered {envelope.tag}, not a SOAP 1.1 Envelope", agency=self.agency)
        if envelope.find(f"{{{SOAP_ENV}}}Body/{_FAULT}") is not None:
            try:
                self.binding.process_error(envelope, self.operation)
            except zeep.exceptions.Fault as fault:
                raise translate_fault(fault, agency=self.agency, system=self.service.system,
                                      raw=answer.raw) from fault
        body = envelope.find(f"{{{SOAP_ENV}}}Body")
        children = [] if body is None else [child for child in body if isinstance(child.tag, str)]
        if len(children) != 1 or children[0].tag != self.response_element.text:
            found = ", ".join(child.tag for child in children) or "nothing"
            raise SchemaError(f"{self.where} answered {found}; expected {self.response_element.text}",
                              agency=self.agency)
        return children[0]

    def close(self) -> None:
        self.client.transport.session.close()


def _empty_arguments(body) -> dict[str, object]:
    """Arguments that make zeep render the request element empty, for :class:`RequestBody` to replace."""
    return {name: zeep.xsd.SkipValue for name, _ in getattr(body.type, "elements", ())}


def _as_list(wsse) -> list:
    return wsse if isinstance(wsse, list) else [wsse] if wsse else []
