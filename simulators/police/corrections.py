"""The police's side of worker data corrections (``NotifyWorkerDataCorrected`` in ``transfer.wsdl``).

The residence register finds the worker by the civil number it held and
records the corrected fields; an unknown civil number is the fault
``Client.UnknownCivilNumber`` (PR-404). A resend with the same
``CorrectionRef`` is acknowledged with the first registration time and
recorded once. ``GET /corrections`` on the police app lists what arrived.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from lxml import etree
from lxml.builder import ElementMaker

from simulators.population import Population
from simulators.soap import business_fault

NS = "urn:om:rop:transfer:2024"
_E = ElementMaker(namespace=NS, nsmap={"trf": NS})
_NEW = ("NewCivilNo", "NewPassportNo", "NewNameAr", "NewNameEn", "NewNationalityCode")


class CorrectionRegister:
    """Corrections received, in arrival order, once per CorrectionRef (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[dict] = []

    def record(self, notice: dict) -> str:
        """Keep ``notice`` unless its ref came before; the registration time of the first."""
        with self.lock:
            for earlier in self.received:
                if earlier["correction_ref"] == notice["correction_ref"]:
                    return earlier["registered_at"]
            notice["registered_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            self.received.append(notice)
            return notice["registered_at"]

    def civil_numbers(self) -> set[str]:
        """Civil numbers the register holds because a correction gave them."""
        with self.lock:
            return {n["corrected"]["NewCivilNo"] for n in self.received if "NewCivilNo" in n["corrected"]}


def correction_handler(population: Population, register: CorrectionRegister):
    """``NotifyWorkerDataCorrected``: record the corrected fields of a worker the register holds."""

    def handle(request: etree._Element) -> etree._Element:
        civil_no = request.findtext(f"{{{NS}}}CivilNo")
        if population.worker_by_civil_number(civil_no) is None and civil_no not in register.civil_numbers():
            raise business_fault(NS, "Client.UnknownCivilNumber", "PR-404",
                                 f"civil number {civil_no} holds no residence in the register")
        corrected = {tag: request.findtext(f"{{{NS}}}{tag}") for tag in _NEW
                     if request.find(f"{{{NS}}}{tag}") is not None}
        notice = {"correction_ref": request.findtext(f"{{{NS}}}CorrectionRef"), "civil_no": civil_no,
                  "passport_no": request.findtext(f"{{{NS}}}PassportNo"), "corrected": corrected,
                  "correction_date": request.findtext(f"{{{NS}}}CorrectionDate")}
        registered_at = register.record(notice)
        return _E.NotifyWorkerDataCorrectedResponse(_E.CorrectionRef(notice["correction_ref"]),
                                                    _E.Acknowledged("Y"), _E.RegisteredAt(registered_at))

    return handle
