"""Where one signed push costs the hub: the gateway in process, measured in instructions or by profile.

    python benchmarks/push_instructions.py                     # callgrind, 300 pushes, about 2 minutes
    python benchmarks/push_instructions.py --profile 2000      # cProfile of 2000 pushes, top functions
    python benchmarks/push_instructions.py --broker sqlite     # the embedded broker instead of RabbitMQ
    python benchmarks/push_instructions.py --postgres postgresql://postgres@127.0.0.1:5432/postgres
                                                               # the message log on PostgreSQL

One process does what a gateway process and the outbox relay of ``rabt serve``
do for a police border notification, without the HTTP server: the gateway's
WSGI app (Flask dispatch, hardened parse, verify, contract check, XSLT, XSD,
envelope, sign, the group commit into a SQLite message log, the signed and
logged receipt), then the relay publishing with confirms and marking the
messages published (one relay round per ``--batch`` pushes). The requests are
signed with the police key before anything is measured, each a unique message.

With callgrind (default) the run is made twice under ``valgrind
--tool=callgrind`` — once with ``--count`` pushes, once with none, everything
else the same (PKI, start-up, compiling mappings and schemas, 64 warm-up
pushes) — and the difference per push is printed: user-space instructions,
steady where wall-clock time on a shared machine is not. Kernel work (fsync,
sockets) is not counted, and valgrind hides the CPU's SHA instructions, so
SHA-256 counts higher than it costs natively. ``--profile N`` instead runs N
pushes under cProfile and prints the CPU time per push and the heaviest
functions (inclusive), for a breakdown by stage. Needs valgrind for the first.

``--postgres ADMIN_URL`` keeps the message log on PostgreSQL instead of
SQLite: each run creates a scratch database ``rabt_push_<random>`` on that
server (the URL must be allowed to create databases) and drops it afterwards.
The database server's own work is in another process, so the figures count
the hub's side only; with ``--cpu`` a further 128 pushes are then counted on
the server's side (``pg_figures.py``): statements, commits and WAL per push.

With RabbitMQ the relay waits for the broker's confirms in pika's I/O loop,
whose turns depend on wall time: under load the count of the same code moved
by several M per push between runs. ``--batch 0`` leaves the relay out and
gives the gateway's steady figure; ``--cpu`` runs of two versions alternated
compare the whole path.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import callgrind
from pg_figures import ServerCpu, ServerFigures

WARM = 64
#: seconds between time-based anchors while counted: never within a run (every_records still anchors)
_ANCHORS_OFF = 86_400.0
#: pushes counted for the PostgreSQL figures (statements, WAL) after the measured ones, with ``--cpu``
FIGURED = 128
GATEWAY_PATH = "/soap/police"


def signed_requests(pki: Path, count: int, offset: int) -> list[bytes]:
    """``count`` signed SOAP requests (arrival, departure, renewal in turn), each a unique message."""
    from simulators.police.client import PoliceMessages, police_signer, soap_envelope
    from simulators.population import Population, PopulationSpec

    sign, messages = police_signer(pki), PoliceMessages()
    population = Population(PopulationSpec.scaled(2000, seed=2026))
    built = []
    for i in range(offset, offset + count):
        worker = population.worker(i % 2000)
        element = (messages.arrival(worker, visa_no=f"EV-{worker.civil_number}") if i % 3 == 0
                   else messages.departure(worker) if i % 3 == 1 else messages.residence_renewal(worker))
        built.append(soap_envelope(sign(element)))
    return built


@contextmanager
def scratch_database(admin_url: str | None) -> Iterator[str]:
    """The URL of a new PostgreSQL database on ``admin_url``'s server, dropped afterwards ('' without a server)."""
    if not admin_url:
        yield ""
        return
    import psycopg

    name = f"rabt_push_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class InProcessGateway:
    """The gateway's WSGI app and an outbox relay over one hub, driven without a server."""

    def __init__(self, home: Path, broker: str, key_type: str, database_url: str = "",
                 anchor_seconds: float | None = None) -> None:
        from hub.bootstrap import bootstrap, gateway_app
        from hub.config import Settings
        from hub.outbox import OutboxRelay
        from hub.pki import init_pki
        from hub.transports.testing import isolated_routes

        if not (home / "pki").is_dir():
            init_pki(home / "pki", ["police", "licensing"], key_type=key_type)
        settings = Settings(home=home, broker_url=broker, database_url=database_url)  # "": SQLite in home
        if anchor_seconds is not None:
            settings = replace(settings, timestamps=replace(settings.timestamps, interval=anchor_seconds))
        self.hub = bootstrap(settings, routes=isolated_routes())  # queues of its own on a shared RabbitMQ
        self.transport = self.hub.open_transport()
        self.transport.declare(self.hub.routes)
        self.relay = OutboxRelay(self.hub.log, self.transport)
        self.app = gateway_app(self.hub)
        self.answers = 0

    def push(self, body: bytes) -> None:
        """One request through the WSGI app; its answer must be a receipt naming the hub's id."""
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": GATEWAY_PATH, "SERVER_NAME": "127.0.0.1",
                   "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
                   "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
                   "CONTENT_TYPE": "text/xml; charset=utf-8", "REMOTE_ADDR": "127.0.0.1",
                   "HTTP_SOAPACTION": '"urn:om:rop:hubgateway:2020#Notify"', "wsgi.errors": sys.stderr}
        status = []
        answer = b"".join(self.app(environ, lambda s, h, e=None: status.append(s)))
        if not status[0].startswith("200") or b"HubMessageId" not in answer:
            raise SystemExit(f"push refused: {status[0]} {answer[:400]!r}")
        self.answers += 1

    def run(self, bodies: list[bytes], batch: int) -> None:
        """Push ``bodies``, a relay round after every ``batch``; every message must be published.

        ``batch`` 0: no relay at all, the messages stay in the outbox (the gateway's work alone).
        """
        if batch == 0:
            for body in bodies:
                self.push(body)
            return
        for start in range(0, len(bodies), batch):
            for body in bodies[start:start + batch]:
                self.push(body)
            self.relay.drain()
        left = self.hub.log.stats().outbox_backlog
        if left or self.relay.last_error is not None:
            raise SystemExit(f"{left} messages left in the outbox: {self.relay.last_error}")

    def close(self) -> None:
        self.transport.undeclare(self.hub.routes)
        self.transport.close()
        self.hub.close()


