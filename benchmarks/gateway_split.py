"""What splitting the same pushes over two gateway processes costs each push: the group commit's share.

    python benchmarks/gateway_split.py --postgres postgresql://postgres@127.0.0.1:5432/postgres

With ``rabt serve --processes 2`` each gateway process sees half the concurrent
pushes of one process, so its group commits (:mod:`hub.messagelog.group`) hold
about half as many records. This runs the gateway's WSGI app in one process on
a fresh PostgreSQL database (``push_instructions.InProcessGateway``, no relay,
no HTTP server), pushes from 8 threads (what one process of the end-to-end
benchmark sees) and from 4 (what each of two sees), alternated ``--rounds``
times so that the shared machine's speed, which drifts, falls on both alike.
For each it prints the CPU per push of this process, the commits per push
(``pg_stat_database``) and the mean group (records per commit).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

from end_to_end_processes import STATS_FLUSH_SECONDS
from end_to_end_stack import fresh_postgres
from push_instructions import WARM, InProcessGateway, signed_requests


def commits(url: str) -> int:
    time.sleep(STATS_FLUSH_SECONDS)  # backends report their commits at most once a second
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").fetchone()[0]


def phase(gateway: InProcessGateway, url: str, bodies: list[bytes], threads: int) -> tuple[float, float]:
    """(CPU ms per push, commits per push) of ``bodies`` pushed from ``threads`` threads."""
    before, cpu = commits(url), os.times()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(gateway.push, bodies))
    spent = (lambda t: t.user + t.system)(os.times()) - (lambda t: t.user + t.system)(cpu)
    return spent / len(bodies) * 1000, (commits(url) - before) / len(bodies)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", required=True, metavar="ADMIN_URL", help="a fresh database is made there")
    parser.add_argument("--count", type=int, default=300, help="pushes per phase")
    parser.add_argument("--rounds", type=int, default=3, help="times each thread count runs, alternated")
    parser.add_argument("--threads", type=int, nargs="+", default=[8, 4])
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="rabt-bench-split-"))
    with fresh_postgres(args.postgres) as url:
        gateway = InProcessGateway(home, "sqlite:///" + str(home / "broker.sqlite3"), "rsa", database_url=url)
        phases = len(args.threads) * args.rounds
        bodies = signed_requests(home / "pki", WARM + phases * args.count, 0)
        for body in bodies[:WARM]:
            gateway.push(body)
        results: dict[int, list[tuple[float, float]]] = {t: [] for t in args.threads}
        offset = WARM
        for _ in range(args.rounds):
            for threads in args.threads:
                results[threads].append(phase(gateway, url, bodies[offset:offset + args.count], threads))
                offset += args.count
        gateway.hub.close()
    print(f"$ python benchmarks/gateway_split.py {' '.join(sys.argv[1:] if argv is None else argv)}")
    print(f"{'threads':<9}{'CPU ms/push, each round':<34}{'mean':>7}{'commits/push':>14}{'records/commit':>16}")
    for threads, runs in results.items():
        cpu = [r[0] for r in runs]
        per_push = sum(r[1] for r in runs) / len(runs)
        print(f"{threads:<9}{', '.join(f'{c:.2f}' for c in cpu):<34}{sum(cpu) / len(cpu):>7.2f}{per_push:>14.2f}"
              f"{1 / max(per_push, 1e-9):>16.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
