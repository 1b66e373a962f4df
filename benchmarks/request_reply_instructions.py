"""What one question over RabbitMQ request/reply costs the asker (and the responder's transport): instructions, CPU.

    python benchmarks/request_reply_instructions.py                 # 300 questions, one after another
    python benchmarks/request_reply_instructions.py --count 1000 --no-valgrind
    python benchmarks/request_reply_instructions.py --syscalls       # and the asker's system calls (strace)

The asker is the hub's ``AmqpTransport.request`` as a gateway thread uses it
(a question of ~2 KB to the licensing queue, its answer back on direct
reply-to); the responder is a process of its own consuming that queue with
``AmqpTransport.consume`` and answering with ``AmqpTransport.reply``, as
licensing's consumer does, with nothing else to do. On a private topology (a
queue prefix of its own, removed afterwards). Printed: the asker's and the
responder's CPU per question (process time, noisy on a shared host), the
round trip's p50, and — run twice under ``valgrind --tool=callgrind``, with and
without the questions — the asker's user-space instructions per question,
which a loaded machine cannot move (the number of I/O rounds a question takes
still depends on when the confirm and the answer arrive).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import callgrind
from end_to_end_processes import stat_of

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.transports import Message, open_transport  # noqa: E402
from hub.transports.testing import DEFAULT_AMQP_URL  # noqa: E402

WARM = 20
BODY = b"<q>" + b"x" * (2048 - 7) + b"</q>"


def _routes(prefix: str):
    from hub.routing import load_routes
    return load_routes().with_prefix(prefix)


def question(n: int) -> Message:
    return Message(BODY, "licensing.VisaEligibilityQuery.police", f"q-{n}-{uuid.uuid4().hex[:8]}")


def responder(url: str, prefix: str) -> None:
    """Answer every question on the licensing queue until stdin closes."""
    import threading
    routes = _routes(prefix)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    with open_transport(url, routes=routes) as transport:
        def answer(delivery) -> None:
            transport.reply(delivery, Message(b"<a>" + delivery.message.body[:64] + b"</a>", "reply",
                                              f"a-{delivery.message.message_id}"))
        print("ready", flush=True)
        transport.consume(routes.queue_for("licensing"), answer, stop=stop)


def child(url: str, prefix: str, count: int) -> None:
    """Ask WARM questions, then ``count`` more one after another; print CPU ms and p50 ms per question."""
    with open_transport(url, routes=_routes(prefix)) as transport:
        for n in range(WARM):
            transport.request(question(n), timeout=30)
        waits = []
        started = time.process_time()
        for n in range(count):
            began = time.perf_counter()
            transport.request(question(WARM + n), timeout=30)
            waits.append(time.perf_counter() - began)
        used = time.process_time() - started
    if count:
        print(f"{used * 1000 / count:.3f} {statistics.median(waits) * 1000:.2f}")


def _cpu_seconds(pid: int) -> float:
    return stat_of(Path(f"/proc/{pid}/stat"))[1]


def syscalls(command: list[str]) -> dict[str, int]:
    """System calls of ``command`` by name, as ``strace -f -c`` counts them."""
    traced = subprocess.run(["strace", "-f", "-c", "-o", "/dev/stderr", *command], capture_output=True, text=True,
                            check=True)
    counted = {}
    for line in traced.stderr.splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
            counted[fields[-1]] = int(fields[3])
    return counted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="questions measured (after 20 to warm up)")
    parser.add_argument("--url", default=DEFAULT_AMQP_URL)
    parser.add_argument("--no-valgrind", action="store_true", help="only the CPU figures")
    parser.add_argument("--syscalls", action="store_true", help="also the asker's system calls per question (strace)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--responder", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.responder:
        responder(args.url, args.prefix)
        return 0
    if args.child is not None:
        child(args.url, args.prefix, args.child)
        return 0
    if not args.no_valgrind and shutil.which("valgrind") is None:
        print("valgrind is not installed, or pass --no-valgrind", file=sys.stderr)
        return 1
    prefix = f"bench-rpc-{uuid.uuid4().hex[:8]}."
    routes = _routes(prefix)
    with open_transport(args.url, routes=routes) as transport:
        transport.declare(routes)
    answering = subprocess.Popen([sys.executable, __file__, "--responder", "--url", args.url, "--prefix", prefix],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        answering.stdout.readline()
        before = _cpu_seconds(answering.pid)
        own = [sys.executable, __file__, "--url", args.url, "--prefix", prefix]
        measured = subprocess.run([*own, "--child", str(args.count)], capture_output=True, text=True, check=True)
        responded = _cpu_seconds(answering.pid) - before
        asker_ms, p50 = measured.stdout.split()
        print(f"per question, {args.count} one after another:")
        print(f"  asker CPU ms                     {float(asker_ms):8.3f}")
        print(f"  responder CPU ms (with warm-up)  {responded * 1000 / (WARM + args.count):8.3f}")
        print(f"  round trip p50 ms                {float(p50):8.2f}")
        if not args.no_valgrind:
            per = callgrind.per_item(__file__, args.count, "--url", args.url, "--prefix", prefix)
            print(f"  asker instructions               {per / 1e3:8.1f} k")
        if args.syscalls:
            calls = {n: syscalls([*own, "--child", str(n)]) for n in (0, args.count)}
            for name in sorted(calls[args.count], key=lambda name: -calls[args.count][name]):
                per_question = (calls[args.count][name] - calls[0].get(name, 0)) / args.count
                if per_question >= 0.05:
                    print(f"  system calls: {name:<19}{per_question:8.2f}")
    finally:
        answering.stdin.close()
        answering.wait(30)
        with open_transport(args.url, routes=routes) as transport:
            transport.undeclare(routes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
