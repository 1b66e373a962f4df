"""What one visa check costs the hub: instructions, and what it does (commits, statements, parses, signatures).

    python benchmarks/visa_check_breakdown.py                 # 100 checks on RabbitMQ
    python benchmarks/visa_check_breakdown.py --checks 200 --broker sqlite
    python benchmarks/visa_check_breakdown.py --no-valgrind   # only the counts
    python benchmarks/visa_check_breakdown.py --key-type ec   # every party's keys ECDSA P-256

The gateway runs in this script's child process (the Flask app driven
in-process, no HTTP server), on the real transport; licensing's real consumer
(``python -m simulators.licensing consume``) answers in a process of its own.
The police's requests are signed beforehand, in the parent. The child
answers ``--checks`` visa checks one after another after warming up, and
reports per check:

* SQL statements (as the database driver sees them: ``tests/integration/sent_statements.py``) and commits
  (an SQLAlchemy event) of the message log;
* hardened parses, signature verifications, private-key operations;
* the CPU of each stage (the thread's own: the waits for licensing and the disk are not in it);
* the CPU licensing's consumer process spent per check (consume loop, answer, reply, receipts);

then runs under ``valgrind --tool=callgrind`` twice, with and without the
checks, and prints the difference per check: the user-space instructions the
hub executes for one check (kernel work, fsync and the wait for licensing
not counted; valgrind hides the CPU's SHA instructions, so SHA-256 counts
high). A figure a loaded machine cannot move, unlike CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import callgrind

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' helper that sees what the database driver is sent

from hub import lifeline
from tests.integration.sent_statements import SentStatements  # noqa: E402

WARM = 20


def _counted(counts: Counter, name: str, function):
    def counting(*args, **kwargs):
        counts[name] += 1
        return function(*args, **kwargs)
    return counting


def _timed(counts: Counter, name: str, function, clock=time.perf_counter):
    """``function`` adding the milliseconds ``clock`` sees it take to ``counts[name]``."""
    def timing(*args, **kwargs):
        started = clock()
        try:
            return function(*args, **kwargs)
        finally:
            counts[name] += (clock() - started) * 1000
    return timing


def _cpu(counts: Counter, name: str, function):
    return _timed(counts, name, function, clock=time.thread_time)


def stages(hub, counts: Counter) -> None:
    """CPU ms of the check's stages (this thread's CPU: the wait for licensing and for the disk is not in it)."""
    from hub.gateway import inbound
    from hub.messagelog import GroupCommitter
    from hub.pipeline import Pipeline
    from hub.transports import transport_class

    transport = transport_class(hub.settings.effective_broker_url)
    for owner, attribute, name in (
            (inbound, "parse_envelope", "request parsed (SOAP envelope)"),
            (Pipeline, "_canonicalize", "question verified, mapped, signed"),
            (transport, "request", "question sent, answer received"),
            (Pipeline, "_destination_answer", "licensing's answer verified"),
            (inbound.InboundHandler, "_signed", "police's answer mapped, signed"),
            (GroupCommitter, "store_sent", "the log's write"),
    ):
        setattr(owner, attribute, _cpu(counts, f"CPU ms: {name}", getattr(owner, attribute)))


def instrument(hub) -> Counter:
    """Count the hub's commits, parses, verifications and key operations from now on,
    and the wall time (ms) spent waiting for licensing's answer and in the log's write."""
    import sqlalchemy as sa

    from hub import signing, wssec
    from hub.messagelog import GroupCommitter
    from hub.transports import transport_class

    transport = transport_class(hub.settings.effective_broker_url)
    transport.request = _timed(counts := Counter(), "wall ms: question out, answer back", transport.request)
    GroupCommitter.store_sent = _timed(counts, "wall ms: the log's write (one commit)", GroupCommitter.store_sent)
    stages(hub, counts)

    sa.event.listen(hub.log.engine, "commit", lambda _conn: counts.update(["commits"]))
    for module in [m for name, m in sys.modules.items() if name.startswith(("hub.", "adapters."))]:
        if getattr(module, "parse_xml", None) is not None and module.__name__ != "hub.xmlsafe":
            module.parse_xml = _counted(counts, "hardened parses", module.parse_xml)
    signing.Verifier.verify = _counted(counts, "XML-DSig verifications", signing.Verifier.verify)
    wssec.WsSecurityVerifier.verify = _counted(counts, "WS-Security verifications", wssec.WsSecurityVerifier.verify)
    hub.signer._sign_raw = _counted(counts, "private-key signatures", hub.signer._sign_raw)
    return counts


def child(home: Path, bodies_file: Path, checks: int, count_calls: bool) -> None:
    """Inside valgrind (or not): warm up on WARM checks, then answer ``checks`` more one after another."""
    from hub.bootstrap import bootstrap, gateway_app
    from hub.config import Settings

    bodies = [bytes.fromhex(line) for line in bodies_file.read_text().split()]
    hub = bootstrap(Settings(home=home, broker_url=(home / "broker-url").read_text(), routes_file=home / "routes.toml"))
    client = gateway_app(hub).test_client()

    def check(body: bytes) -> None:
        answer = client.post("/soap/police", data=body, content_type="text/xml; charset=utf-8")
        if answer.status_code != 200 or b"EligibleFlag" not in answer.data:
            raise SystemExit(f"visa check failed: HTTP {answer.status_code} {answer.data[:300]!r}")

    # attached before the warm-up's writes hold a connection; what the warm-up sent is taken and dropped
    sent = SentStatements(hub.log.engine) if count_calls else None
    for body in bodies[:WARM]:
        check(body)
    if sent is not None:
        sent.take()
    counts = instrument(hub) if count_calls else None
    started, began = time.process_time(), time.perf_counter()
    for body in bodies[WARM:WARM + checks]:
        check(body)
    used, wall = time.process_time() - started, time.perf_counter() - began
    if counts is not None:  # the checks' own statements, not the closing's; an executemany counts as one
        counts["SQL statements"] = sum(statement.text is not None for statement in sent.take())
        sent.close()
    hub.close()
    if counts is not None:
        print(json.dumps({name: value / checks for name, value in counts.items()}
                         | {"wall ms: the whole check": wall * 1000 / checks,
                            "CPU ms (this process, with the counting)": used * 1000 / checks}))


def prepare(home: Path, broker: str, total: int, key_type: str = "rsa") -> tuple[Path, object]:
    """PKI, topology and signed requests in ``home``; the requests' file and the stack that names the topology."""
    from simulators.demo.stack import Stack
    from simulators.police.client import PoliceMessages, police_signer, soap_envelope

    broker = f"sqlite:///{home / 'broker.sqlite3'}" if broker == "sqlite" else broker
    stack = Stack(home, broker, queue_prefix=f"bench-visa-{uuid.uuid4().hex[:8]}.")
    stack.routes()
    (home / "broker-url").write_text(broker)
    lifeline.run([sys.executable, "-m", "hub", "pki", "init", "--agency", "police", "--agency", "licensing",
                  "--key-type", key_type],
                 env=stack.environment(), check=True, capture_output=True, timeout=120)
    sign, messages = police_signer(home / "pki"), PoliceMessages()
    bodies_file = home / "requests.hex"
    bodies_file.write_text("\n".join(soap_envelope(sign(messages.visa_check(f"PL-{n}", "IND", "911101"))).hex()
                                     for n in range(total)))
    return bodies_file, stack


