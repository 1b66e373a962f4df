"""Where licensing's consumer spends per applied message, in instructions or by profile.

    python benchmarks/licensing_consumer_instructions.py                 # callgrind, 400 arrivals, ~2 minutes
    python benchmarks/licensing_consumer_instructions.py --profile 3000  # cProfile of 3000, top functions
    python benchmarks/licensing_consumer_instructions.py --cpu 3000      # CPU time per message only

One thread does what a consumer thread of ``python -m simulators.licensing
consume`` does on RabbitMQ, without the broker: hub-signed WorkerArrival
deliveries (each a unique worker) handed to ``LicensingConsumer.handle`` as
acked after ``settle()``, one ``settle()`` per ``--window`` deliveries (the
consume loop acks every half prefetch), on a fresh SQLite licensing database,
with the production receipt sender (outcomes kept in the window's commit,
sealed with licensing's key and published to an embedded broker). The sender
gathers until it is closed, so every run seals the same number of receipts
for the same outcomes instead of as many as the wall clock allows.

With callgrind (default) the child is run twice under ``valgrind
--tool=callgrind``, with ``--count`` deliveries and with none, everything else
the same (PKI, deliveries signed beforehand by the parent, 64 applied to
warm up), and the difference per message is printed: user-space
instructions, steady where CPU seconds on a shared machine are not. The
broker's own work and the consumer's acks are not part of it.
"""

from __future__ import annotations

import argparse
import cProfile
import pickle
import pstats
import sys
import tempfile
import time
from pathlib import Path

import callgrind

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

WARM = 64
#: seconds the receipt sender gathers: longer than any run, so it seals once, when closed
GATHER_ALL = 3600.0


def prepare(folder: Path, count: int, key_type: str) -> Path:
    """PKI and ``WARM + count`` hub-signed deliveries in ``folder``, made once for every child run."""
    from licensing_receipts import deliveries

    from hub.pki import init_pki

    init_pki(folder / "pki", ["police", "licensing"], key_type=key_type)
    made = [(d.message.body, d.message.routing_key, d.message.message_id)
            for d in deliveries(folder, WARM + count)]
    (folder / "deliveries.pickle").write_bytes(pickle.dumps(made))
    return folder


def child(prepared: Path, count: int, window: int, profile: bool, receipts: bool = True) -> None:
    """Apply WARM deliveries, then ``count`` more (under cProfile with ``profile``); close the sender."""
    from hub.routing import load_routes
    from hub.transports import open_transport
    from hub.transports.base import Delivery, Message
    from simulators.licensing.cli import build_consumer
    from simulators.licensing.config import LicensingConfig
    from simulators.licensing.hub_link import licensing_seal
    from simulators.licensing.receipt_store import ReceiptStore
    from simulators.licensing.receipts import ReceiptSender
    from simulators.licensing.state import LicensingState

    made = pickle.loads((prepared / "deliveries.pickle").read_bytes())[:WARM + count]
    work = [Delivery(Message(body, key, message_id), "licensing", 1, False, ack_after_settle=True)
            for body, key, message_id in made]
    with tempfile.TemporaryDirectory(prefix="rabt-licensing-") as folder:
        home = Path(folder)
        (home / "pki").symlink_to(prepared / "pki")
        routes, broker = load_routes(), f"sqlite:///{home / 'broker.sqlite3'}"
        with open_transport(broker, routes=routes) as admin:
            admin.declare(routes)
        config = LicensingConfig(home=home, database_url=f"sqlite:///{home / 'licensing.sqlite3'}")
        state = LicensingState(config.effective_database_url)
        sender = ReceiptSender(lambda: open_transport(broker, routes=routes), licensing_seal(home / "pki"),
                               gather=GATHER_ALL, store=ReceiptStore(state.engine))
        if receipts:
            sender.attach(state.windows)
        consumer = build_consumer(config, None, state, sender.start() if receipts else None)
        apply_all(consumer, work[:WARM], window)
        profiler = cProfile.Profile(time.process_time) if profile else None
        started = time.process_time()
        if profiler is None:
            apply_all(consumer, work[WARM:], window)
        else:
            profiler.runcall(apply_all, consumer, work[WARM:], window)
        cpu = time.process_time() - started
        sender.close(600)
        if receipts and (sender.unsent or sender.waiting or sender.sent != -(-(WARM + count) // 1000)):
            raise SystemExit(f"{sender.sent} receipts sent, {sender.unsent + sender.waiting} left")
        state.windows.close()
    print(f"{count} deliveries: {cpu / max(count, 1) * 1e6:.0f} µs CPU per message (sender closed after)"
          + (" under cProfile (profiling adds its own)" if profiler else ""))
    if profiler is not None:
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("tottime").print_stats(40)


def apply_all(consumer, work: list, window: int) -> None:
    """Handle ``work``, settling (committing) after every ``window`` deliveries as the consume loop acks."""
    for start in range(0, len(work), window):
        for delivery in work[start:start + window]:
            consumer.handle(delivery)
        consumer.settle()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400, help="deliveries measured (after 64 to warm up)")
    parser.add_argument("--window", type=int, default=32, help="deliveries per settle() (half the prefetch of 64)")
    parser.add_argument("--key-type", choices=("rsa", "ec"), default="ec")
    parser.add_argument("--no-receipts", dest="receipts", action="store_false",
                        help="no receipt sender (what the receipts cost: the difference)")
    parser.add_argument("--profile", type=int, metavar="N", help="N deliveries under cProfile instead of callgrind")
    parser.add_argument("--cpu", type=int, metavar="N", help="N deliveries, CPU time per message only (no valgrind)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--prepared", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.prepared, args.child, args.window, profile=False, receipts=args.receipts)
        return 0
    with tempfile.TemporaryDirectory(prefix="rabt-licensing-bench-") as folder:
        count = args.profile or args.cpu or args.count
        prepared = prepare(Path(folder), count, args.key_type)
        if args.profile or args.cpu:
            child(prepared, count, args.window, profile=bool(args.profile), receipts=args.receipts)
            return 0
        script, common = str(Path(__file__).resolve()), ("--prepared", folder, "--window", str(args.window),
                                                         *(() if args.receipts else ("--no-receipts",)))
        per_message = callgrind.per_item(script, args.count, *common)
    print(f"licensing consumer, {args.key_type.upper()} hub key, settle every {args.window}, "
          f"{'with' if args.receipts else 'without'} receipts: "
          f"{per_message / 1000:,.1f}k instructions per applied message ({args.count} after {WARM})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
