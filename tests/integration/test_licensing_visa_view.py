"""The visa answer's one-query read of a licence gives the rules what the whole licence gives them.

``LicensingState.visa_view`` reads the licence with only the asked
profession's vacancies, on the driver's cursor; every visa check (through the
hub and direct) is answered from it. Its answers must be those of
``licence_view`` — the whole licence — for every profession and nationality,
before and after vacancies are used, on SQLite and PostgreSQL (whose drivers
take different placeholders).
"""

from __future__ import annotations

import itertools

import pytest

from tests.integration.test_licensing_consumer import NOW, any_state, approved_licence  # noqa: F401 - fixture

from hub.errors import MessageLogUnavailableError
from simulators.licensing import rules
from simulators.licensing.tables import vacancies

VACANCIES = (("911101", None, 2), ("911101", "PHL", 1), ("911101", "IND", 1), ("2211", None, 1))
PROFESSIONS = ("911101", "2211", "7231")
NATIONALITIES = ("PHL", "IND", "NPL")


def answers(state, licence: str, view) -> list[tuple]:
    """Every (profession, nationality) question's answer as ``view(profession)`` lets the rules give it."""
    found = []
    for profession, nationality in itertools.product(PROFESSIONS, NATIONALITIES):
        answer = rules.check_visa(view(profession), "private", profession, nationality, NOW.date())
        found.append((profession, nationality, answer.eligible, answer.reason.code, answer.remaining,
                      answer.vacancy and answer.vacancy.id))
    return found


def same_answers(state, licence: str) -> list[tuple]:
    whole = answers(state, licence, lambda _profession: state.licence_view(licence))
    assert answers(state, licence, lambda profession: state.visa_view(licence, profession)) == whole
    return whole


def use(state, licence: str, profession: str, nationality: str | None, count: int) -> None:
    with state.engine.begin() as conn:
        conn.execute(vacancies.update().where(
            vacancies.c.licence_number == licence, vacancies.c.profession_code == profession,
            vacancies.c.nationality.is_(None) if nationality is None else vacancies.c.nationality == nationality,
        ).values(used=count))


def test_visa_view_answers_as_the_whole_licence_does(any_state):  # noqa: F811 - the imported fixture
    licence = approved_licence(any_state, vacancies=VACANCIES)
    fresh = same_answers(any_state, licence)
    assert ("911101", "PHL", True, "vacancy-available", 3, fresh[0][5]) == fresh[0]  # PHL's own vacancy first
    use(any_state, licence, "911101", "PHL", 1)
    use(any_state, licence, "911101", None, 2)
    used = same_answers(any_state, licence)
    assert used[0][2:4] == (False, "no-vacancy") and used[1][2:5] == (True, "vacancy-available", 1)
    assert ("7231", "PHL", False, "profession-mismatch", 0, None) in used


def test_visa_view_of_an_unknown_licence_is_none(any_state):  # noqa: F811 - the imported fixture
    approved_licence(any_state)
    assert any_state.visa_view("PL-2024-9999999", "911101") is None
    assert any_state.licence_view("PL-2024-9999999") is None


def test_visa_view_reports_a_failed_database_as_unavailable(any_state):  # noqa: F811 - the imported fixture
    licence = approved_licence(any_state)
    with any_state.engine.begin() as conn:  # the read now fails in the database, not in the question
        conn.exec_driver_sql(f"ALTER TABLE {vacancies.name} RENAME TO vacancies_gone")
    try:
        with pytest.raises(MessageLogUnavailableError, match=licence):
            any_state.visa_view(licence, "911101")
    finally:
        with any_state.engine.begin() as conn:
            conn.exec_driver_sql(f"ALTER TABLE vacancies_gone RENAME TO {vacancies.name}")
    assert any_state.visa_view(licence, "911101") is not None  # the pool still answers afterwards
