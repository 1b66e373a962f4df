"""Licensing's open-data statistics: suppression, the files against their schemas, the hub's signature.

The publication is checked as an outside consumer would: the manifest with the
hub's verifier and with libxmlsec1 (``xmlsec1 --verify``), every file against
the SHA-256 the manifest gives, ``statistics.json`` against its JSON Schema and
each CSV against its Table Schema in ``datapackage.json``.
"""

from __future__ import annotations

import csv
import itertools
import json
import random
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest

from hub.errors import SignatureError
from hub.signing import Signer, Verifier
from simulators.licensing import statistics as stats
from simulators.licensing.open_data import population_governorates
from simulators.licensing.publication import publish, verify_publication
from simulators.licensing.state import LicensingState
from simulators.licensing.tables import licences, salary_batches, worker_events
from simulators.population import Population

NOW = datetime(2026, 5, 20, 8, 0, tzinfo=timezone.utc)
#: (licence type, governorate) → licences held
LICENCES = {("private", "OM-MA"): 25, ("private", "OM-BS"): 12, ("private", "OM-DA"): 3,
            ("commercial", "OM-MA"): 4, ("commercial", "OM-ZU"): 5}
#: month → (arrivals, departures)
MOVEMENTS = {"2026-01": (15, 0), "2026-02": (12, 4), "2026-03": (30, 11)}
#: pay month → (compliant, late)
WAGES = {"2026-02": (18, 2), "2026-03": (30, 0)}
#: holder's civil number or establishment's CR → governorate, filled with the licences
GOVERNORATE: dict[str, str] = {}


def cells(*counts: int) -> stats.Group:
    return stats.Group([stats.Cell(n) for n in counts], stats.Cell(sum(counts)))


def shown(group: stats.Group) -> tuple:
    return tuple(c.shown for c in group.cells), group.total.shown


def test_small_counts_are_withheld_and_never_recoverable_by_subtraction():
    group = cells(25, 12, 3)
    stats.suppress([group])
    assert shown(group) == ((25, None, None), 40)
    assert [c.suppressed for c in group.cells] == [None, "secondary", "primary"]
    zeros = cells(0, 0, 4)  # zeros are shown; the total is as small as the count
    stats.suppress([zeros])
    assert shown(zeros) == ((0, 0, None), None) and zeros.total.suppressed == "primary"
    beside_zero = cells(0, 12, 4)  # the zero cannot hide it: the smallest non-zero goes
    stats.suppress([beside_zero])
    assert shown(beside_zero) == ((0, None, None), 16)
    small = cells(4, 5)
    stats.suppress([small])
    assert shown(small) == ((None, None), None) and small.total.suppressed == "primary"
    single = cells(7)
    stats.suppress([single])
    assert shown(single) == ((None,), None)


def test_no_group_ever_leaves_one_withheld_count_beside_a_published_total():
    draw = random.Random(21)
    for _ in range(2000):
        group = cells(*(draw.choice((0, 0, 1, 3, 9, 10, 11, 40, 500)) for _ in range(draw.randint(1, 6))))
        stats.suppress([group])
        withheld = [c for c in group.cells if c.suppressed]
        assert all(c.count == 0 or c.count >= 10 for c in group.cells if not c.suppressed)
        if group.total.shown is not None and withheld:
            assert len(withheld) >= 2, [(c.count, c.suppressed) for c in group.cells]


@pytest.fixture
def state(tmp_path) -> LicensingState:
    state = LicensingState(f"sqlite:///{tmp_path / 'licensing.sqlite3'}")
    numbers = itertools.count(1)
    with state.engine.begin() as conn:
        for (kind, governorate), count in LICENCES.items():
            for _ in range(count):
                n = next(numbers)
                conn.execute(licences.insert().values(
                    number=f"{'PL' if kind == 'private' else 'CL'}-2026-{n:06d}", application_number=f"A-{n}",
                    licence_type=kind, holder_civil_number=f"1{n:07d}" if kind == "private" else None,
                    employer_cr=f"{governorate}-{n}" if kind == "commercial" else None, status="approved",
                    issued_on="2026-01-02", valid_until="2027-01-01"))
                GOVERNORATE[(f"1{n:07d}" if kind == "private" else f"{governorate}-{n}")] = governorate
        for month, (arrivals, departures) in MOVEMENTS.items():
            for kind, count in (("WorkerArrival", arrivals), ("WorkerDeparture", departures)):
                if count:
                        conn.execute(worker_events.insert(), [
                        {"message_id": f"{kind}-{month}-{i}", "kind": kind, "civil_number": f"2{i:07d}",
                         "passport_number": f"P{i:07d}", "occurred_at": f"{month}-03T08:00:00Z", "detail": "{}"}
                        for i in range(count)])
        for month, (compliant, late) in WAGES.items():
            conn.execute(salary_batches.insert(), [
                {"message_id": f"sif-{month}-{i}", "employer_cr": f"{1000000 + i}", "pay_month": month,
                 "file_reference": f"SIF-{i}", "record_count": 3, "line_count": 3, "late_lines": int(i < late),
                 "missing_lines": 0, "late_payer": i < late, "problems": "[]"} for i in range(compliant + late)])
    yield state
    state.engine.dispose()


