"""What one visa check costs licensing's consumer: CPU per VisaEligibilityQuery delivery, by stage.

    python benchmarks/licensing_visa_answer.py                  # 400 checks, RSA keys
    python benchmarks/licensing_visa_answer.py --checks 1000 --key-type ec
    python benchmarks/licensing_visa_answer.py --valgrind       # also instructions per check

Hub-signed VisaEligibilityQuery deliveries (half answered yes, half no, as in
``end_to_end.py``'s visa phase) go through ``LicensingConsumer.handle`` on a
fresh SQLite licensing database, one after another in one thread, wired as
``consume`` wires it: licensing's verifier and seal, and a receipt sender
sealing DeliveryReceipts in its own thread. A transport that keeps what it is
given stands in for the broker (whose CPU is not licensing's). Printed per
check: the thread's CPU in all and per stage — the hub's signature checked,
the canonical schema, the answer read from the licence, the answer sealed
(licensing's signature), the question recorded (the commit window) — the
process's CPU, which adds the receipt sender's, and the receipts sealed.
CPU time, not wall time, because the host is shared; ``--valgrind`` runs
the checks under ``valgrind --tool=callgrind`` twice (with and without them)
and prints user-space instructions per check, which a loaded machine cannot
move.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from lxml import etree

import callgrind

SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "samples" / "canonical" / "VisaEligibilityQuery.xml"
R = "{urn:rabt:canonical:v1}"
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=timezone.utc)
PROFESSION, OTHER_PROFESSION = "911101", "2211"
WARM = 20


class KeptReplies:
    """Stands in for the transport: ``reply`` keeps the answer's bytes and ``publish`` the receipts; nothing is sent."""

    def __init__(self) -> None:
        self.replies: list[bytes] = []
        self.published: list = []

    def __enter__(self) -> KeptReplies:
        return self

    def __exit__(self, *_exc) -> None:
        pass

    def reply(self, request, message) -> None:
        self.replies.append(message.body)

    def publish(self, messages) -> None:
        self.published += list(messages)


def prepare(home: Path, checks: int, key_type: str) -> None:
    """PKI, a licensing database with one approved licence, and the hub-signed questions on disk."""
    from hub.envelope import build_envelope, new_header
    from hub.pki import init_pki
    from hub.signing import Signer, TrustStore
    from simulators.licensing import rules
    from simulators.licensing.state import ApplicationRequest, LicensingState

    init_pki(home / "pki", ["police", "licensing"], key_type=key_type)
    state = LicensingState(f"sqlite:///{home / 'licensing.sqlite3'}")
    number = state.create_application(ApplicationRequest("private", ((PROFESSION, None, 50),),
                                                         applicant_civil_number="09123456"), NOW)
    approved = rules.Outcome(rules.APPROVED, (rules.Reason("all-checks-passed", "benchmark licence"),))
    licence = state.record_decision(number, approved, NOW)["licence_number"]
    state.engine.dispose()
    signer, lines = Signer(TrustStore.load(home / "pki").hub), []
    for n in range(checks):
        body = etree.parse(str(SAMPLE), etree.XMLParser(remove_comments=True)).getroot()
        body.find(f"{R}LicenceNumber").text = licence
        body.find(f"{R}ProfessionCode").text = PROFESSION if n % 2 == 0 else OTHER_PROFESSION
        header = new_header(message_type="VisaEligibilityQuery", source_agency="police", source_system="bench",
                            destination="licensing", raw_payload=etree.tostring(body))
        lines.append(signer.sign_bytes(build_envelope(header, body)).hex())
    (home / "questions.hex").write_text("\n".join(lines))


def timed_stage(spent: Counter, stage: str, function):
    def timing(*args, **kwargs):
        began = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[stage] += time.thread_time() - began
    return timing


