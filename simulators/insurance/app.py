"""Social Protection Fund simulator: income proof from two funds.

One app, two endpoints of the same contract (``insurance/income-proof.xsd``):

* ``/soap/social-insurance`` answers for citizens insured by social
  insurance (private sector, FundCode SI);
* ``/soap/civil-service-pension`` answers for citizens insured by the
  civil-service pension (government sector, FundCode CSP).

Each endpoint answers only for its own insured. Anyone else - a citizen of
the other fund, an uninsured citizen, an unknown number - gets the SOAP
Fault ``Client.NotInsured`` (detail code SPF-2001) rather than an empty
answer, so the caller can tell "not insured here" from a broken reply.

Social insurance also takes ``NotifyInsuredPersonCorrected``: a worker's
corrected data, answered RECEIVED for its insured and NOT_INSURED for anyone
else; ``GET /corrections`` lists what arrived (once per ReferenceNo).
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, jsonify
from lxml import etree
from lxml.builder import ElementMaker

from simulators.population import Citizen, Population
from simulators.soap import AGENCY_SCHEMAS, SoapService, business_fault, create_agency_app

NS = "urn:om:spf:income:1"
FUNDS = {
    "social-insurance": ("SI", "social insurance"),
    "civil-service-pension": ("CSP", "civil-service pension"),
}
# Government units that employ civil-service pension members: (unit number, English, Arabic)
GOVERNMENT_UNITS = (
    ("GU-0104", "Ministry of Education", "وزارة التربية والتعليم"),
    ("GU-0108", "Ministry of Health", "وزارة الصحة"),
    ("GU-0112", "Ministry of Labour", "وزارة العمل"),
    ("GU-0115", "Ministry of Housing and Urban Planning", "وزارة الإسكان والتخطيط العمراني"),
    ("GU-0121", "Ministry of Agriculture, Fisheries and Water Resources", "وزارة الثروة الزراعية والسمكية وموارد المياه"),
    ("GU-0130", "Muscat Municipality", "بلدية مسقط"),
)


def employer_of(population: Population, citizen: Citizen) -> tuple[str, str, str]:
    """(registration number, English name, Arabic name) of the citizen's employer."""
    employer = population.employer_by_cr(citizen.employer_cr) if citizen.employer_cr else None
    if employer is not None:
        return employer.cr_number, employer.name.en, employer.name.ar
    return GOVERNMENT_UNITS[citizen.index % len(GOVERNMENT_UNITS)]


def income_proof_handler(population: Population, fund: str):
    """``GetIncomeProof`` for one fund: only that fund's insured are known."""
    fund_code, fund_label = FUNDS[fund]
    e = ElementMaker(namespace=NS, nsmap={"spf": NS})
    wage_month = (population.as_of.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")

    def handle(request: etree._Element) -> etree._Element:
        civil_id = request.findtext(f"{{{NS}}}CivilId")
        citizen = population.citizen_by_civil_number(civil_id)
        if citizen is None or citizen.insurer != fund or citizen.monthly_wage is None:
            raise business_fault(NS, "Client.NotInsured", "SPF-2001",
                                 f"civil number {civil_id} is not insured by the {fund_label} fund")
        reg_no, employer_en, employer_ar = employer_of(population, citizen)
        return e.GetIncomeProofResponse(
            e.CivilId(citizen.civil_number),
            e.InsuranceNo(f"{fund_code}-{citizen.index:07d}"),
            e.InsuredNameAr(citizen.name.ar),
            e.InsuredNameEn(citizen.name.en),
            e.FundCode(fund_code),
            e.InsuredStatusCode("10" if citizen.employment_active else "20"),
            e.EmployerRegNo(reg_no),
            e.EmployerNameAr(employer_ar),
            e.EmployerNameEn(employer_en),
            e.MonthlyWage(f"{citizen.monthly_wage:.3f}"),
            e.WageMonth(wage_month),
        )

    return handle


def correction_handler(population: Population, received: list[dict]):
    """``NotifyInsuredPersonCorrected``: keep the corrected items once per ReferenceNo."""
    e = ElementMaker(namespace=NS, nsmap={"spf": NS})

    def handle(request: etree._Element) -> etree._Element:
        reference, civil_id = request.findtext(f"{{{NS}}}ReferenceNo"), request.findtext(f"{{{NS}}}CivilId")
        citizen = population.citizen_by_civil_number(civil_id)
        status = "RECEIVED" if citizen is not None and citizen.insurer == "social-insurance" else "NOT_INSURED"
        if all(r["reference_no"] != reference for r in received):
            changed = list(request.iterfind(f"{{{NS}}}ChangedItem"))
            items = {i.findtext(f"{{{NS}}}ItemCode"): i.findtext(f"{{{NS}}}NewValue") for i in changed}
            # the old values only as far as they arrived (the hub may withhold them from the fund)
            old = {i.findtext(f"{{{NS}}}ItemCode"): i.findtext(f"{{{NS}}}OldValue") for i in changed
                   if i.find(f"{{{NS}}}OldValue") is not None}
            received.append({"reference_no": reference, "civil_id": civil_id, "items": items, "old_values": old,
                             "status": status})
        return e.NotifyInsuredPersonCorrectedResponse(e.ReferenceNo(reference), e.Status(status))

    return handle


def services(population: Population, state: dict) -> list[SoapService]:
    folder = AGENCY_SCHEMAS / "insurance"
    corrections = state.setdefault("corrections", [])
    found = []
    for fund in FUNDS:
        operations = {"GetIncomeProof": income_proof_handler(population, fund)}
        if fund == "social-insurance":
            operations["NotifyInsuredPersonCorrected"] = correction_handler(population, corrections)
        found.append(SoapService(fund, folder / f"{fund}.wsdl", folder / "income-proof.xsd", NS, operations))
    return found


def create_app(config: dict | None = None) -> Flask:
    """The insurance simulator app; ``config`` as for :func:`simulators.soap.create_agency_app`."""
    app = create_agency_app("insurance", config, services)
    corrections: list[dict] = app.extensions["rabt_simulator"]["state"]["corrections"]

    @app.get("/corrections")
    def corrections_received():
        return jsonify(corrections=list(corrections))

    return app
