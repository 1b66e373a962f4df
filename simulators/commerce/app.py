"""Ministry of Commerce and Chamber of Commerce simulator.

Two services, one app, one employer population:

* ``/soap/commercial-registry`` (``commerce/registry.wsdl``) -
  ``GetCommercialRegistration``; unknown CR: ``Client.UnknownCR`` (MOCI-E-0404).
* ``/soap/chamber-membership`` (``commerce/chamber.wsdl``) -
  ``GetChamberMembership``; unknown CR: ``Client.NotAMember`` (OCCI-404).

A registration that is not active in the population (expired, suspended) is
still answered, with its status code: deciding what that means is the
licensing system's job.
"""

from __future__ import annotations

import random
from datetime import timedelta

from flask import Flask
from lxml import etree
from lxml.builder import ElementMaker

from simulators.population import Employer, Population
from simulators.soap import AGENCY_SCHEMAS, SoapService, business_fault, create_agency_app

CR_NS = "urn:om:moci:cr:v2"
OCCI_NS = "urn:om:occi:membership:1"

CR_STATUS_CODES = {"active": "01", "expired": "02", "suspended": "03", "cancelled": "09"}
CHAMBER_STATUS_CODES = {"valid": "A", "active": "A", "lapsed": "L", "expired": "L", "suspended": "S"}
GRADE_NUMBERS = {"excellent": 0, "first": 1, "second": 2, "third": 3, "fourth": 4}
LEGAL_FORM_BY_SUFFIX = (("LLC", "LLC"), ("SAOG", "SAOG"), ("SAOC", "SAOC"), ("Est.", "EST"), ("& Partners", "PSHP"))

# ISIC rev.4 classes, keyed by the activity word of the trade name
ACTIVITIES = {
    "Trading": ("469000", "Non-specialised wholesale trade", "البيع بالجملة غير المتخصص"),
    "Contracting": ("410010", "Construction of residential buildings", "إنشاء المباني السكنية"),
    "Transport": ("492300", "Freight transport by road", "النقل البري للبضائع"),
    "Cleaning Services": ("812100", "General cleaning of buildings", "التنظيف العام للمباني"),
    "Restaurant": ("561010", "Restaurants", "المطاعم"),
    "Building Materials": ("466300", "Wholesale of construction materials", "بيع مواد البناء بالجملة"),
    "Engineering": ("711000", "Engineering activities", "الأنشطة الهندسية"),
    "Fisheries": ("031100", "Marine fishing", "صيد الأسماك البحري"),
    "Agriculture": ("011900", "Growing of non-perennial crops", "زراعة المحاصيل الموسمية"),
    "Car Repair": ("452000", "Maintenance and repair of motor vehicles", "صيانة وإصلاح المركبات"),
    "Tailoring": ("141000", "Manufacture of wearing apparel", "صناعة الملابس"),
    "Hospitality": ("551000", "Short term accommodation", "الإقامة قصيرة الأجل"),
}
GENERAL_ACTIVITY = ("829900", "Other business support services", "أنشطة خدمات الأعمال الأخرى")


def legal_form(employer: Employer) -> str:
    for suffix, code in LEGAL_FORM_BY_SUFFIX:
        if employer.name.en.endswith(suffix):
            return code
    return "LLC"


def activity(employer: Employer) -> tuple[str, str, str]:
    for word, entry in ACTIVITIES.items():
        if word in employer.name.en:
            return entry
    return GENERAL_ACTIVITY


def registration_handler(population: Population):
    """``GetCommercialRegistration``: the establishment's registry entry."""
    e = ElementMaker(namespace=CR_NS, nsmap={"cr": CR_NS})

    def handle(request: etree._Element) -> etree._Element:
        cr_number = request.findtext(f"{{{CR_NS}}}CRNumber")
        employer = population.employer_by_cr(cr_number)
        if employer is None:
            raise business_fault(CR_NS, "Client.UnknownCR", "MOCI-E-0404",
                                 f"commercial registration {cr_number} does not exist")
        draw = random.Random(f"{population.spec.seed}:cr-registered:{employer.index}")
        registered = employer.cr_expiry - timedelta(days=365 * draw.randint(2, 25) + draw.randrange(365))
        isic, description_en, description_ar = activity(employer)
        return e.GetCommercialRegistrationResponse(
            e.CRNumber(employer.cr_number),
            e.TradeNameAr(employer.name.ar),
            e.TradeNameEn(employer.name.en),
            e.LegalFormCode(legal_form(employer)),
            e.CRStatusCode(CR_STATUS_CODES[employer.cr_status]),
            e.RegistrationDate(registered.isoformat()),
            e.ExpiryDate(employer.cr_expiry.isoformat()),
            e.GovernorateCode(employer.governorate),
            e.Activities(e.Activity(e.ISICCode(isic), e.DescriptionEn(description_en), e.DescriptionAr(description_ar))),
        )

    return handle


def membership_handler(population: Population):
    """``GetChamberMembership``: the establishment's chamber certificate."""
    e = ElementMaker(namespace=OCCI_NS, nsmap={"occi": OCCI_NS})

    def handle(request: etree._Element) -> etree._Element:
        cr_number = request.findtext(f"{{{OCCI_NS}}}CommercialRegNo")
        employer = population.employer_by_cr(cr_number)
        if employer is None:
            raise business_fault(OCCI_NS, "Client.NotAMember", "OCCI-404",
                                 f"no chamber member with commercial registration {cr_number}")
        return e.GetChamberMembershipResponse(
            e.CommercialRegNo(employer.cr_number),
            e.MembershipNo(employer.chamber_membership_number),
            e.MemberNameAr(employer.name.ar),
            e.MemberNameEn(employer.name.en),
            e.GradeNo(str(GRADE_NUMBERS[employer.chamber_grade.lower()])),
            e.StatusCode(CHAMBER_STATUS_CODES[employer.chamber_status]),
            e.ValidTo(employer.chamber_valid_until.strftime("%Y%m%d")),
        )

    return handle


def services(population: Population, state: dict) -> list[SoapService]:
    folder = AGENCY_SCHEMAS / "commerce"
    return [
        SoapService("commercial-registry", folder / "registry.wsdl", folder / "registry.xsd", CR_NS,
                    {"GetCommercialRegistration": registration_handler(population)}),
        SoapService("chamber-membership", folder / "chamber.wsdl", folder / "chamber.xsd", OCCI_NS,
                    {"GetChamberMembership": membership_handler(population)}),
    ]


def create_app(config: dict | None = None) -> Flask:
    """The commerce simulator app; ``config`` as for :func:`simulators.soap.create_agency_app`."""
    return create_agency_app("commerce", config, services)
