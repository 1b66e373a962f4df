"""What delivery receipts cost licensing's apply path: CPU per message with and without them.

    python benchmarks/licensing_receipts.py                   # 400 arrivals, 4 consumer threads
    python benchmarks/licensing_receipts.py --messages 1000 --threads 8

Applies the same hub-signed WorkerArrival deliveries through ``LicensingConsumer.handle``
(threads sharing commit windows, as ``consume`` runs them) on a fresh licensing
database, once without a receipt sender and once with one publishing to an
embedded (SQLite) broker. CPU time, not wall time, because the host is shared:
the consumer threads' own CPU per message (the apply path), and the whole
process's (which adds the sender thread sealing and publishing the receipts).
Also how many receipts went out and how many outcomes each carried.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from lxml import etree

SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "samples" / "canonical" / "WorkerArrival.xml"
R = "{urn:rabt:canonical:v1}"


def deliveries(home: Path, count: int) -> list:
    """``count`` distinct arrivals, signed by the hub as its relay publishes them."""
    from hub.envelope import build_envelope, new_header
    from hub.routing import routing_key
    from hub.signing import Signer, TrustStore
    from hub.transports import Delivery, Message

    signer = Signer(TrustStore.load(home / "pki").hub)
    made = []
    for n in range(count):
        body = etree.parse(str(SAMPLE), etree.XMLParser(remove_comments=True)).getroot()
        body.find(f"{R}Worker/{R}PassportNumber").text = f"B{n:07d}"
        header = new_header(message_type="WorkerArrival", source_agency="police", source_system="bench",
                            destination="licensing", raw_payload=etree.tostring(body))
        data = signer.sign_bytes(build_envelope(header, body))
        made.append(Delivery(Message(data, routing_key("licensing", "WorkerArrival", "police"), header.message_id),
                             "licensing", 1, False))
    return made


def run(home: Path, work: list, threads: int, with_receipts: bool) -> dict:
    """Apply ``work`` in ``threads`` threads; CPU seconds of the consumer threads and of the process."""
    from hub.routing import load_routes
    from hub.transports import open_transport
    from simulators.licensing.config import LicensingConfig
    from simulators.licensing.cli import build_consumer
    from simulators.licensing.hub_link import licensing_seal
    from simulators.licensing.receipts import ReceiptSender
    from simulators.licensing.state import LicensingState

    label = "with" if with_receipts else "without"
    config = LicensingConfig(home=home, database_url=f"sqlite:///{home / f'licensing-{label}.sqlite3'}")
    state, sender = LicensingState(config.effective_database_url), None
    if with_receipts:
        routes, url = load_routes(), f"sqlite:///{home / 'broker.sqlite3'}"
        with open_transport(url, routes=routes) as admin:
            admin.declare(routes)
        sender = ReceiptSender(lambda: open_transport(url, routes=routes), licensing_seal(home / "pki")).start()
        state.windows.on_settled = sender.window_committed
    consumer = build_consumer(config, None, state, sender)
    spent, share = [0.0] * threads, [work[i::threads] for i in range(threads)]

    def apply(index: int) -> None:
        began = time.thread_time()
        for delivery in share[index]:
            consumer.handle(delivery)
        spent[index] = time.thread_time() - began

    process_began = time.process_time()
    workers = [threading.Thread(target=apply, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if sender is not None:
        sender.close(60)
    return {"label": label, "apply": sum(spent), "process": time.process_time() - process_began,
            "commits": state.windows.commits, "receipts": sender.sent if sender else 0}


def report(result: dict, messages: int) -> str:
    """One line of figures for one run."""
    per = 1e6 / messages
    extra = f"; {result['receipts']} receipts, {messages / result['receipts']:.1f} outcomes each" \
        if result["receipts"] else ""
    return (f"{result['label']:>7} receipts: apply threads {result['apply'] * per:7.0f} µs CPU/message, "
            f"process {result['process'] * per:7.0f} µs CPU/message, {result['commits']} commits{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2, help="Alternate the two runs this many times.")
    args = parser.parse_args()
    from hub.pki import init_pki

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        init_pki(home / "pki", ["police", "licensing"], key_type="ec")
        work = deliveries(home, args.messages)
        for round_number in range(args.rounds):
            for with_receipts in (False, True):
                where = home / f"round-{round_number}"
                where.mkdir(exist_ok=True)
                if not (where / "pki").exists():
                    (where / "pki").symlink_to(home / "pki")
                print(report(run(where, work, args.threads, with_receipts), args.messages), flush=True)


if __name__ == "__main__":
    main()
