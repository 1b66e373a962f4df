"""What one ``Server.Busy`` answer costs the gateway: CPU and instructions per refused visa check.

    python benchmarks/gateway_busy.py                   # 400 answers, RSA keys
    python benchmarks/gateway_busy.py --key-type ec
    python benchmarks/gateway_busy.py --valgrind        # also instructions per answer

Busy answers come in floods exactly when the CPU is short (more checks waiting
for licensing than the bulkhead admits), so what each costs is taken from the
checks admitted. The gateway's Flask app is driven in-process (no HTTP
server) with a bulkhead that admits nothing, on the embedded broker, and
signed police visa checks are posted one after another: each is parsed,
checked against the contract, refused (counted, recorded within the source's
budget) and answered with the hub's signed fault. Printed: the process's CPU
per answer; with ``--valgrind`` the run is repeated under ``valgrind
--tool=callgrind`` with and without the answers and the difference divided,
a figure a loaded machine cannot move.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import callgrind

from hub import lifeline

WARM = 20


def child(home: Path, bodies_file: Path, answers: int) -> None:
    """Warm up on WARM answers, then ``answers`` more; CPU ms per answer on stdout."""
    from hub.bootstrap import bootstrap, gateway_app
    from hub.config import Settings

    bodies = [bytes.fromhex(line) for line in bodies_file.read_text().split()]
    hub = bootstrap(Settings(home=home, broker_url=f"sqlite:///{home / 'broker.sqlite3'}"))
    client = gateway_app(hub, {"MAX_WAITING_REPLIES": 0}).test_client()

    def busy(body: bytes) -> None:
        answer = client.post("/soap/police", data=body, content_type="text/xml; charset=utf-8")
        if answer.status_code != 500 or b"Server.Busy" not in answer.data:
            raise SystemExit(f"expected Server.Busy: HTTP {answer.status_code} {answer.data[:300]!r}")

    for body in bodies[:WARM]:
        busy(body)
    started = time.process_time()
    for body in bodies[WARM:WARM + answers]:
        busy(body)
    used = time.process_time() - started
    hub.close()
    if answers:
        print(f"{used * 1000 / answers:.3f}")


def prepare(home: Path, total: int, key_type: str) -> Path:
    """Keys in ``home`` and ``total`` signed visa checks; the file holding them (hex, one per line)."""
    from simulators.police.client import PoliceMessages, police_signer, soap_envelope

    lifeline.run([sys.executable, "-m", "hub", "pki", "init", "--agency", "police", "--agency", "licensing",
                  "--key-type", key_type], env=_env(home), check=True, capture_output=True, timeout=120)
    sign, messages = police_signer(home / "pki"), PoliceMessages()
    bodies_file = home / "requests.hex"
    bodies_file.write_text("\n".join(soap_envelope(sign(messages.visa_check(f"PL-{n}", "IND", "911101"))).hex()
                                     for n in range(total)))
    return bodies_file


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "RABT_HOME": str(home)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=400, help="Busy answers measured (after 20 to warm up)")
    parser.add_argument("--key-type", choices=("rsa", "ec"), default="rsa", help="keys of every party")
    parser.add_argument("--valgrind", action="store_true", help="also count instructions per answer (slow)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--bodies", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.home, args.bodies, args.child)
        return 0
    if args.valgrind and shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    home = Path(tempfile.mkdtemp(prefix="rabt-gateway-busy-"))
    try:
        bodies = prepare(home, WARM + args.answers, args.key_type)
        own = ["--home", str(home), "--bodies", str(bodies)]
        cpu = lifeline.run([sys.executable, __file__, "--child", str(args.answers), *own], env=_env(home),
                           capture_output=True, text=True, check=True, timeout=600).stdout.split()[-1]
        print(f"per Server.Busy answer, {args.answers} one after another, {args.key_type.upper()} keys:")
        print(f"  CPU ms (process)                {float(cpu):>8.3f}")
        if args.valgrind:
            per_answer = callgrind.per_item(__file__, args.answers, *own)
            print(f"  instructions (user space)       {per_answer / 1e6:>7.3f} M")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
