"""A deterministic synthetic population: citizens, expatriate workers, employers.

Every entity is computed from ``(seed, kind, index)`` alone, so nothing is
stored and the population scales to 2 million workers in constant memory:

* randomness comes from one digest per entity (:mod:`.draw`), identical in
  every process whatever ``PYTHONHASHSEED``;
* identifiers encode the index (citizen ``1nnnnnnn``, worker ``2nnnnnnn``,
  employer CR ``1nnnnnn``), so a lookup by id is a parse, not a search;
* employers own contiguous ranges of worker indexes (:mod:`.partition`), so
  either direction of the mapping costs one cached block computation.

Validity dates are offsets from ``as_of`` (today unless the spec fixes it),
so "active" stays active whatever the day the simulators run (:mod:`.generate`).

This module holds :class:`Population`, the entry point: entities by index or
by id, lazy iteration, and ``find_*`` by criteria. The records and the spec
are in :mod:`.model`, the distributions they are drawn from in
:mod:`.generate`; ``__all__`` lists what the simulators import from here.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from hub.errors import InputError
from simulators.population.draw import Draw, iban
from simulators.population.generate import BIRTH_EPOCH, make_citizen, make_employer, make_worker
from simulators.population.model import WAGE_THRESHOLD, Citizen, Employer, Name, PopulationSpec, Worker
from simulators.population.partition import BLOCK, WorkerPartition

__all__ = ["BIRTH_EPOCH", "BLOCK", "WAGE_THRESHOLD", "Citizen", "Draw", "Employer", "Name", "Population",
           "PopulationSpec", "Worker", "iban"]


class Population:
    """Entities of one :class:`PopulationSpec`, computed on demand (O(1) memory)."""

    def __init__(self, spec: PopulationSpec = PopulationSpec()) -> None:
        self.spec = spec
        self.as_of = spec.as_of or date.today()
        self._partition = WorkerPartition(spec)

    # -- entities ---------------------------------------------------------
    def citizen(self, i: int) -> Citizen:
        """Citizen number ``i`` (``0 <= i < spec.citizens``)."""
        _check_index("citizen", i, self.spec.citizens)
        return make_citizen(self.spec, i)

    def worker(self, i: int) -> Worker:
        """Worker number ``i`` (``0 <= i < spec.workers``)."""
        _check_index("worker", i, self.spec.workers)
        return make_worker(self.spec.seed, i, self.as_of, self._partition.employer_of_worker(i))

    def employer(self, i: int) -> Employer:
        """Employer number ``i`` (``0 <= i < spec.employers``)."""
        _check_index("employer", i, self.spec.employers)
        return make_employer(self.spec.seed, i, self.as_of, *self._partition.workers_of_employer(i))

    # -- lookups by id ------------------------------------------------------
    def citizen_by_civil_number(self, civil_number: str) -> Citizen | None:
        i = _decode(civil_number, "1", 8, self.spec.citizens)
        return None if i is None else self.citizen(i)

    def worker_by_civil_number(self, civil_number: str) -> Worker | None:
        i = _decode(civil_number, "2", 8, self.spec.workers)
        return None if i is None else self.worker(i)

    def employer_by_cr(self, cr_number: str) -> Employer | None:
        i = _decode(cr_number, "1", 7, self.spec.employers)
        return None if i is None else self.employer(i)

    # -- lazy iteration -----------------------------------------------------
    def citizens(self) -> Iterator[Citizen]:
        return map(self.citizen, range(self.spec.citizens))

    def workers(self) -> Iterator[Worker]:
        return map(self.worker, range(self.spec.workers))

    def employers(self) -> Iterator[Employer]:
        return map(self.employer, range(self.spec.employers))

    def workers_of(self, employer: Employer) -> Iterator[Worker]:
        """The employer's expatriate workers, in index order."""
        return map(self.worker, range(employer.first_worker, employer.first_worker + employer.worker_count))

    def citizens_employed_by(self, employer: Employer) -> Iterator[Citizen]:
        """Citizens actively employed by ``employer`` (private sector, social insurance)."""
        for i in range(employer.index, self.spec.citizens, max(1, self.spec.employers)):
            citizen = self.citizen(i)
            if citizen.employer_cr == employer.cr_number and citizen.employment_active:
                yield citizen

    def find_citizen(self, **criteria) -> Citizen:
        """First citizen (by index) matching every criterion.

        A criterion is an attribute (``insurer="social-insurance"``) or one of
        ``married``, ``insured`` (booleans), ``wage_at_least``, ``wage_below``.
        """
        return _find_first(self.citizens(), "citizen", criteria)

    def find_worker(self, **criteria) -> Worker:
        """First worker matching every criterion (attributes, ``wage_at_least``, ``wage_below``)."""
        return _find_first(self.workers(), "worker", criteria)

    def find_employer(self, **criteria) -> Employer:
        """First employer matching, e.g. ``cr_status="expired"``, ``min_workers=3``."""
        return _find_first(self.employers(), "employer", criteria)


def _check_index(kind: str, i: int, count: int) -> None:
    if not isinstance(i, int) or not 0 <= i < count:
        raise InputError(f"no {kind} number {i!r}: the population has {count}")


def _decode(number: str, prefix: str, length: int, count: int) -> int | None:
    """Index encoded in an id, or None when the id is not one of ours."""
    if not isinstance(number, str) or len(number) != length or not number.isdigit() \
            or not number.isascii() or number[0] != prefix:
        return None
    i = int(number[1:])
    return i if i < count else None


_DERIVED = {
    "married": lambda e, v: (e.marital_status == "married") == v,
    "insured": lambda e, v: (e.insurer is not None) == v,
    "wage_at_least": lambda e, v: e.monthly_wage is not None and e.monthly_wage >= Decimal(v),
    "wage_below": lambda e, v: e.monthly_wage is not None and e.monthly_wage < Decimal(v),
    "min_workers": lambda e, v: e.worker_count >= v,
}


def _find_first(entities: Iterator, kind: str, criteria: dict):
    """First entity satisfying every criterion; a clear error when none does."""
    def matches(entity) -> bool:
        for key, value in criteria.items():
            if key in _DERIVED:
                if not _DERIVED[key](entity, value):
                    return False
            elif not hasattr(entity, key):
                raise InputError(f"unknown {kind} criterion {key!r}")
            elif getattr(entity, key) != value:
                return False
        return True
    for entity in entities:
        if matches(entity):
            return entity
    raise InputError(f"no {kind} in the population matches {criteria}")
