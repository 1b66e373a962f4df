"""The police as a SOAP client of the hub: border notifications and visa checks.

The contract is ``schemas/agencies/police/inbound.wsdl`` (types in
``border.xsd`` and ``visa.xsd``), served by the hub gateway at
``/soap/police``. :class:`PoliceMessages` builds the request elements from
the deterministic population; :class:`PoliceClient` signs them with the
police's key (any callable that returns a signed copy of an lxml element -
``hub.signing.Signer(identity).sign``, see :func:`police_signer`) and posts
them, returning the gateway's answer element. With ``sign_envelope`` (see
:func:`police_ws_security`) the client signs the SOAP Body from a WS-Security
header instead, as standard SOAP stacks do.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import requests
from lxml import etree
from lxml.builder import ElementMaker

from hub.errors import AgencyFaultError, AgencyUnavailableError, ParseError
from hub.xmlsafe import parse_xml
from simulators.population import Worker

BORDER_NS = "urn:om:rop:border:2020"
VISA_NS = "urn:om:rop:visa:2021"
GATEWAY_NS = "urn:om:rop:hubgateway:2020"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
MUSCAT = timezone(timedelta(hours=4))

#: police port codes: (port type A/S/L, English name)
PORTS = {
    "MCT": ("A", "Muscat International Airport"), "SLL": ("A", "Salalah Airport"),
    "SOH": ("S", "Port of Sohar"), "DQM": ("A", "Duqm Airport"), "KHS": ("S", "Khasab Port"),
    "WJJ": ("L", "Al Wajajah border post"), "MZN": ("L", "Al Mazyunah border post"), "HTS": ("L", "Hafeet border post"),
}

#: signs an element, returning the signed copy (enveloped ds:Signature as last child)
SignFunction = Callable[[etree._Element], etree._Element]
#: wraps an element in a SOAP envelope whose Body is signed (WS-Security), returning its bytes
EnvelopeSignFunction = Callable[[etree._Element], bytes]


def local_time(moment: datetime | None = None) -> str:
    """Muscat local time without an offset, as the police write it."""
    moment = (moment or datetime.now(timezone.utc)).astimezone(MUSCAT)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def new_msg_id(kind: str) -> str:
    return f"ROP-{kind}-{uuid.uuid4().hex[:16].upper()}"


def years_after(day: date, years: int) -> date:
    """The same day ``years`` later; a card issued on 29 February runs to 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


