"""Royal Oman Police simulator: the services the hub calls.

``/soap/civil-registry`` implements ``schemas/agencies/police/civil-registry.wsdl``
for every citizen of the deterministic population; any other civil number
gets the fault ``Client.UnknownCivilNumber`` (detail code CS-1404).
``/soap/transfer`` (``transfer.wsdl``) answers whether a worker's transfer of
services may proceed and receives completed transfers
(:mod:`simulators.police.transfer`); ``GET /transfers`` lists those received
(JSON), for tests and demos; it also takes workers' corrected data
(:mod:`simulators.police.corrections`), listed by ``GET /corrections``.

The border and visa exchanges go the other way (the police call the hub);
:mod:`simulators.police.client` plays that part.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from flask import Flask, jsonify
from lxml import etree
from lxml.builder import ElementMaker

from simulators.police.corrections import CorrectionRegister
from simulators.police.residence import TransferRegister, ddmmyyyy
from simulators.police.transfer import transfer_service
from simulators.population import Citizen, Population
from simulators.soap import AGENCY_SCHEMAS, SoapService, business_fault, create_agency_app

NS = "urn:om:rop:civilregistry:2019"
MARITAL_CODES = {"single": "S", "married": "M", "divorced": "D", "widowed": "W"}
GENDER_CODES = {"M": "1", "F": "2"}
OMAN_NUMERIC = "512"


def record_date(population: Population, citizen: Citizen) -> date:
    """When the citizen's current status was recorded; the same on every call."""
    if citizen.marital_status == "single":
        return citizen.date_of_birth  # the birth registration is the last civil event
    draw = random.Random(f"{population.spec.seed}:civil-record:{citizen.index}")
    earliest = citizen.date_of_birth + timedelta(days=365 * 20)
    span = max(1, (population.as_of - earliest).days)
    return min(population.as_of, earliest + timedelta(days=draw.randrange(span)))


def marital_status_handler(population: Population):
    """``GetMaritalStatus``: the citizen's status, spouse and record date."""
    e = ElementMaker(namespace=NS, nsmap={"rop": NS})

    def handle(request: etree._Element) -> etree._Element:
        civil_no = request.findtext(f"{{{NS}}}CivilNo")
        citizen = population.citizen_by_civil_number(civil_no)
        if citizen is None:
            raise business_fault(NS, "Client.UnknownCivilNumber", "CS-1404",
                                 f"civil number {civil_no} is not registered in the civil registry")
        spouse = [e.SpouseCivilNo(citizen.spouse_civil_number)] if citizen.spouse_civil_number else []
        return e.GetMaritalStatusResponse(
            e.CivilNo(citizen.civil_number),
            e.FullNameAr(citizen.name.ar),
            e.FullNameEn(citizen.name.en),
            e.BirthDate(ddmmyyyy(citizen.date_of_birth)),
            e.GenderCode(GENDER_CODES[citizen.gender]),
            e.NationalityNo(OMAN_NUMERIC),
            e.MaritalStatusCode(MARITAL_CODES[citizen.marital_status]),
            *spouse,
            e.RecordDate(ddmmyyyy(record_date(population, citizen))),
        )

    return handle


def services(population: Population, state: dict) -> list[SoapService]:
    folder = AGENCY_SCHEMAS / "police"
    return [
        SoapService(
            name="civil-registry",
            wsdl=folder / "civil-registry.wsdl",
            xsd=folder / "civil-registry.xsd",
            namespace=NS,
            operations={"GetMaritalStatus": marital_status_handler(population)},
        ),
        transfer_service(population, state.setdefault("transfers", TransferRegister()),
                         state.setdefault("corrections", CorrectionRegister())),
    ]


def create_app(config: dict | None = None) -> Flask:
    """The police simulator app; ``config`` as for :func:`simulators.soap.create_agency_app`."""
    app = create_agency_app("police", config, services)
    register: TransferRegister = app.extensions["rabt_simulator"]["state"]["transfers"]

    @app.get("/transfers")
    def transfers():
        with register.lock:
            return jsonify(transfers=list(register.received))

    corrections: CorrectionRegister = app.extensions["rabt_simulator"]["state"]["corrections"]

    @app.get("/corrections")
    def corrections_received():
        with corrections.lock:
            return jsonify(corrections=list(corrections.received))

    return app
