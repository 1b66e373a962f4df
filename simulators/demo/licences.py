"""Scenarios 1 to 3: applicants on licensing's API, decided with the agencies' data through the hub.

A citizen's private licence turns on the insurance fund's wage record and the
civil registry's marital status; an establishment's commercial licence on its
commercial registration and chamber membership.
"""

from __future__ import annotations

from simulators.demo.context import DemoContext
from simulators.demo.expectations import expect
from simulators.demo.probes import apply_for_licence, decision_of, new_employer, reasons_of, visa_worker


def private_approved(ctx: DemoContext) -> str:
    citizen = ctx.population.find_citizen(insurer="social-insurance", married=True, wage_at_least="700",
                                          employment_active=True)
    application = apply_for_licence(ctx, licence_type="private", applicant_civil_number=citizen.civil_number,
                                    applicant_name=citizen.name.ar, vacancies=[{"profession_code": "9111", "count": 1}])
    expect(decision_of(application) == "approved",
           f"{citizen.civil_number}: {decision_of(application)} ({reasons_of(application)})")
    ctx.remember("private_licence", application["decision"]["licence_number"])
    return f"{citizen.name.en}: approved, licence {application['decision']['licence_number']}"


def private_refused(ctx: DemoContext) -> str:
    low = ctx.population.find_citizen(insured=True, wage_below="500", employment_active=True)
    uninsured = ctx.population.find_citizen(insured=False)
    outcomes = []
    for citizen in (low, uninsured):
        application = apply_for_licence(ctx, licence_type="private", applicant_civil_number=citizen.civil_number,
                                        vacancies=[{"profession_code": "9111", "count": 1}])
        expect(decision_of(application) == "refused",
               f"{citizen.civil_number}: {decision_of(application)} ({reasons_of(application)})")
        outcomes.append(reasons_of(application))
    return f"below threshold: {outcomes[0]}; not insured: {outcomes[1]}"


def commercial(ctx: DemoContext) -> str:
    good = new_employer(ctx)  # a demo run again in the same folder: licensing still holds the docket's cases
    expired = ctx.population.find_employer(cr_status="expired")
    approved = apply_for_licence(ctx, licence_type="commercial", employer_cr=good,
                                 vacancies=[{"profession_code": visa_worker(ctx).profession_code, "count": 2}])
    expect(decision_of(approved) == "approved", f"{good}: {decision_of(approved)} ({reasons_of(approved)})")
    refused = apply_for_licence(ctx, licence_type="commercial", employer_cr=expired.cr_number,
                                vacancies=[{"profession_code": "7112", "count": 1}])
    expect(decision_of(refused) == "refused",
           f"{expired.cr_number}: {decision_of(refused)} ({reasons_of(refused)})")
    ctx.remember("commercial_licence", approved["decision"]["licence_number"])
    return f"CR {good} approved ({approved['decision']['licence_number']}); expired CR refused"