def main(argv: list[str] | None = None) -> int:
    """Measure in a temporary home (removed afterwards), or be the child a measurement runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=100, help="visa checks measured (after 20 to warm up)")
    parser.add_argument("--broker", default="amqp://guest:guest@127.0.0.1:5672/", help="amqp://… or 'sqlite'")
    parser.add_argument("--no-valgrind", action="store_true", help="only count what one check does")
    parser.add_argument("--key-type", choices=("rsa", "ec"), default="rsa", help="keys of every party (rabt pki init)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--bodies", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--count-calls", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.home, args.bodies, args.child, args.count_calls)
        return 0
    if not args.no_valgrind and shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind), or pass --no-valgrind", file=sys.stderr)
        return 1
    home = Path(tempfile.mkdtemp(prefix="rabt-visa-breakdown-"))
    try:
        return measure(home, args)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def settled_cpu_seconds(pid: int) -> float:
    """CPU seconds ``pid`` has used, read once it stopped using any (its start-up or last checks done)."""
    from end_to_end_floor import tree_cpu_seconds

    used = tree_cpu_seconds({"process": pid}).get("process", 0.0)
    while True:
        time.sleep(0.5)
        now = tree_cpu_seconds({"process": pid}).get("process", 0.0)
        if now - used < 0.02:
            return now
        used = now


def measure(home: Path, args: argparse.Namespace) -> int:
    """Licensing's consumer started, the counting run, then the two callgrind runs; the report on stdout."""
    from hub.transports import open_transport

    bodies_file, stack = prepare(home, args.broker, WARM + args.checks, args.key_type)
    routes = stack.routes()
    with open_transport(stack.broker_url, routes=routes) as transport:
        transport.declare(routes)
    stack.log_dir = home
    stack._spawn("licensing-consumer", [sys.executable, "-m", "simulators.licensing", "consume", "--threads", "1"])
    try:
        own = [sys.executable, __file__, "--child", str(args.checks), "--home", str(home), "--bodies", str(bodies_file)]
        licensing = settled_cpu_seconds(stack.processes["licensing-consumer"].pid)
        counted = lifeline.run([*own, "--count-calls"], capture_output=True, text=True, check=False, timeout=600)
        if counted.returncode != 0:
            raise SystemExit(f"counting run failed: {counted.stderr.strip().splitlines()[-3:]}")
        licensing = settled_cpu_seconds(stack.processes["licensing-consumer"].pid) - licensing
        print(f"per visa check, {args.checks} checks one after another on {stack.broker_url.split(':')[0]}, "
              f"{args.key_type.upper()} keys:")
        for name, value in json.loads(counted.stdout.strip().splitlines()[-1]).items():
            print(f"  {name:<48}{value:>8.2f}")
        # warm-up checks included: the consumer answers them too
        print(f"  {'licensing consumer CPU ms (whole process)':<48}{licensing * 1000 / (WARM + args.checks):>8.2f}")
        if not args.no_valgrind:
            print(f"measuring {args.checks} checks under callgrind, twice …", file=sys.stderr)
            per_check = callgrind.per_item(__file__, args.checks, "--home", str(home), "--bodies", str(bodies_file))
            print(f"  {'instructions (hub, user space)':<48}{per_check / 1e6:>7.2f} M")
    finally:
        stack.stop()
        stack.remove_topology()
    return 0


if __name__ == "__main__":
    sys.exit(main())