def child(count: int, broker: str, key_type: str, batch: int, profile: bool, pki: Path | None = None,
          prepare: int = 0, postgres: str | None = None, figured: int = 0, counted: bool = False) -> None:
    """Warm the gateway on WARM pushes, then push ``count`` more (under cProfile with ``profile``).

    ``pki``: keys made beforehand, so both callgrind runs use the same ones (making RSA keys
    costs a number of instructions that differs from one key to the next by far more than a push).
    ``figured``: pushes more whose statements and WAL are counted (PostgreSQL only).
    """
    with tempfile.TemporaryDirectory(prefix="rabt-push-") as work, scratch_database(postgres) as database:
        home = Path(work)
        if pki is not None:
            shutil.copytree(pki, home / "pki")
        url = f"sqlite:///{home / 'broker.sqlite3'}" if broker == "sqlite" else broker
        figures = ServerFigures(postgres, database) if database and figured else None
        # Under callgrind (``counted``) the log anchors by its records only: valgrind runs the code ~50 times
        # slower, so the 60-second anchors would come ~50 times as often per push, and as often as that run's
        # pace, not the code, decides (±0.1 M per push between runs of the same code).
        gateway = InProcessGateway(home, url, key_type, database, anchor_seconds=_ANCHORS_OFF if counted else None)
        # the measured requests are made in the run without pushes too, so their signing is not counted
        prepared = signed_requests(home / "pki", WARM + max(count, prepare) + figured, 0)
        warm, measured = prepared[:WARM], prepared[WARM:WARM + count]
        profiler = cProfile.Profile(time.process_time) if profile else None  # CPU, not waits for fsync
        try:
            gateway.run(warm, batch)
            server = ServerCpu(postgres, database) if figures else None
            started = time.process_time()
            if profiler is None:
                gateway.run(measured, batch)
            else:
                profiler.runcall(gateway.run, measured, batch)
            cpu = time.process_time() - started
            served = server.used() if server else None
            counted = _counted(figures, gateway, prepared[-figured:], batch)
        finally:
            gateway.close()
    print(f"{count} pushes: {cpu / max(count, 1) * 1000:.2f} ms CPU per push"
          + (" under cProfile (profiling adds its own)" if profiler else "")
          + (f", server {served.seconds / max(count, 1) * 1000:.3f} ms" if served else ""))
    if counted is not None:
        print(f"{figured} pushes more, counted:\n{counted.summary(figured)}")
    if profiler is not None:
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.sort_stats("cumulative").print_stats(70)
        stats.sort_stats("tottime").print_stats(40)


