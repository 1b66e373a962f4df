"""SOAP 1.1 plumbing shared by the agency simulators.

An agency simulator is a Flask app that serves one or more SOAP services.
Each :class:`SoapService` names its WSDL and XSD under ``schemas/agencies/``
(the one copy of the contract, also loaded by the hub's zeep clients) and
maps request element names to handlers. :func:`install_soap_routes` adds:

* ``GET /soap/<service>?wsdl`` - the WSDL, ``soap:address`` rewritten to the
  URL the request came in on, so ``zeep.Client(url)`` calls this server;
* ``GET /soap/<file>.xsd`` - the schemas the WSDLs import, relative to the
  WSDL URL;
* ``POST /soap/<service>`` - parse (hardened), fault injection, validate
  against the XSD, dispatch, answer. Anything wrong with a request is a SOAP
  1.1 Fault (HTTP 500, faultcode ``Client``) naming what was wrong; a bug in
  a handler is a ``Server`` fault, never a crashed server.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from flask import Flask, Response, abort, request
from lxml import etree

from hub.config import XmlLimits
from hub.resources import agency_schemas
from hub.soap import XML_CONTENT_TYPE, SoapFault, envelope, fault_envelope, parse_request, service_error, wsdl_with_address
from simulators.faults import FaultInjector, injector_from_config, install_admin_routes
from simulators.population import Population, PopulationSpec

#: the same contracts the hub serves and its zeep clients load: one copy
AGENCY_SCHEMAS = agency_schemas()

log = logging.getLogger(__name__)

#: a handler receives the validated request element and returns the response element
Handler = Callable[[etree._Element], etree._Element]


@dataclass(frozen=True)
class SoapService:
    """One SOAP endpoint of a simulator: its contract files and its operations."""

    name: str
    """Path segment: the service answers at ``/soap/<name>``."""

    wsdl: Path
    """The WSDL file served at ``?wsdl``."""

    xsd: Path
    """The schema that requests and responses are validated against."""

    namespace: str
    """Target namespace of the request and response elements."""

    operations: Mapping[str, Handler] = field(default_factory=dict)
    """Request element local name (= operation name) to handler."""

    @cached_property
    def schema(self) -> etree.XMLSchema:
        # Our own contract file, trusted; parsed once per service.
        return etree.XMLSchema(etree.parse(str(self.xsd)))

    def wsdl_for(self, base_url: str) -> bytes:
        """The WSDL with its ``soap:address`` pointing at ``base_url``."""
        text = self.wsdl.read_text(encoding="utf-8")
        location = f"{base_url.rstrip('/')}/soap/{self.name}"
        return wsdl_with_address(text, location)


def business_fault(namespace: str, code: str, error_code: str, text: str) -> SoapFault:
    """A fault a real agency would send for a well-formed request it cannot answer."""
    return SoapFault(code, text, detail=service_error(namespace, error_code, text))


def xml_response(body: bytes, status: int = 200) -> Response:
    return Response(body, status=status, content_type=XML_CONTENT_TYPE)


def dispatch(service: SoapService, payload: etree._Element, *, check_response: bool = True) -> bytes:
    """Validate ``payload``, run its handler, return the response envelope (faults raise)."""
    qname = etree.QName(payload)
    handler = service.operations.get(qname.localname) if qname.namespace == service.namespace else None
    if handler is None:
        offered = ", ".join(sorted(service.operations))
        raise SoapFault("Client", f"unknown operation {qname.text}; /soap/{service.name} offers {offered} in {service.namespace}")
    if not service.schema.validate(payload):
        raise SoapFault("Client", f"{qname.localname} does not match {service.xsd.name}: {_first_error(service.schema)}")
    response = handler(payload)
    if check_response and not service.schema.validate(response):
        # A simulator bug, not the caller's fault: say so rather than send a bad answer.
        raise SoapFault("Server", f"simulator built an invalid {etree.QName(response).localname}: {_first_error(service.schema)}")
    return envelope(response)


def _first_error(schema: etree.XMLSchema) -> str:
    error = schema.error_log.last_error
    return error.message if error is not None else "schema validation failed"


def operation_of(data: bytes) -> tuple[etree._Element | None, str | None, SoapFault | None]:
    """Parse a request body: (payload, operation name, fault if unparseable)."""
    try:
        payload = parse_request(data)
    except SoapFault as fault:
        return None, None, fault
    return payload, etree.QName(payload).localname, None


def install_soap_routes(app: Flask, services: list[SoapService], injector: FaultInjector) -> None:
    """Serve ``services`` (WSDL, XSDs, SOAP POST) on ``app`` with fault injection."""
    by_name = {service.name: service for service in services}
    schema_dirs = {service.wsdl.parent for service in services} | {service.xsd.parent for service in services}
    check_response = bool(app.config.get("VALIDATE_RESPONSES", True))

    @app.get("/soap/<name>")
    def soap_get(name: str):
        if name in by_name and "wsdl" in {key.lower() for key in request.args}:
            return xml_response(by_name[name].wsdl_for(request.host_url))
        if name in by_name:
            return Response(f"POST SOAP 1.1 requests here; the contract is at /soap/{name}?wsdl\n", content_type="text/plain")
        return _schema_file(name, schema_dirs)

    @app.post("/soap/<name>")
    def soap_post(name: str):
        service = by_name.get(name)
        if service is None:
            return xml_response(fault_envelope(SoapFault("Client", f"no SOAP service at /soap/{name}; try {sorted(by_name)}")), 404)
        return answer(service, request.get_data(), injector, check_response=check_response)

    @app.errorhandler(413)
    def too_large(_error):
        limit = app.config.get("MAX_CONTENT_LENGTH")
        return xml_response(fault_envelope(SoapFault("Client", f"request body is over the limit of {limit} bytes")), 500)


def answer(service: SoapService, data: bytes, injector: FaultInjector, *, check_response: bool = True) -> Response:
    """The HTTP answer to one SOAP POST: injected misbehaviour, a response, or a fault."""
    payload, operation, fault = operation_of(data)
    injected = injector.intervene(operation)
    if injected is not None:
        return injected
    try:
        if fault is not None:
            raise fault
        return xml_response(dispatch(service, payload, check_response=check_response))
    except SoapFault as soap_fault:
        return xml_response(fault_envelope(soap_fault), 500)
    except Exception as exc:  # noqa: BLE001 - a simulator bug must still answer SOAP
        log.exception("handler for %s failed", operation)
        return xml_response(fault_envelope(SoapFault("Server", f"internal error in {operation}: {exc}")), 500)


def _schema_file(name: str, schema_dirs: set[Path]) -> Response:
    # Only plain .xsd names from the services' own folders: no paths, no traversal.
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*\.xsd", name):
        for folder in sorted(schema_dirs):
            candidate = folder / name
            if candidate.is_file():
                return xml_response(candidate.read_bytes())
    abort(404)


def population_from(config: Mapping) -> Population:
    """The deterministic population an app serves: ``population``, else ``seed``/``workers``."""
    if config.get("population") is not None:
        return config["population"]
    seed = int(config.get("seed", PopulationSpec.seed))
    workers = config.get("workers")
    spec = PopulationSpec(seed=seed) if workers is None else PopulationSpec.scaled(int(workers), seed=seed)
    return Population(spec)


def create_agency_app(agency: str, config: Mapping | None, services: Callable[[Population, dict], list[SoapService]]) -> Flask:
    """The Flask app of one agency simulator: its SOAP services plus ``/_admin/faults``.

    ``config`` keys: ``seed``, ``workers`` or ``population`` (the data),
    ``faults`` and ``fault_seed`` (initial fault rules), ``validate_responses``
    (default True: the simulator checks its own answers against the XSD).
    """
    config = dict(config or {})
    population = population_from(config)
    injector = injector_from_config(config)
    app = Flask(f"simulators.{agency}")
    app.config["VALIDATE_RESPONSES"] = config.get("validate_responses", True)
    # Refuse oversized bodies before reading them; parse_xml enforces its own limit too.
    app.config["MAX_CONTENT_LENGTH"] = XmlLimits().max_bytes + 64 * 1024
    state: dict = {}
    soap_services = services(population, state)
    install_soap_routes(app, soap_services, injector)
    install_admin_routes(app, injector)
    app.extensions["rabt_simulator"] = {
        "agency": agency, "population": population, "injector": injector, "services": soap_services, "state": state,
    }

    @app.get("/healthz")
    def healthz():
        return {"agency": agency, "services": [f"/soap/{s.name}" for s in soap_services], "seed": population.spec.seed}

    return app
