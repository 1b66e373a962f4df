"""Scenario 16: a worker's disclosure report.

A worker arrives (the police tell the ministry), and the municipality asks for
their record for a health card. The worker then asks who received data about
them: ``rabt ledger`` (a separate process, as an operator would run it) writes a
report signed by the hub, which is checked here with the certificate it carries
and the development CA — with ``cryptography`` directly, not the hub's code — and
must list both exchanges with their legal basis, and its own look-up must be in
the message log.
"""

from __future__ import annotations

import base64
import json
import sys

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from hub import lifeline
from simulators.demo.context import DemoContext
from simulators.demo.expectations import ScenarioFailed, expect
from simulators.demo.probes import arrived_worker, municipality_client


def disclosure_report(ctx: DemoContext) -> str:
    """Arrival and a municipality query about one worker, then their signed disclosure report."""
    worker = arrived_worker(ctx, 41)
    municipality = municipality_client(ctx)
    try:
        municipality.worker_record(worker, fields=("NameEn", "ProfessionCode"))
    finally:
        municipality.close()
    report = _checked_report(ctx, worker.civil_number)
    kinds = {entry["message_type"]: entry for entry in report["entries"]}
    expect({"WorkerArrival", "WorkerRecordQuery"} <= set(kinds),
           f"the report lists {sorted(kinds)}, not the arrival and the municipality's question")
    expect(all(kinds[k]["legal_basis"] for k in ("WorkerArrival", "WorkerRecordQuery")),
           "an entry has no legal basis")
    question = kinds["WorkerRecordQuery"]
    answered = {(a["sender"], a["receiver"]) for a in question["answers"]}
    expect({("licensing", "municipality"), ("hub", "municipality")} <= answered,
           f"the municipality's question lists the answers {sorted(answered)}, not licensing's and the hub's")
    expect(all(a["legal_basis"] for a in question["answers"] if a["sender"] == "licensing"),
           "licensing's answer has no legal basis")
    looked_up = [a for a in ctx.log.actions(20) if a.message_id == f"ledger:{worker.civil_number}"]
    expect(bool(looked_up), "the look-up of the ledger is not in the message log")
    return (f"{worker.name.en} ({worker.civil_number}): {len(report['entries'])} entries signed by the hub; "
            f"municipality asked on \u201c{question['legal_basis']}\u201d; look-up chained by {looked_up[0].actor}")


def _checked_report(ctx: DemoContext, civil_number: str) -> dict:
    """``rabt ledger`` run as its own process; its report's payload once its signature and certificate check out."""
    out = ctx.home / f"ledger-{civil_number}.json"
    run = lifeline.run([sys.executable, "-m", "hub", "ledger", civil_number, "--out", str(out)],
                       env=ctx.stack.environment(), capture_output=True, text=True, timeout=60)
    expect(run.returncode == 0, f"rabt ledger failed: {run.stderr.strip()[-300:]}")
    signed = json.loads(out.read_text(encoding="utf-8"))
    header = json.loads(_unb64(signed["protected"]))
    certificate = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    ca = x509.load_pem_x509_certificate((ctx.settings.pki_dir / "ca.pem").read_bytes())
    try:
        certificate.verify_directly_issued_by(ca)
        expect(header["alg"] == "RS256", f"the demo PKI signs with RSA, the report says {header['alg']}")
        certificate.public_key().verify(_unb64(signed["signature"]),
                                        f"{signed['protected']}.{signed['payload']}".encode("ascii"),
                                        padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise ScenarioFailed(f"the report's signature does not verify: {exc!r}") from exc
    return json.loads(_unb64(signed["payload"]))


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