class PoliceMessages:
    """Builds the police's requests (unsigned) for population workers."""

    def __init__(self) -> None:
        self._b = ElementMaker(namespace=BORDER_NS, nsmap={"bdr": BORDER_NS})
        self._v = ElementMaker(namespace=VISA_NS, nsmap={"visa": VISA_NS})

    def _header(self, e: ElementMaker, kind: str, msg_id: str | None, at: datetime | None) -> list:
        return [e.MsgId(msg_id or new_msg_id(kind)), e.MsgDateTime(local_time(at))]

    def _traveller(self, worker: Worker) -> etree._Element:
        b = self._b
        return b.Traveller(
            b.PassportNo(worker.passport_number),
            b.PassportExpiry((worker.residence_expiry + timedelta(days=3 * 365)).isoformat()),
            b.NationalityCode(worker.nationality), b.FullNameEn(worker.name.en), b.FullNameAr(worker.name.ar),
            b.BirthDate(worker.date_of_birth.isoformat()), b.GenderCode(worker.gender),
        )

    def _port(self, tag: str, code: str) -> etree._Element:
        kind, name = PORTS[code]
        return self._b(tag, self._b.PortCode(code), self._b.PortType(kind), self._b.PortNameEn(name))

    def arrival(self, worker: Worker, *, visa_no: str, port: str = "MCT", flight_no: str | None = None,
                at: datetime | None = None, msg_id: str | None = None) -> etree._Element:
        """``NotifyArrival``: the worker crossed into Oman at ``port``."""
        b = self._b
        flight = [b.FlightNo(flight_no)] if flight_no else []
        return b.NotifyArrival(
            *self._header(b, "ARR", msg_id, at), self._traveller(worker), b.ResidentCardNo(worker.civil_number),
            b.VisaNo(visa_no), b.SponsorCRNo(worker.employer_cr), self._port("EntryPort", port), *flight,
            b.EntryDateTime(local_time(at)),
        )

    def departure(self, worker: Worker, *, port: str = "MCT", final_exit: bool = False, flight_no: str | None = None,
                  at: datetime | None = None, msg_id: str | None = None) -> etree._Element:
        """``NotifyDeparture``: the worker left, on leave or for good."""
        b = self._b
        flight = [b.FlightNo(flight_no)] if flight_no else []
        return b.NotifyDeparture(
            *self._header(b, "DEP", msg_id, at), self._traveller(worker), b.ResidentCardNo(worker.civil_number),
            b.SponsorCRNo(worker.employer_cr), self._port("ExitPort", port), *flight,
            b.ExitDateTime(local_time(at)), b.FinalExit("true" if final_exit else "false"),
        )

    def residence_renewal(self, worker: Worker, *, issued: date | None = None, years: int = 2,
                          at: datetime | None = None, msg_id: str | None = None) -> etree._Element:
        """``NotifyResidenceRenewal``: a new resident card valid ``years`` from ``issued``."""
        b = self._b
        issued = issued or worker.residence_expiry
        return b.NotifyResidenceRenewal(
            *self._header(b, "REN", msg_id, at), self._traveller(worker), b.ResidentCardNo(worker.civil_number),
            b.CardIssueDate(issued.isoformat()), b.CardExpiryDate(years_after(issued, years).isoformat()),
            b.PreviousExpiryDate(worker.residence_expiry.isoformat()), b.SponsorCRNo(worker.employer_cr),
            b.ProfessionCode(worker.profession_code), b.ProfessionNameEn(worker.profession), b.RenewalDateTime(local_time(at)),
        )

    def visa_check(self, licence_no: str, nationality: str, profession_code: str, *, passport_no: str | None = None,
                   at: datetime | None = None, msg_id: str | None = None) -> etree._Element:
        """``CheckVisaEligibility``: may a visa be issued under this licence?"""
        v = self._v
        passport = [v.PassportNo(passport_no)] if passport_no else []
        return v.CheckVisaEligibility(
            *self._header(v, "VCK", msg_id, at), v.LicenceNo(licence_no), v.NationalityCode(nationality),
            v.ProfessionCode(profession_code), *passport,
        )

    def visa_issued(self, worker: Worker, *, licence_no: str, visa_no: str, at: datetime | None = None,
                    valid_days: int = 90, msg_id: str | None = None) -> etree._Element:
        """``ReportVisaIssued``: the visa was issued to ``worker`` under ``licence_no``."""
        v = self._v
        issued = at or datetime.now(timezone.utc)
        return v.ReportVisaIssued(
            *self._header(v, "VIS", msg_id, at), v.VisaNo(visa_no), v.LicenceNo(licence_no),
            v.PassportNo(worker.passport_number), v.NationalityCode(worker.nationality), v.FullNameEn(worker.name.en),
            v.BirthDate(worker.date_of_birth.isoformat()), v.GenderCode(worker.gender),
            v.ProfessionCode(worker.profession_code), v.IssueDateTime(issued.astimezone(MUSCAT).isoformat(timespec="seconds")),
            v.ValidUntil((issued.date() + timedelta(days=valid_days)).isoformat()),
        )


def soap_envelope(payload: etree._Element) -> bytes:
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    etree.SubElement(env, f"{{{SOAP_ENV}}}Body").append(payload)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def police_signer(pki_dir: Path, party: str = "police") -> SignFunction:
    """The police's signing function from a development PKI (``rabt pki init``)."""
    from hub.pki import PkiPaths, load_certificate, load_private_key
    from hub.signing import Identity, Signer

    paths = PkiPaths(Path(pki_dir))
    identity = Identity(party, load_private_key(paths.agency_key(party)), load_certificate(paths.agency_cert(party)))
    return Signer(identity).sign


