"""The police's transfer-of-services service (``schemas/agencies/police/transfer.wsdl``).

* ``CheckTransferEligibility`` answers from the residence register
  (:mod:`simulators.police.residence`) for every worker of the population;
  any other civil number is the fault ``Client.UnknownCivilNumber`` (PR-404).
* ``NotifyTransferCompleted`` moves the worker to the new sponsor and
  acknowledges; a resend with the same ``TransferRef`` is acknowledged with
  the first registration time and applied once.
"""

from __future__ import annotations

from datetime import date

from lxml import etree
from lxml.builder import ElementMaker

from simulators.police.corrections import CorrectionRegister, correction_handler
from simulators.police.residence import TransferRegister, ddmmyyyy, residence_facts
from simulators.population import Population
from simulators.soap import AGENCY_SCHEMAS, SoapService, business_fault

NS = "urn:om:rop:transfer:2024"
_E = ElementMaker(namespace=NS, nsmap={"trf": NS})


def _unknown(civil_no: str | None):
    return business_fault(NS, "Client.UnknownCivilNumber", "PR-404",
                          f"civil number {civil_no} holds no residence in the register")


def eligibility_handler(population: Population, register: TransferRegister):
    """``CheckTransferEligibility``: the worker's residence, presence and absconding report."""

    def handle(request: etree._Element) -> etree._Element:
        civil_no = request.findtext(f"{{{NS}}}CivilNo")
        worker = population.worker_by_civil_number(civil_no)
        if worker is None:
            raise _unknown(civil_no)
        facts = register.current(residence_facts(population, worker))
        optional = []
        if facts.last_exit is not None:
            optional.append(_E.LastExitDate(ddmmyyyy(facts.last_exit)))
        optional.append(_E.AbscondFlag("Y" if facts.absconding_report else "N"))
        if facts.absconding_report is not None:
            number, filed = facts.absconding_report
            optional += [_E.AbscondReportNo(number), _E.AbscondReportDate(ddmmyyyy(filed))]
        return _E.CheckTransferEligibilityResponse(
            _E.CivilNo(worker.civil_number), _E.PassportNo(worker.passport_number), _E.NameAr(worker.name.ar),
            _E.NameEn(worker.name.en), _E.NationalityCode(worker.nationality), _E.SponsorType(facts.sponsor_type),
            _E.SponsorId(facts.sponsor_id), _E.ResidenceExpiry(ddmmyyyy(facts.residence_expiry)),
            _E.PresenceCode(facts.presence), *optional)

    return handle


def _text(request: etree._Element, name: str) -> str | None:
    return request.findtext(f"{{{NS}}}{name}")


def notification_handler(population: Population, register: TransferRegister):
    """``NotifyTransferCompleted``: move the residence to the new sponsor, once per TransferRef."""

    def handle(request: etree._Element) -> etree._Element:
        civil_no = _text(request, "CivilNo")
        if population.worker_by_civil_number(civil_no) is None:
            raise _unknown(civil_no)
        day, month, year = _text(request, "EffectiveDate").split("/")
        notice = {"transfer_ref": _text(request, "TransferRef"), "civil_no": civil_no,
                  "passport_no": _text(request, "PassportNo"),
                  "previous_sponsor": f"{_text(request, 'PrevSponsorType')}:{_text(request, 'PrevSponsorId')}",
                  "new_sponsor_type": _text(request, "NewSponsorType"),
                  "new_sponsor_id": _text(request, "NewSponsorId"),
                  "licence_no": _text(request, "LicenceNo"), "profession_code": _text(request, "ProfessionCode"),
                  "effective_on": date(int(year), int(month), int(day)).isoformat()}
        registered_at = register.record(notice)
        return _E.NotifyTransferCompletedResponse(_E.TransferRef(notice["transfer_ref"]), _E.Acknowledged("Y"),
                                                  _E.RegisteredAt(registered_at))

    return handle


def transfer_service(population: Population, register: TransferRegister,
                     corrections: CorrectionRegister | None = None) -> SoapService:
    """The service at ``/soap/transfer`` (the residence register's, which also takes data corrections)."""
    folder = AGENCY_SCHEMAS / "police"
    return SoapService("transfer", folder / "transfer.wsdl", folder / "transfer.xsd", NS, {
        "CheckTransferEligibility": eligibility_handler(population, register),
        "NotifyTransferCompleted": notification_handler(population, register),
        "NotifyWorkerDataCorrected": correction_handler(population, corrections or CorrectionRegister()),
    })
