"""one_pass_readers.worker_event reads a border notification's children in one pass: the same values, and the same
refusals, as reading each field with req and opt (a find per field)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from lxml import etree

from hub.errors import SchemaError
from simulators.licensing import canonical_io, one_pass_readers

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "canonical"
R = "{urn:rabt:canonical:v1}"
KINDS = ("WorkerArrival", "WorkerDeparture", "ResidenceRenewal")


def sample(kind: str) -> etree._Element:
    return etree.parse(str(SAMPLES / f"{kind}.xml"), etree.XMLParser(remove_comments=True)).getroot()


def read_one_by_one(body: etree._Element) -> dict:
    """The event as req, opt and person read it, a find per field."""
    io = canonical_io
    kind = io.message_type(body)
    common = {"kind": kind, "worker": io.person(body, "Worker"), "employer_cr": io.opt(body, "EmployerCR")}
    if kind == "WorkerArrival":
        return common | {"occurred_at": io.req(body, "ArrivedAt"), "visa_number": io.req(body, "VisaNumber"),
                         "licence_number": io.opt(body, "LicenceNumber"), "port": io.req(body, "PortOfEntry/Code"),
                         "sponsor_civil_number": io.opt(body, "SponsorCivilNumber")}
    if kind == "WorkerDeparture":
        return common | {"occurred_at": io.req(body, "DepartedAt"), "departure_kind": io.req(body, "DepartureKind"),
                         "port": io.req(body, "PortOfExit/Code"), "residence_card": io.opt(body, "ResidenceCardNumber")}
    return common | {"occurred_at": io.req(body, "RenewedAt"), "residence_card": io.req(body, "ResidenceCard/Number"),
                     "residence_expiry": io.req_date(body, "ResidenceCard/ExpiryDate").isoformat(),
                     "profession_code": io.req(body, "Profession/Code"),
                     "sponsor_civil_number": io.opt(body, "SponsorCivilNumber")}


def paths(body: etree._Element) -> list[str]:
    """Every element below the body as a path of local names (``Worker/Name``), each once."""
    found = []
    for node in body.iterdescendants():
        path = "/".join(etree.QName(n).localname for n in reversed([node, *node.iterancestors()][:-1]))
        if path not in found:
            found.append(path)
    return found


def changed(kind: str, path: str, change: str) -> etree._Element:
    """The sample with the first element at ``path`` removed, blanked, or followed by a second of its name."""
    body = sample(kind)
    node = body.find("/".join(R + step for step in path.split("/")))
    if change == "removed":
        node.getparent().remove(node)
    elif change == "blank":
        node.text = "  "
    else:
        twin = copy.deepcopy(node)
        if twin.text and twin.text.strip():
            twin.text = "second-" + twin.text.strip()
        node.addnext(twin)
    return body


@pytest.mark.parametrize("kind", KINDS)
def test_the_samples_read_in_one_pass_are_what_req_and_opt_read(kind):
    body = sample(kind)
    event = one_pass_readers.worker_event(body)
    assert event == read_one_by_one(body)
    assert list(event) == list(read_one_by_one(body))  # the same key order: the same JSON in the event rows
    assert event["kind"] == kind and event["worker"]["nationality"] and event["occurred_at"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("change", ["removed", "blank", "twice"])
def test_every_field_removed_blanked_or_doubled_reads_or_fails_as_req_and_opt(kind, change):
    checked = 0
    for path in paths(sample(kind)):
        body = changed(kind, path, change)
        try:
            expected = read_one_by_one(body)
        except SchemaError as refused:
            with pytest.raises(SchemaError) as ours:
                one_pass_readers.worker_event(body)
            assert ours.value.reason == refused.reason, path
        else:
            assert one_pass_readers.worker_event(body) == expected, path
        checked += 1
    assert checked >= 12


def test_a_second_name_in_the_same_language_replaces_the_first_as_before():
    body = sample("WorkerArrival")
    worker = body.find(R + "Worker")
    extra = etree.SubElement(worker, R + "Name")
    extra.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    extra.text = " Rajesh K. Nair "
    event = one_pass_readers.worker_event(body)
    assert event["worker"]["names"]["en"] == "Rajesh K. Nair"
    assert event == read_one_by_one(body)


@pytest.mark.parametrize("without", [None, "Profession", "RenewedAt"])
def test_a_renewal_expiry_that_is_no_date_is_refused_where_req_date_refuses_it(without):
    body = sample("ResidenceRenewal")
    body.find(f"{R}ResidenceCard/{R}ExpiryDate").text = "2027-02-30"
    if without is not None:
        body.remove(body.find(R + without))
    with pytest.raises(SchemaError) as refused:
        read_one_by_one(body)
    with pytest.raises(SchemaError) as ours:
        one_pass_readers.worker_event(body)
    assert ours.value.reason == refused.value.reason
    # read in the body's order: a field missing before the expiry is named, one missing after it is not
    assert ("RenewedAt" if without == "RenewedAt" else "ResidenceCard/ExpiryDate") in ours.value.reason


@pytest.mark.parametrize("kind", KINDS)
def test_a_comment_or_a_foreign_element_among_the_fields_reads_as_find_reads_it(kind):
    body = sample(kind)
    for node in list(body.iter(f"{R}*"))[1:]:
        node.addprevious(etree.Comment(" note "))
        node.addprevious(etree.Element("{urn:other}" + etree.QName(node).localname))
    assert one_pass_readers.worker_event(body) == read_one_by_one(body)


def test_a_body_outside_the_canonical_namespace_is_refused_as_before():
    body = sample("WorkerArrival")
    body.tag = "{urn:other}WorkerArrival"
    with pytest.raises(SchemaError, match="is not a canonical message"):
        one_pass_readers.worker_event(body)
