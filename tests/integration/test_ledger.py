"""The disclosure ledger over a real log (SQLite and PostgreSQL), fed through the real pipeline.

Messages about workers are accepted by the pipeline with the shipped access
rights; the ledger must list exactly one worker's messages with the legal basis
in force when each was accepted (also after access.toml changes), its signed
report must verify with PyJWT and with openssl — not only with our code — and a
tampered report must not; every look-up is chained.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hub.access import AccessRights
from hub.errors import AuditChainError, ConfigError, InputError
from hub.jws import b64url, b64url_decode, compact, payload_of
from hub.ledger import report_digest
from hub.messagelog.ledger import CONSULTED, Window
from hub.messagelog.schema import audit_chain
from hub.pipeline_types import Inbound
from hub.signing import TrustStore
from hub.xmlsafe import parse_xml
from tests.console_support import RENEWAL, accept_arrival, make_hub
from tests.unit.test_pipeline import ARRIVAL
from tests.unit.test_projection import ask

WORKER, OTHER = "120339847", "098765432"
SHIPPED_BASIS = "Foreigners' Residence Law, art. 17: residence renewal (illustrative)"
NEW_BASIS = "Foreigners' Residence Law (amended 2027), art. 17 bis"


def renewal(hub, civil: str, number: int) -> str:
    """A residence renewal about ``civil``, accepted by the real pipeline (agency id REN-<civil>-<number>)."""
    raw = RENEWAL.format(civil=civil, passport="AB7712046", name_en="Imran Khan Afridi",
                         name_ar="عمران خان آفريدي").encode()
    inbound = Inbound(agency="police", system="civil-registry", message_type="ResidenceRenewal",
                      destination="licensing", raw=raw, source_message_id=f"REN-{civil}-{number}")
    return hub.pipeline.accept(inbound, parse_xml(raw)).message_id


def report(hub, civil: str = WORKER, **window) -> tuple[dict, dict]:
    signed = hub.ledger.report(civil, asked_by="test:portal", window=Window(**window))
    return signed, payload_of(signed)


@pytest.fixture
def hub(tmp_path, trust_store, database_url):
    hub = make_hub(tmp_path, trust_store, database_url=database_url)
    yield hub
    hub.close()


def test_the_ledger_lists_exactly_the_workers_messages_with_the_basis_of_their_day(tmp_path, hub, database_url,
                                                                                  trust_store):
    mine = [renewal(hub, WORKER, 1), renewal(hub, WORKER, 2)]
    renewal(hub, OTHER, 1)
    accept_arrival(hub, "T5550001")  # a passport only: about nobody's civil number
    changed = tmp_path / "access.toml"
    changed.write_text(Path(shipped_file()).read_text(encoding="utf-8").replace(SHIPPED_BASIS, NEW_BASIS),
                       encoding="utf-8")
    hub.access = AccessRights.load(changed)  # the operator changes access.toml; a new pipeline reads it
    del hub.__dict__["pipeline"]
    mine.append(renewal(hub, WORKER, 3))

    _, found = report(hub)
    entries = found["entries"]
    assert [e["message_id"] for e in entries] == mine
    assert [e["legal_basis"] for e in entries] == [SHIPPED_BASIS, SHIPPED_BASIS, NEW_BASIS]
    first = entries[0]
    assert (first["message_type"], first["sender"], first["receiver"], first["outcome"]) == (
        "ResidenceRenewal", {"agency": "police", "system": "civil-registry"}, "licensing", "received")
    with hub.log.engine.connect() as conn:
        record = conn.execute(sa.select(audit_chain).where(audit_chain.c.seq == first["record"]["seq"])).one()
    assert (record.kind, record.message_id, record.hash, record.lane, record.lane_seq) == (
        "accepted", first["message_id"], first["record"]["hash"], first["record"]["lane"], first["record"]["lane_seq"])
    assert found["civil_number"] == WORKER and found["page"]["next_after"] is None
    assert hub.log.verify_chain().ok


def shipped_file() -> Path:
    from hub import resources
    return resources.default_file("access")


def test_the_basis_is_fixed_by_the_chain_an_edit_is_caught(hub):
    renewal(hub, WORKER, 1)
    _, found = report(hub)
    seq = found["entries"][0]["record"]["seq"]
    with hub.log.engine.begin() as conn:
        detail = conn.execute(sa.select(audit_chain.c.detail).where(audit_chain.c.seq == seq)).scalar_one()
        assert json.loads(detail)["legal_basis"] == SHIPPED_BASIS
        conn.execute(sa.update(audit_chain).where(audit_chain.c.seq == seq)
                     .values(detail=detail.replace("art. 17", "art. 99")))
    with pytest.raises(AuditChainError, match="altered"):
        hub.log.verify_chain()
    assert report(hub)[1]["entries"][0]["legal_basis"].startswith("Foreigners' Residence Law, art. 99")


def test_a_question_lists_its_answer_and_the_answer_its_basis(hub, pki_dir):
    body, question_id = ask(hub.pipeline, ARRIVAL.encode(), pki_dir)  # licensing answers with worker 118457203's record
    (entry,) = report(hub, "118457203")[1]["entries"]
    assert (entry["message_type"], entry["sender"]["agency"], entry["receiver"]) == ("WorkerRecord", "licensing",
                                                                                      "police")
    assert entry["legal_basis"] == AccessRights.load().basis("licensing", "WorkerRecord")
    assert entry["outcome"] == "published"
    question = hub.log.get(question_id)
    assert entry["correlation_id"] == question.correlation_id


def test_an_entry_names_the_fields_its_receiver_was_sent_and_those_withheld(tmp_path, hub):
    limited = tmp_path / "access.toml"
    limited.write_text(Path(shipped_file()).read_text(encoding="utf-8").replace(
        "[licensing]\n", '[licensing]\nfields.ResidenceRenewal = ["Worker/CivilNumber", "Worker/Name", '
        '"Worker/Nationality", "ResidenceCard", "Profession/Code", "RenewedAt"]\n', 1), encoding="utf-8")
    hub.access = AccessRights.load(limited)
    hub.__dict__.pop("pipeline", None)
    renewal(hub, WORKER, 1)
    (entry,) = report(hub)[1]["entries"]
    (projection,) = entry["projections"]
    assert (projection["party"], projection["message_type"]) == ("licensing", "ResidenceRenewal")
    assert "Worker/PassportNumber" in projection["withheld"] and "Worker/CivilNumber" in projection["sent"]


def test_pages_follow_each_other_without_gaps_or_repeats(hub):
    mine = [renewal(hub, WORKER, number) for number in range(5)]
    seen, after = [], 0
    while True:
        _, page = report(hub, after=after, limit=2)
        seen += [e["message_id"] for e in page["entries"]]
        assert len(page["entries"]) <= 2
        if page["page"]["next_after"] is None:
            break
        after = page["page"]["next_after"]
    assert seen == mine


def test_the_report_verifies_independently_and_a_tampered_one_does_not(hub, pki_dir, tmp_path):
    renewal(hub, WORKER, 1)
    signed, found = report(hub)
    token = compact(signed)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["cty"] == "application/vnd.rabt.disclosure-ledger+json"
    certificate = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    assert certificate.subject.rfc4514_string() == found["issuer"]
    # PyJWT, with the key of the certificate the header carries
    decoded = jwt.api_jws.decode_complete(token, certificate.public_key(), algorithms=["RS256"])
    assert json.loads(decoded["payload"]) == found
    # openssl: the certificate chains to the hub's CA, and the signature over "header.payload" verifies
    pem = tmp_path / "hub.pem"
    pem.write_bytes(certificate.public_bytes(Encoding.PEM))
    ca = subprocess.run(["openssl", "verify", "-CAfile", str(pki_dir / "ca.pem"), str(pem)], capture_output=True)
    assert ca.returncode == 0, ca.stderr
    assert openssl_verifies(tmp_path, certificate, signed)

    tampered = {**found, "entries": []}
    forged = {**signed, "payload": b64url(json.dumps(tampered).encode())}
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.api_jws.decode_complete(compact(forged), certificate.public_key(), algorithms=["RS256"])
    assert not openssl_verifies(tmp_path, certificate, forged)


def openssl_verifies(folder: Path, certificate: x509.Certificate, signed: dict) -> bool:
    (folder / "key.pem").write_bytes(certificate.public_key().public_bytes(Encoding.PEM,
                                                                           PublicFormat.SubjectPublicKeyInfo))
    (folder / "signed.txt").write_bytes(f"{signed['protected']}.{signed['payload']}".encode())
    (folder / "signature.bin").write_bytes(b64url_decode(signed["signature"]))
    checked = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(folder / "key.pem"), "-signature",
                              str(folder / "signature.bin"), str(folder / "signed.txt")], capture_output=True)
    return checked.returncode == 0


def test_every_look_up_is_chained_and_shown_to_the_next(hub):
    renewal(hub, WORKER, 1)
    first, _ = report(hub)
    _, second = report(hub)
    with hub.log.engine.connect() as conn:
        rows = conn.execute(sa.select(audit_chain).where(audit_chain.c.status == CONSULTED)
                            .order_by(audit_chain.c.seq)).all()
    assert [(r.kind, r.actor, r.message_id) for r in rows] == [("action", "test:portal", f"ledger:{WORKER}")] * 2
    detail = json.loads(rows[0].detail)
    assert detail["civil_number"] == WORKER and detail["entries"] == 1
    assert detail["report_sha256"] == report_digest(first)
    assert [c["asked_by"] for c in second["consultations"]] == ["test:portal"]
    assert second["consultations"][0]["record"]["hash"] == rows[0].hash
    assert hub.log.verify_chain().ok


@pytest.mark.parametrize("civil,window,reason", [
    ("12", {}, "8 or 9 digits"), ("12345678' OR 1=1", {}, "8 or 9 digits"), ("١٢٣٤٥٦٧٨", {}, "8 or 9 digits"),
    (WORKER, {"limit": 0}, "limit"), (WORKER, {"after": -1}, "after"),
])
def test_bad_requests_are_refused_naming_what_and_not_chained(hub, civil, window, reason):
    with pytest.raises(InputError, match=reason):
        report(hub, civil, **window)
    with hub.log.engine.connect() as conn:
        assert conn.execute(sa.select(audit_chain).where(audit_chain.c.status == CONSULTED)).first() is None


def test_a_basis_for_a_type_the_agency_may_not_send_is_refused_naming_it(tmp_path):
    path = tmp_path / "access.toml"
    path.write_text('[police]\nmay_send = ["WorkerArrival"]\nbasis.WorkerArival = "Law 1, art. 2"\n')
    with pytest.raises(ConfigError, match="basis.WorkerArival"):
        AccessRights.load(path)
    path.write_text('[police]\nmay_send = ["WorkerArrival"]\ndefault_basis = " "\n')
    with pytest.raises(ConfigError, match="default_basis"):
        AccessRights.load(path)
    path.write_text('[police]\nmay_send = ["WorkerArrival", "VisaIssued"]\ndefault_basis = "Law 1"\n'
                    'basis.WorkerArrival = "Law 2"\n')
    rights = AccessRights.load(path)
    assert (rights.basis("police", "WorkerArrival"), rights.basis("police", "VisaIssued"),
            rights.basis("courts", "LabourCaseUpdate")) == ("Law 2", "Law 1", None)


def rabt(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RABT_")}
    return subprocess.run([sys.executable, "-m", "hub", *args], env={**env, "RABT_HOME": str(home)},
                          capture_output=True, text=True, timeout=60)


def test_rabt_ledger_writes_a_report_that_verifies_and_refuses_bad_input(tmp_path, pki_dir):
    home = tmp_path / "home"
    shutil.copytree(pki_dir, home / "pki")
    hub = make_hub(tmp_path, TrustStore.load(home / "pki"))
    wanted = renewal(hub, WORKER, 1)
    hub.close()
    out = tmp_path / "report.json"
    done = rabt(home, "ledger", WORKER, "--from", "2020-01-01", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert f"1 entries for {WORKER} written to {out}" in done.stdout
    signed = json.loads(out.read_text())
    token = compact(signed)
    certificate = x509.load_der_x509_certificate(base64.b64decode(jwt.get_unverified_header(token)["x5c"][0]))
    report = json.loads(jwt.api_jws.decode(token, certificate.public_key(), algorithms=["RS256"]))
    assert [e["message_id"] for e in report["entries"]] == [wanted] and report["asked_by"].startswith("cli:")
    refused = rabt(home, "ledger", "1234")
    assert refused.returncode == 1 and "8 or 9 digits" in refused.stderr and "Traceback" not in refused.stderr
    usage = rabt(home, "ledger", WORKER, "--until", "soon")
    assert usage.returncode == 2 and "ISO-8601" in usage.stderr
