"""Push police notifications to a hub gateway, for demos and load runs.

    python -m simulators.police arrival --gateway http://127.0.0.1:8000/soap/police \
        --pki var/pki --count 20 [--first 0] [--seed 2026] [--workers 2000]

Kinds: arrival, departure, renewal. Each worker index from ``--first`` on
gets one signed notification; the receipt's hub message id is printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hub.errors import RabtError
from simulators.police.client import PoliceClient, police_signer
from simulators.population import Population, PopulationSpec


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulators.police", description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("arrival", "departure", "renewal"))
    parser.add_argument("--gateway", required=True, help="the hub's police endpoint, e.g. http://host:8000/soap/police")
    parser.add_argument("--pki", type=Path, required=True, help="development PKI folder holding agencies/police.key")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--first", type=int, default=0, help="first worker index")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workers", type=int, default=2000)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    population = Population(PopulationSpec.scaled(args.workers, seed=args.seed))
    try:
        client = PoliceClient(args.gateway, police_signer(args.pki))
    except RabtError as exc:
        print(f"police: {exc}", file=sys.stderr)
        return 1
    send = {
        "arrival": lambda w: client.notify_arrival(w, visa_no=f"EV-{population.as_of.year}-{w.index:07d}"),
        "departure": client.notify_departure,
        "renewal": client.notify_residence_renewal,
    }[args.kind]
    try:
        for index in range(args.first, min(args.first + args.count, args.workers)):
            receipt = send(population.worker(index))
            print(f"{index}\t{receipt.findtext('{*}MsgId')}\t{receipt.findtext('{*}HubMessageId')}")
    except RabtError as exc:
        print(f"police: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
