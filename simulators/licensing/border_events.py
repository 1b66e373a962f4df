"""Border notifications read from their canonical bodies: WorkerArrival, WorkerDeparture, ResidenceRenewal.

Every arrival a border post pushes is read here, so the reading is kept to
two passes over the body's children (:func:`worker_event`), with the same
values and refusals as :func:`canonical_io.req` and :func:`canonical_io.opt`
reading field by field (tests/unit/test_licensing_event_reader.py holds
them to it).
"""

from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from hub.errors import SchemaError
from simulators.licensing.canonical_io import NAMESPACE, message_type, opt, req_date

_R = f"{{{NAMESPACE}}}"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def worker_event(body: etree._Element) -> dict:
    """WorkerArrival / WorkerDeparture / ResidenceRenewal as one flat dict.

    Every border notification's: the body's children are indexed in one pass
    (:func:`_children`) and their texts read in another (:func:`_texts`), the
    same values as :func:`req` and :func:`opt` give: with a ``find`` per field
    reading an arrival cost ~185k instructions, with a function call per field
    ~125k (callgrind); only a field two steps down is looked for.
    """
    kind = message_type(body)
    fields = _children(body)
    text = _texts(fields).get
    common = {"kind": kind, "worker": _person_of(body, fields, "Worker"), "employer_cr": text(_R + "EmployerCR")}
    if kind == "WorkerArrival":
        _require(body, text, ("ArrivedAt", "VisaNumber"))
        return common | {"occurred_at": text(_R + "ArrivedAt"), "visa_number": text(_R + "VisaNumber"),
                         "licence_number": text(_R + "LicenceNumber"),
                         "port": _field(body, fields, "PortOfEntry/Code", True),
                         "sponsor_civil_number": text(_R + "SponsorCivilNumber")}
    if kind == "WorkerDeparture":
        _require(body, text, ("DepartedAt", "DepartureKind"))
        return common | {"occurred_at": text(_R + "DepartedAt"), "departure_kind": text(_R + "DepartureKind"),
                         "port": _field(body, fields, "PortOfExit/Code", True),
                         "residence_card": text(_R + "ResidenceCardNumber")}
    _require(body, text, ("RenewedAt",))
    renewal = {"occurred_at": text(_R + "RenewedAt"),
               "residence_card": _field(body, fields, "ResidenceCard/Number", True)}
    expiry = req_date(body, "ResidenceCard/ExpiryDate")
    return common | renewal | {"residence_expiry": expiry.isoformat(),
                               "profession_code": _field(body, fields, "Profession/Code", True),
                               "sponsor_civil_number": text(_R + "SponsorCivilNumber")}


def _texts(fields: dict) -> dict:
    """The text of each child a :func:`_children` index holds, stripped, None when empty: :func:`opt`'s value."""
    return {tag: (node.text or "").strip() or None for tag, node in fields.items() if tag is not _NAMES}


def _require(element: etree._Element, text: Callable[[str], str | None], names: tuple[str, ...]) -> None:
    """:func:`req`'s refusal of the first of the children ``names`` without text (``text``: a :func:`_texts` get)."""
    for name in names:
        if text(_R + name) is None:
            raise SchemaError(f"{etree.QName(element).localname}: {name} is missing")


def _children(element: etree._Element) -> dict:
    """``element``'s children by tag, the first of each name (the one ``find`` takes); its rabt:Name children,
    all of them in order, under :data:`_NAMES`."""
    index: dict = {}
    for child in element:
        tag = child.tag
        if tag == _NAME:
            index.setdefault(_NAMES, []).append(child)
        elif tag not in index:
            index[tag] = child
    return index


_NAME = _R + "Name"
_NAMES = object()  # the key of the rabt:Name list in a _children index: no element's tag


def _field(element: etree._Element, fields: dict, path: str, required: bool = False) -> str | None:
    """What :func:`opt` (or with ``required`` :func:`req`) reads at ``path`` under ``element``, its children
    indexed in ``fields``: the first step from the index, any further ones by ``find``."""
    first, _, rest = path.partition("/")
    node = fields.get(_R + first)
    text = None if node is None else opt(node, rest) if rest else (node.text or "").strip() or None
    if text is None and required:
        raise SchemaError(f"{etree.QName(element).localname}: {path} is missing")
    return text


def _person_of(element: etree._Element, fields: dict, path: str) -> dict:
    """:func:`person` of the child ``path`` of ``element``, whose children are indexed in ``fields``."""
    node = fields.get(_R + path)
    if node is None:
        raise SchemaError(f"{etree.QName(element).localname}: {path} is missing")
    own = _children(node)
    text = _texts(own).get
    _require(node, text, ("Nationality",))
    return {"civil_number": text(_R + "CivilNumber"), "passport_number": text(_R + "PassportNumber"),
            "names": {n.get(_XML_LANG, ""): (n.text or "").strip() for n in own.get(_NAMES, ())},
            "nationality": text(_R + "Nationality")}