def consumer_for(home: Path, transport: KeptReplies, spent: Counter | None):
    """Licensing's consumer as ``consume`` wires it (its verifier, its seal), stages timed into ``spent``.

    On a copy of the prepared database: every run records its questions anew.
    """
    from hub.signing import TrustStore
    from simulators.licensing import consumer as consumer_module
    from simulators.licensing.consumer import LicensingConsumer
    from simulators.licensing.hub_link import hub_verifier, licensing_seal
    from simulators.licensing.receipt_store import ReceiptStore
    from simulators.licensing.receipts import ReceiptSender
    from simulators.licensing.state import LicensingState

    database = home / f"run-{os.getpid()}.sqlite3"
    shutil.copyfile(home / "licensing.sqlite3", database)
    state = LicensingState(f"sqlite:///{database}")
    verify, seal = hub_verifier(TrustStore.load(home / "pki")), licensing_seal(home / "pki")
    if spent is not None:
        verify = timed_stage(spent, "hub's signature checked", verify)
        # timed on the seal itself: a stand-in callable would lack its roads without the envelope tree
        for road in ("envelope", "envelope_of"):
            if hasattr(seal, road):
                setattr(seal, road, timed_stage(spent, "answer sealed", getattr(seal, road)))
        consumer_module.canonical.validate = timed_stage(spent, "canonical schema", consumer_module.canonical.validate)
        state.apply_once = timed_stage(spent, "question recorded (commit window)", state.apply_once)
    # DeliveryReceipts as ``consume`` sends them: sealed in a thread of their own, one per commit window
    receipts = ReceiptSender(lambda: transport, licensing_seal(home / "pki"), store=ReceiptStore(state.engine))
    receipts.attach(state.windows)
    receipts.start()
    consumer = LicensingConsumer(state, verify, transport=transport, seal=seal, now=lambda: NOW, receipts=receipts)
    if spent is not None:
        consumer.visa_answer = timed_stage(spent, "answer read from the licence", consumer.visa_answer)
    return consumer


def child(home: Path, checks: int, count_stages: bool) -> None:
    """Warm up on WARM checks, then handle ``checks`` more; with ``count_stages`` print the CPU per stage."""
    from hub.transports import Delivery, Message

    questions = [bytes.fromhex(line) for line in (home / "questions.hex").read_text().split()]
    spent, transport = Counter(), KeptReplies()
    consumer = consumer_for(home, transport, spent if count_stages else None)
    for n, data in enumerate(questions[:WARM + checks]):
        if n == WARM:
            spent.clear()
            began, process_began, receipts_before = time.thread_time(), time.process_time(), len(transport.published)
        consumer.handle(Delivery(Message(data, "licensing.VisaEligibilityQuery.police", f"q-{n}", f"c-{n}",
                                         "amq.rabbitmq.reply-to.bench"), "licensing", 1, False))
    used = time.thread_time() - began if checks else 0.0
    consumer.receipts.close()
    process_used = time.process_time() - process_began if checks else 0.0
    answers = b"".join(transport.replies[WARM:])
    if answers.count(b"Eligible>true<") != (checks + 1) // 2 or answers.count(b"Eligible>false<") != checks // 2:
        raise SystemExit("licensing did not answer every check as expected")
    if count_stages:
        print(f"  {'CPU ms per check (this thread, in all)':<44}{used * 1000 / checks:>8.3f}")
        print(f"  {'CPU ms per check (process, with receipts)':<44}{process_used * 1000 / checks:>8.3f}")
        print(f"  {'delivery receipts sealed per check':<44}{(len(transport.published) - receipts_before) / checks:>8.3f}")
        for stage, seconds in spent.items():
            print(f"  {stage:<44}{seconds * 1000 / checks:>8.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=400, help="visa checks measured (after 20 to warm up)")
    parser.add_argument("--key-type", choices=("rsa", "ec"), default="rsa")
    parser.add_argument("--valgrind", action="store_true", help="also count instructions per check (slow)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.home, args.child, count_stages=False)
        return 0
    if args.valgrind and shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    home = Path(tempfile.mkdtemp(prefix="rabt-licensing-visa-"))
    try:
        prepare(home, WARM + args.checks, args.key_type)
        print(f"licensing's consumer, per visa check ({args.checks} one after another, {args.key_type.upper()} keys,"
              f" SQLite):")
        child(home, args.checks, count_stages=True)
        if args.valgrind:
            print(f"measuring {args.checks} checks under callgrind, twice …", file=sys.stderr)
            per_check = callgrind.per_item(__file__, args.checks, "--home", str(home))
            print(f"  {'instructions (user space)':<44}{per_check / 1e6:>7.2f} M")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
