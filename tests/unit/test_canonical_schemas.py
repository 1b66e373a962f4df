"""The canonical XSDs, their samples, and hub.canonical.validate.

Broken variants are made by editing a parsed sample, serialising it and
parsing it again, so the expected line is the broken element's real line in
the document the validator sees.
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path

import pytest
from lxml import etree

from hub import canonical
from hub.envelope import build_envelope, new_header, read_envelope
from hub.errors import SchemaError

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "canonical"
SAMPLE_FILES = sorted(SAMPLES.glob("*.xml"))
ENVELOPE_SAMPLE = SAMPLES / "envelope-WorkerArrival.xml"
R = f"{{{canonical.NAMESPACE}}}"
DSIG = "http://www.w3.org/2000/09/xmldsig#"
#: the message types the design asks for; the schema may grow, never lose one
BRIEFED_TYPES = frozenset({
    "WorkerArrival", "WorkerDeparture", "ResidenceRenewal",
    "CivilStatusQuery", "CivilStatusRecord",
    "VisaEligibilityQuery", "VisaEligibilityResult", "VisaIssued",
    "CommercialRegistrationQuery", "CommercialRegistrationRecord",
    "ChamberMembershipQuery", "ChamberMembershipRecord",
    "IncomeQuery", "IncomeRecord", "SalaryBatch",
    "LabourCaseUpdate", "LabourCaseReferral", "LabourCaseStatusQuery", "LabourCaseStatusRecord",
    "LicenceDecision", "Fault",
    "TransferEligibilityQuery", "TransferEligibilityRecord", "TransferCompleted",
    "WorkerDataCorrected",
})


def load(name: str) -> etree._Element:
    return etree.parse(str(SAMPLES / name)).getroot()


def reparse(root: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def find(root: etree._Element, xpath: str) -> etree._Element:
    found = root.xpath(xpath, namespaces=canonical.NS)
    assert found, f"{xpath} not in the sample"
    return found[0]


def assert_refused(root: etree._Element, xpath: str, rule: str, *words: str) -> SchemaError:
    """``root`` must fail on the element at ``xpath``: its line, the rule, and words in the reason."""
    expected_line = find(root, xpath).sourceline
    assert expected_line is not None and expected_line > 1
    with pytest.raises(SchemaError) as caught:
        canonical.validate(root)
    error = caught.value
    assert error.line == expected_line
    assert error.rule == rule
    assert error.reason.startswith(f"line {expected_line}: ")
    assert f"(rule {rule})" in error.reason
    for word in words:
        assert word in error.reason
    assert not canonical.is_valid(root)
    return error


# --------------------------------------------------------------- the samples


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.stem for p in SAMPLE_FILES])
def test_every_sample_validates(path):
    root = etree.parse(str(path)).getroot()
    canonical.validate(root)
    assert canonical.is_valid(root)


def test_samples_are_named_after_their_message():
    for path in SAMPLE_FILES:
        if path == ENVELOPE_SAMPLE:
            continue
        root = etree.parse(str(path)).getroot()
        assert etree.QName(root).namespace == canonical.NAMESPACE
        assert etree.QName(root).localname == path.stem


def test_there_is_a_sample_for_every_message_type():
    types = canonical.message_types()
    assert {p.stem for p in SAMPLE_FILES if p != ENVELOPE_SAMPLE} == set(types)


def test_message_types_are_read_from_the_schema_files():
    types = canonical.message_types()
    assert BRIEFED_TYPES <= types
    # structural names are not messages
    assert not {"Message", "Envelope", "Header", "Body", "Person"} & types


def test_each_message_type_is_documented():
    for path in canonical.schema_dir().glob("*.xsd"):
        tree = etree.parse(str(path))
        for declaration in tree.getroot().iterfind("{http://www.w3.org/2001/XMLSchema}element"):
            if declaration.get("substitutionGroup"):
                docs = declaration.findall(".//{http://www.w3.org/2001/XMLSchema}documentation")
                assert docs and docs[0].text.strip(), f"{declaration.get('name')} has no documentation"


def test_schema_files_reference_nothing_remote():
    for path in canonical.schema_dir().glob("*.xsd"):
        root = etree.parse(str(path)).getroot()
        for ref in root.iterfind("{http://www.w3.org/2001/XMLSchema}*[@schemaLocation]"):
            location = ref.get("schemaLocation")
            assert "://" not in location and (canonical.schema_dir() / location).is_file()


def test_envelope_sample_validates_and_names_its_body():
    root = load(ENVELOPE_SAMPLE.name)
    canonical.validate(root)
    message_type = find(root, "rabt:Header/rabt:MessageType").text
    body_children = [c for c in find(root, "rabt:Body") if isinstance(c.tag, str)]
    assert len(body_children) == 1
    assert etree.QName(body_children[0]).localname == message_type == "WorkerArrival"
    assert message_type in canonical.message_types()


def test_envelope_built_by_hub_envelope_validates():
    message = load("SalaryBatch.xml")
    header = new_header(message_type="SalaryBatch", source_agency="centralbank", source_system="wps",
                        destination="licensing", raw_payload=b"EMPLOYER,1093456\n",
                        source_message_id="SIF_1093456_202404_001.csv")
    envelope = reparse(build_envelope(header, message))
    canonical.validate(envelope)
    assert read_envelope(envelope)[0].message_type == "SalaryBatch"


def test_signed_envelope_validates(trust_store):
    from hub.signing import Signer

    signed = etree.fromstring(Signer(trust_store.hub).sign_bytes(load(ENVELOPE_SAMPLE.name)))
    assert signed[-1].tag == f"{{{DSIG}}}Signature"
    canonical.validate(signed)


def test_a_message_inside_an_envelope_validates_on_its_own():
    root = load(ENVELOPE_SAMPLE.name)
    message = find(root, "rabt:Body/rabt:WorkerArrival")
    canonical.validate(message)
    find(message, "rabt:Worker/rabt:Nationality").text = "India"
    with pytest.raises(SchemaError) as caught:
        canonical.validate(message)
    assert caught.value.line == find(message, "rabt:Worker/rabt:Nationality").sourceline


# ---------------------------------------------------------- broken variants


def test_bad_nationality_is_refused():
    root = load("WorkerArrival.xml")
    find(root, "rabt:Worker/rabt:Nationality").text = "IN"
    root = reparse(root)
    assert_refused(root, "rabt:Worker/rabt:Nationality", "SCHEMAV_CVC_PATTERN_VALID",
                   "Nationality", "'IN'", "[facet 'pattern']")


@pytest.mark.parametrize("iban", ["OM60018000001234567890", "OM6001800000123456789012", "GB600180000012345678901"])
def test_iban_of_wrong_length_or_country_is_refused(iban):
    root = load("SalaryBatch.xml")
    find(root, "rabt:SalaryLine[2]/rabt:EmployeeIban").text = iban
    root = reparse(root)
    assert_refused(root, "rabt:SalaryLine[2]/rabt:EmployeeIban", "SCHEMAV_CVC_PATTERN_VALID", "EmployeeIban", iban)


@pytest.mark.parametrize("amount, rule", [
    ("371.2505", "SCHEMAV_CVC_FRACTIONDIGITS_VALID"),
    # same value as 371.25, but four decimals written: refused by the lexical pattern
    ("371.2500", "SCHEMAV_CVC_PATTERN_VALID"),
])
def test_money_with_four_decimals_is_refused(amount, rule):
    root = load("SalaryBatch.xml")
    find(root, "rabt:SalaryLine[3]/rabt:NetSalary").text = amount
    root = reparse(root)
    assert_refused(root, "rabt:SalaryLine[3]/rabt:NetSalary", rule, "NetSalary", amount)


@pytest.mark.parametrize("names", [0, 1, 2])
def test_salary_line_takes_no_name_one_or_two(names):
    root = load("SalaryBatch.xml")
    line = find(root, "rabt:SalaryLine[1]")
    name = find(line, "rabt:EmployeeName")
    name.addnext(copy.deepcopy(name))  # two names
    for gone in line.findall(f"{R}EmployeeName")[names:]:
        line.remove(gone)
    root = reparse(root)
    canonical.validate(root)
    assert len(find(root, "rabt:SalaryLine[1]").findall(f"{R}EmployeeName")) == names


def test_salary_line_with_three_names_is_refused():
    root = load("SalaryBatch.xml")
    name = find(root, "rabt:SalaryLine[1]/rabt:EmployeeName")
    name.addnext(copy.deepcopy(name))
    name.addnext(copy.deepcopy(name))
    root = reparse(root)
    assert_refused(root, "rabt:SalaryLine[1]/rabt:EmployeeName[3]", "SCHEMAV_ELEMENT_CONTENT",
                   "EmployeeName", "not expected")


def test_negative_money_is_refused():
    root = load("IncomeRecord.xml")
    find(root, "rabt:MonthlyWage").text = "-5.000"
    root = reparse(root)
    assert_refused(root, "rabt:MonthlyWage", "SCHEMAV_CVC_MININCLUSIVE_VALID", "MonthlyWage")


def test_money_in_another_currency_is_refused():
    root = load("IncomeRecord.xml")
    find(root, "rabt:MonthlyWage").set("currency", "USD")
    root = reparse(root)
    assert_refused(root, "rabt:MonthlyWage", "SCHEMAV_CVC_AU", "currency", "OMR")


def test_governorate_outside_the_eleven_is_refused():
    root = load("CommercialRegistrationRecord.xml")
    find(root, "rabt:Establishment/rabt:Governorate").text = "OM-XX"
    root = reparse(root)
    assert_refused(root, "rabt:Establishment/rabt:Governorate", "SCHEMAV_CVC_ENUMERATION_VALID",
                   "Governorate", "OM-XX")


def test_case_status_hearing_time_without_its_offset_is_refused():
    root = load("LabourCaseStatusRecord.xml")
    find(root, "rabt:NextHearing").text = "2024-04-23T09:30:00"
    root = reparse(root)
    assert_refused(root, "rabt:NextHearing", "SCHEMAV_CVC_PATTERN_VALID", "NextHearing")


def test_case_status_with_both_a_next_hearing_and_a_judgment_is_refused():
    root = load("LabourCaseStatusRecord.xml")
    judgment = find(load("LabourCaseUpdate.xml"), "rabt:Judgment")
    find(root, "rabt:NextHearing").addnext(judgment)
    root = reparse(root)
    assert_refused(root, "rabt:Judgment", "SCHEMAV_ELEMENT_CONTENT", "Judgment", "not expected")


def test_case_status_names_a_case_number_not_free_text():
    root = load("LabourCaseStatusQuery.xml")
    find(root, "rabt:CaseNumber").text = "case 1187"
    root = reparse(root)
    assert_refused(root, "rabt:CaseNumber", "SCHEMAV_CVC_PATTERN_VALID", "CaseNumber", "'case 1187'")


@pytest.mark.parametrize("stamp", ["2024-05-12T07:41:09+04:00", "2024-05-12T03:41:09", "2024-05-12 03:41:09Z"])
def test_non_utc_timestamp_in_the_header_is_refused(stamp):
    root = load(ENVELOPE_SAMPLE.name)
    find(root, "rabt:Header/rabt:CreatedAt").text = stamp
    root = reparse(root)
    error = assert_refused(root, "rabt:Header/rabt:CreatedAt", error_rule(stamp), "CreatedAt")
    assert error.code == "schema"


def error_rule(stamp: str) -> str:
    # A value that is not an xs:dateTime at all fails the type before the UTC pattern.
    return "SCHEMAV_CVC_DATATYPE_VALID_1_2_1" if " " in stamp else "SCHEMAV_CVC_PATTERN_VALID"


def test_body_with_two_messages_is_refused():
    root = load(ENVELOPE_SAMPLE.name)
    find(root, "rabt:Body").append(load("Fault.xml"))
    root = reparse(root)
    assert_refused(root, "rabt:Body/rabt:Fault", "SCHEMAV_ELEMENT_CONTENT", "Fault", "not expected")


def test_empty_body_is_refused():
    root = load(ENVELOPE_SAMPLE.name)
    body = find(root, "rabt:Body")
    body.remove(body[0])
    root = reparse(root)
    assert_refused(root, "rabt:Body", "SCHEMAV_ELEMENT_CONTENT", "Body", "Missing child")


def test_unknown_element_is_refused():
    root = load("VisaEligibilityQuery.xml")
    unknown = etree.Element(f"{R}FavouriteColour")
    unknown.text = "blue"
    find(root, "rabt:ProfessionCode").addnext(unknown)
    root = reparse(root)
    assert_refused(root, "rabt:FavouriteColour", "SCHEMAV_ELEMENT_CONTENT", "FavouriteColour", "not expected")


def test_name_in_a_third_language_is_refused():
    root = load("CivilStatusRecord.xml")
    find(root, "rabt:Citizen/rabt:Name[1]").set("{http://www.w3.org/XML/1998/namespace}lang", "fr")
    root = reparse(root)
    assert_refused(root, "rabt:Citizen/rabt:Name[1]", "SCHEMAV_CVC_ENUMERATION_VALID", "lang", "'fr'")


def test_header_message_type_must_name_the_body():
    root = load(ENVELOPE_SAMPLE.name)
    find(root, "rabt:Header/rabt:MessageType").text = "WorkerDeparture"
    root = reparse(root)
    assert_refused(root, "rabt:Header/rabt:MessageType", canonical.RULE_MESSAGE_TYPE,
                   "WorkerDeparture", "WorkerArrival")


def test_uppercase_message_id_is_refused():
    root = load(ENVELOPE_SAMPLE.name)
    node = find(root, "rabt:Header/rabt:MessageId")
    node.text = node.text.upper()
    root = reparse(root)
    assert_refused(root, "rabt:Header/rabt:MessageId", "SCHEMAV_CVC_PATTERN_VALID", "MessageId")


def test_structural_elements_and_the_abstract_head_are_not_documents():
    for xml, rule in [
        (f'<rabt:Body xmlns:rabt="{canonical.NAMESPACE}"/>', "SCHEMAV_CVC_ELT_1"),
        (f'<rabt:Message xmlns:rabt="{canonical.NAMESPACE}"/>', "SCHEMAV_CVC_ELT_2"),
        ('<WorkerArrival/>', "SCHEMAV_CVC_ELT_1"),
    ]:
        with pytest.raises(SchemaError) as caught:
            canonical.validate(etree.fromstring(xml))
        assert caught.value.rule == rule and caught.value.line == 1


def test_something_that_is_not_an_element_is_a_schema_error():
    for thing in (None, b"<x/>", etree.Comment("hi")):
        with pytest.raises(SchemaError):
            canonical.validate(thing)
        assert not canonical.is_valid(thing)


def test_an_element_tree_is_accepted():
    canonical.validate(etree.parse(str(SAMPLES / "Fault.xml")))


# ------------------------------------------------------------------ threads


def test_threads_get_their_own_errors():
    """Concurrent validation never reports another thread's error."""
    good = load("SalaryBatch.xml")
    bad = load("SalaryBatch.xml")
    find(bad, "rabt:PayerIban").text = "OM60"
    bad = reparse(bad)
    bad_line = find(bad, "rabt:PayerIban").sourceline
    failures: list[str] = []

    def work(document, expect_line):
        for _ in range(200):
            try:
                canonical.validate(document)
                outcome = None
            except SchemaError as exc:
                outcome = exc.line
            if outcome != expect_line:
                failures.append(f"expected {expect_line}, got {outcome}")

    threads = [threading.Thread(target=work, args=(doc, line))
               for doc, line in [(good, None), (bad, bad_line)] * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [], failures[:3]
    assert canonical.schema() is canonical.schema()  # cached within a thread