def governorate_of(licence_type: str, holder: str | None, employer_cr: str | None) -> str:
    return GOVERNORATE[holder or employer_cr]


@pytest.fixture
def published(state, tmp_path, trust_store):
    return publish(state, tmp_path / "open-data", Signer(trust_store.hub), governorate_of, now=NOW)


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_publication_counts_what_licensing_holds_with_small_counts_withheld(published):
    document = json.loads((published.folder / "statistics.json").read_text(encoding="utf-8"))
    tables = document["tables"]
    licences_shown = {(r["licence_type"], r["governorate"]): r["licences"] for r in tables["licences_by_governorate"]}
    assert licences_shown == {("commercial", "OM-MA"): None, ("commercial", "OM-ZU"): None,
                              ("commercial", "total"): None, ("private", "OM-BS"): None, ("private", "OM-DA"): None,
                              ("private", "OM-MA"): 25, ("private", "total"): 40}
    movements = {r["month"]: (r["arrivals"], r["departures"]) for r in tables["border_movements_by_month"]}
    assert movements == {"2026-01": (15, 0), "2026-02": (12, None), "2026-03": (30, None), "total": (57, 15)}
    wages = {r["pay_month"]: (r["compliant_files"], r["non_compliant_files"], r["files"])
             for r in tables["wage_protection_by_month"]}
    assert wages == {"2026-02": (None, None, 20), "2026-03": (30, 0, 30)}
    everything = b"".join(p.read_bytes() for p in published.folder.iterdir())
    assert b"10000001" not in everything and b"P0000001" not in everything  # no person's number anywhere


def test_json_and_csv_match_their_schemas(published):
    folder = published.folder
    schema = json.loads((folder / "statistics.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads((folder / "statistics.json").read_text(encoding="utf-8")), schema)
    package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    assert {r["path"] for r in package["resources"]} == {p.name for p in folder.glob("*.csv")}
    for resource in package["resources"]:
        fields = resource["schema"]["fields"]
        rows = read_csv(folder / resource["path"])
        assert rows and list(rows[0]) == [f["name"] for f in fields]
        for row, field in itertools.product(rows, fields):
            value = row[field["name"]]
            if value in resource["schema"]["missingValues"]:
                continue
            if field["type"] == "integer":
                assert int(value) >= field["constraints"]["minimum"]
            elif "constraints" in field:
                assert value in field["constraints"]["enum"]
    wrong = json.loads((folder / "statistics.json").read_text(encoding="utf-8"))
    wrong["tables"]["border_movements_by_month"][0]["arrivals"] = -1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(wrong, schema)


def test_the_hubs_signature_holds_for_its_verifier_and_for_xmlsec1(published, trust_store, pki_dir):
    listed = verify_publication(published.folder, Verifier(trust_store))
    assert set(listed) == set(published.files) - {"manifest.xml"}
    binary = shutil.which("xmlsec1")
    assert binary, "xmlsec1 is not installed"
    checked = subprocess.run([binary, "--verify", "--trusted-pem", str(pki_dir / "ca.pem"),
                              str(published.folder / "manifest.xml")], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0 and "OK" in checked.stderr, checked.stderr


def test_a_changed_file_or_manifest_is_refused(published, trust_store):
    verifier = Verifier(trust_store)
    csv_file = published.folder / "border_movements_by_month.csv"
    original = csv_file.read_bytes()
    csv_file.write_bytes(original.replace(b"2026-01,15", b"2026-01,16"))
    with pytest.raises(SignatureError, match="border_movements_by_month.csv differs"):
        verify_publication(published.folder, verifier)
    csv_file.write_bytes(original)
    manifest = published.folder / "manifest.xml"
    signed = manifest.read_bytes()
    digest = signed.split(b'sha256="', 1)[1][:64]
    manifest.write_bytes(signed.replace(digest, digest[::-1], 1))
    with pytest.raises(SignatureError):
        verify_publication(published.folder, verifier)
    manifest.write_bytes(signed)
    (published.folder / "extra.csv").write_text("x\n")
    with pytest.raises(SignatureError, match="unlisted"):
        verify_publication(published.folder, verifier)


def test_governorates_come_from_the_simulated_registries():
    of = population_governorates()
    employers = list(itertools.islice(Population().employers(), 50))
    assert all(of("commercial", None, e.cr_number) == e.governorate for e in employers)
    assert of("private", "10000012", None) == of("private", "10000012", None) is not None
    assert of("commercial", None, "not-a-cr") is None
