"""Licensing's statistics published as a signed open-data folder.

:func:`publish` writes, into a new folder ``statistics-<UTC time>`` under the
publication root (written under a temporary name, then renamed, so a reader
never sees half a publication):

* ``statistics.json`` and its JSON Schema ``statistics.schema.json``;
* one CSV per table and ``datapackage.json``, a Frictionless Data Package
  whose Table Schemas describe each CSV's columns, types and missing values;
* ``manifest.xml`` (:mod:`simulators.licensing.publication`): every file's name, size and SHA-256, signed by the hub
  (enveloped XML-DSig, the hub's certificate in KeyInfo), so anyone holding
  the hub's certificate — with the hub's verifier or ``xmlsec1 --verify`` —
  can check that the files are the ones published.

A withheld count is ``null`` in the JSON and empty in the CSV, with the
reason (``primary`` / ``secondary``) in the column beside it.
``python -m simulators.licensing statistics`` runs it once, or every
``--every`` seconds as the publication schedule.
"""

from __future__ import annotations

import csv
import io
from itertools import accumulate

from simulators import names
from simulators.licensing import statistics as stats
from simulators.licensing.state import LicensingState
from simulators.population import Draw, Population, PopulationSpec

MANIFEST_NS = "urn:rabt:opendata:v1"
SUPPRESSION_RULE = ("counts from 1 to threshold-1 withheld (primary); where one count of a group would follow "
                    "from its total, the next smallest count or the total withheld too (secondary)")
#: table → its columns: (name, Table Schema type, description); every count has a "<name>_suppressed" beside it
TABLES = {
    "licences_by_governorate": (("licence_type", "string", "private or commercial"),
                                ("governorate", "string", "ISO 3166-2:OM code, 'unknown', or 'total' of the type"),
                                ("licences", "integer", "licences held")),
    "border_movements_by_month": (("month", "string", "YYYY-MM, or 'total'"),
                                  ("arrivals", "integer", "workers who arrived"),
                                  ("departures", "integer", "workers who left")),
    "wage_protection_by_month": (("pay_month", "string", "YYYY-MM"),
                                 ("compliant_files", "integer", "wage files paid on time with every worker"),
                                 ("non_compliant_files", "integer", "wage files late or missing workers"),
                                 ("files", "integer", "wage files received")),
}
_GOVERNORATE_CUM = tuple(accumulate(w for _, w in names.GOVERNORATES))
_MAX_EMPLOYERS = 1_000_000


def population_governorates(seed: int = 2026) -> stats.GovernorateOf:
    """Where the simulated registries place a licence: the establishment's CR, the holder's address.

    The reference system keeps no address of its own; it reads the synthetic
    population's: an establishment's governorate (which depends on the seed
    and its CR number only, not on the population's size), and for a private
    licence's holder an address drawn from the seed and their civil number.
    """
    registry = Population(PopulationSpec(seed=seed, citizens=0, workers=0, employers=_MAX_EMPLOYERS))

    def governorate_of(licence_type: str, holder: str | None, employer_cr: str | None) -> str | None:
        if employer_cr:
            employer = registry.employer_by_cr(employer_cr)
            return None if employer is None else employer.governorate
        if holder and holder.isdigit() and holder.isascii():
            draw = Draw(seed, "citizen-address", int(holder))
            return names.GOVERNORATES[draw.weighted(_GOVERNORATE_CUM)][0]
        return None

    return governorate_of


# ------------------------------------------------------------------ the tables as records


def _count(name: str, cell: stats.Cell) -> dict:
    return {name: cell.shown, f"{name}_suppressed": cell.suppressed}


def tables(state: LicensingState, governorate_of: stats.GovernorateOf, threshold: int) -> dict[str, list[dict]]:
    """Every table as a list of records, suppression applied."""
    with state.engine.connect() as conn:
        licences = stats.licences_by_governorate(conn, governorate_of, threshold)
        movements = stats.border_movements_by_month(conn, threshold)
        wages = stats.wage_protection_by_month(conn, threshold)
    return {
        "licences_by_governorate": [{"licence_type": t, "governorate": g, **_count("licences", c)}
                                    for t, g, c in licences],
        "border_movements_by_month": [{"month": m, **_count("arrivals", a), **_count("departures", d)}
                                      for m, a, d in movements],
        "wage_protection_by_month": [{"pay_month": m, **_count("compliant_files", ok), **_count(
            "non_compliant_files", late), **_count("files", files)} for m, ok, late, files in wages],
    }


def _columns(table: str) -> list[str]:
    return [c for name, kind, _ in TABLES[table] for c in ((name, f"{name}_suppressed") if kind == "integer"
                                                           else (name,))]


def csv_text(table: str, records: list[dict]) -> bytes:
    """One table as CSV (UTF-8, header row, CRLF as RFC 4180 says); a withheld count is empty."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=_columns(table))
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in records)
    return out.getvalue().encode("utf-8")


# ------------------------------------------------------------------ schemas


def json_schema() -> dict:
    """The JSON Schema (2020-12) of ``statistics.json``."""
    def record(table: str) -> dict:
        properties = {}
        for name, kind, description in TABLES[table]:
            if kind == "integer":
                properties[name] = {"type": ["integer", "null"], "minimum": 0, "description": description}
                properties[f"{name}_suppressed"] = {"enum": [None, "primary", "secondary"]}
            else:
                properties[name] = {"type": "string", "description": description}
        return {"type": "object", "properties": properties, "required": list(properties),
                "additionalProperties": False}

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "urn:rabt:opendata:v1:statistics",
        "title": "Labour licensing statistics (no personal data; counts 1-9 withheld)", "type": "object",
        "required": ["title", "generated_at", "suppression", "tables"], "additionalProperties": False,
        "properties": {
            "title": {"type": "string"}, "generated_at": {"type": "string", "format": "date-time"},
            "suppression": {"type": "object", "required": ["threshold", "rule"],
                            "properties": {"threshold": {"type": "integer"}, "rule": {"type": "string"}}},
            "tables": {"type": "object", "required": list(TABLES), "additionalProperties": False,
                       "properties": {t: {"type": "array", "items": record(t)} for t in TABLES}},
        },
    }


def data_package() -> dict:
    """``datapackage.json``: each CSV's Table Schema (Frictionless Data)."""
    def fields(table: str) -> list[dict]:
        found = []
        for name, kind, description in TABLES[table]:
            found.append({"name": name, "type": kind, "description": description,
                          **({"constraints": {"minimum": 0}} if kind == "integer" else {})})
            if kind == "integer":
                found.append({"name": f"{name}_suppressed", "type": "string",
                              "constraints": {"enum": ["primary", "secondary"]},
                              "description": f"why {name} is withheld, empty when shown"})
        return found

    return {"name": "rabt-labour-statistics", "title": "Labour licensing statistics", "licenses": [
        {"name": "ODC-BY-1.0"}], "resources": [
        {"name": t.replace("_", "-"), "path": f"{t}.csv", "format": "csv", "mediatype": "text/csv",
         "encoding": "utf-8", "schema": {"fields": fields(t), "missingValues": [""]}} for t in TABLES]}