def police_ws_security(pki_dir: Path, party: str = "police") -> EnvelopeSignFunction:
    """The police's WS-Security signing (X.509 token, signed Body) from a development PKI."""
    from hub.pki import PkiPaths, load_certificate, load_private_key
    from hub.signing import Identity, Signer
    from hub.wssec import signed_envelope

    paths = PkiPaths(Path(pki_dir))
    identity = Identity(party, load_private_key(paths.agency_key(party)), load_certificate(paths.agency_cert(party)))
    signer = Signer(identity)
    return lambda request: signed_envelope(request, signer)


class PoliceClient:
    """Signs police requests and posts them to the hub gateway (``.../soap/police``)."""

    def __init__(self, gateway_url: str, sign: SignFunction | None, *, timeout: float = 10.0,
                 session: requests.Session | None = None, sign_envelope: EnvelopeSignFunction | None = None) -> None:
        self.gateway_url = gateway_url
        self.sign = sign
        self.sign_envelope = sign_envelope
        self.timeout = timeout
        self.session = session or requests.Session()
        self.messages = PoliceMessages()

    def prepare(self, request: etree._Element) -> bytes:
        """The SOAP envelope for ``request``: its Body signed with WS-Security, or the request signed enveloped,
        when a signing function was given."""
        if self.sign_envelope is not None:
            return self.sign_envelope(request)
        return soap_envelope(self.sign(request) if self.sign else request)

    def send(self, request: etree._Element) -> etree._Element:
        """Post one request; return the answer element or raise a hub AgencyError."""
        operation = etree.QName(request).localname
        try:
            reply = self.session.post(self.gateway_url, data=self.prepare(request), timeout=self.timeout, headers={
                "Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{GATEWAY_NS}#{operation}"'})
        except requests.RequestException as exc:
            raise AgencyUnavailableError(f"{operation}: gateway unreachable: {exc}", agency="hub") from exc
        return read_answer(operation, reply)

    def notify_arrival(self, worker: Worker, **kw) -> etree._Element:
        return self.send(self.messages.arrival(worker, **kw))

    def notify_departure(self, worker: Worker, **kw) -> etree._Element:
        return self.send(self.messages.departure(worker, **kw))

    def notify_residence_renewal(self, worker: Worker, **kw) -> etree._Element:
        return self.send(self.messages.residence_renewal(worker, **kw))

    def check_visa_eligibility(self, licence_no: str, nationality: str, profession_code: str, **kw) -> etree._Element:
        return self.send(self.messages.visa_check(licence_no, nationality, profession_code, **kw))

    def report_visa_issued(self, worker: Worker, **kw) -> etree._Element:
        return self.send(self.messages.visa_issued(worker, **kw))

    def close(self) -> None:
        self.session.close()


def read_answer(operation: str, reply: requests.Response) -> etree._Element:
    """The answer element of a gateway reply; AgencyFaultError for a SOAP Fault, AgencyUnavailableError for no SOAP."""
    if reply.status_code >= 500 and "xml" not in reply.headers.get("Content-Type", ""):
        raise AgencyUnavailableError(f"{operation}: gateway answered HTTP {reply.status_code}", agency="hub")
    try:
        body = parse_xml(reply.content).find(f"{{{SOAP_ENV}}}Body")
    except ParseError as exc:
        raise AgencyUnavailableError(f"{operation}: unreadable answer (HTTP {reply.status_code}): {exc.reason}",
                                     agency="hub") from exc
    answer = next((child for child in (body if body is not None else []) if isinstance(child.tag, str)), None)
    if answer is None:
        raise AgencyUnavailableError(f"{operation}: answer has no SOAP Body content (HTTP {reply.status_code})", agency="hub")
    if answer.tag == f"{{{SOAP_ENV}}}Fault":
        raise AgencyFaultError(f"{operation} refused: {answer.findtext('faultstring')}",
                               fault_code=answer.findtext("faultcode"), agency="hub")
    return answer
