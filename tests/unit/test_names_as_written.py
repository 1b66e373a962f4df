"""A name is labelled with the script it is written in, in the mappings whose source field has no language.

The court's case-status answer carries one name per party with no language
of its own; the canonical ``Name`` says ``ar`` for a name in Arabic letters
and ``en`` otherwise (the salary file's employee name is covered with the
SIF corpus, ``test_sif_corpus.py``).
"""

from __future__ import annotations

from datetime import date

import pytest
from lxml import etree

from hub import canonical
from hub.mapping import Mappings
from simulators.courts import batches
from simulators.courts.app import NS as LC
from simulators.courts.app import Docket, case_status_handler, first_referral_number
from simulators.population import Population, PopulationSpec

R = "urn:rabt:canonical:v1"
LANG = "{http://www.w3.org/XML/1998/namespace}lang"
POPULATION = Population(PopulationSpec(as_of=date(2026, 5, 20)))


def court_answer() -> etree._Element:
    """The simulated court's answer about the most recently filed case."""
    handler = case_status_handler(POPULATION, Docket(first_referral_number(POPULATION), POPULATION.as_of.year))
    case = batches.labour_case(POPULATION, first_referral_number(POPULATION) - 1)
    query = etree.Element(f"{{{LC}}}GetCaseStatus")
    etree.SubElement(query, f"{{{LC}}}CaseNo").text = case.number
    return handler(query)


@pytest.mark.parametrize("field, party", [("PlaintiffName", "Worker"), ("DefendantName", "Employer")])
@pytest.mark.parametrize("name, lang", [("Sagar Shrestha", "en"), ("ناصر بن عيسى الشكيلي", "ar"),
                                        ("مؤسسة النور Trading", "ar")])
def test_court_party_names_are_labelled_by_their_script(field, party, name, lang):
    answer = court_answer()
    answer.find(f"{{{LC}}}{field}").text = name
    body = Mappings().transform("courts", "LabourCaseStatusRecord", answer, now="2026-05-20T08:00:00.000Z")
    canonical.validate(body)
    element = body.find(f"{{{R}}}Parties/{{{R}}}{party}/{{{R}}}Name")
    assert (element.text, element.get(LANG)) == (name, lang)