def _counted(figures: ServerFigures | None, gateway: InProcessGateway, bodies: list[bytes], batch: int):
    """The statements and WAL of pushing ``bodies`` (None without figures)."""
    if figures is None:
        return None
    try:
        figures.start()
        gateway.run(bodies, batch)
        return figures.stop()
    finally:
        figures.close()


def main(argv: list[str] | None = None) -> int:
    from hub.transports.testing import DEFAULT_AMQP_URL

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="pushes measured (after 64 to warm up)")
    parser.add_argument("--broker", default=DEFAULT_AMQP_URL, help="amqp://… (default) or 'sqlite' (embedded)")
    parser.add_argument("--key-type", choices=("rsa", "ec"), default="rsa")
    parser.add_argument("--batch", type=int, default=64,
                        help="pushes between two relay rounds (0: no relay, the gateway's work alone)")
    parser.add_argument("--postgres", metavar="ADMIN_URL",
                        help="message log on a scratch PostgreSQL database made on this server (default: SQLite)")
    parser.add_argument("--profile", type=int, metavar="N", help="N pushes under cProfile instead of callgrind")
    parser.add_argument("--cpu", type=int, metavar="N", help="N pushes, CPU time per push only (no valgrind)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pki", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None or args.profile or args.cpu:
        count = next(n for n in (args.child, args.profile, args.cpu) if n is not None)
        child(count, args.broker, args.key_type, args.batch, profile=bool(args.profile), pki=args.pki,
              prepare=args.prepare, postgres=args.postgres, figured=FIGURED if args.postgres and args.cpu else 0,
              counted=args.child is not None)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    print(f"measuring {args.count} pushes under callgrind, twice …", file=sys.stderr)
    from hub.pki import init_pki

    with tempfile.TemporaryDirectory(prefix="rabt-push-pki-") as keys:
        pki = Path(keys) / "pki"
        init_pki(pki, ["police", "licensing"], key_type=args.key_type)
        per_push = callgrind.per_item(__file__, args.count, "--broker", args.broker, "--key-type", args.key_type,
                                      "--batch", str(args.batch), "--pki", str(pki), "--prepare", str(args.count),
                                      *(["--postgres", args.postgres] if args.postgres else []))
    relay = f"relay round every {args.batch}" if args.batch else "no relay"
    log = "PostgreSQL" if args.postgres else "SQLite"
    print(f"pushes            {args.count} ({args.key_type.upper()} keys, broker {args.broker.split(':')[0]}, "
          f"{relay}, message log on {log})")
    print(f"instructions      {per_push / 1e6:.2f} M per push ({per_push / 1e3:,.1f}k)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
