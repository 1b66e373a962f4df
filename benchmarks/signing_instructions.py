"""Instructions per signature and per verification of the sample envelope, counted by callgrind.

    python benchmarks/signing_instructions.py                  # RSA and ECDSA, 1,000 of each
    python benchmarks/signing_instructions.py --count 300 --key-type rsa

What ``signing_vs_openssl.py`` times, as instruction counts a shared machine
cannot move: the hub's Signer on the sample WorkerArrival envelope (its tree
to signed bytes), the Verifier on a freshly parsed copy of the signed bytes
(``expected_signer="hub"``), and the hardened parse with it. Each child run
makes the same keys (one PKI folder for every run), parses the same number of
copies and signs the sample once; only the number of operations measured
differs (``COUNT`` or none), so the difference over ``COUNT`` is one
operation's. Under valgrind OpenSSL's SHA and big-number code do not use the
CPU's vector units, so the key operation counts more than it costs natively.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import callgrind

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLE = ROOT / "tests" / "samples" / "canonical" / "envelope-WorkerArrival.xml"
OPERATIONS = ("sign", "verify", "parse+verify")


def child(operation: str, count: int, prepared: int, pki: Path) -> None:
    """``count`` of ``operation`` after the same setup whatever ``count`` is (``prepared`` parsed copies)."""
    from lxml import etree

    from hub.signing import Signer, TrustStore, Verifier
    from hub.xmlsafe import parse_xml

    store = TrustStore.load(pki)
    signer, verifier = Signer(store.hub), Verifier(store)
    envelope = etree.parse(str(SAMPLE)).getroot()
    signed = signer.sign_bytes(envelope)
    copies = [parse_xml(signed) for _ in range(prepared)]
    verifier.verify(parse_xml(signed), expected_signer="hub")  # the shape learnt, the key derived
    if operation == "sign":
        for _ in range(count):
            signer.sign_bytes(envelope)
    elif operation == "verify":
        for tree in copies[:count]:
            verifier.verify(tree, expected_signer="hub")
    else:
        for _ in range(count):
            verifier.verify(parse_xml(signed), expected_signer="hub")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="operations measured per figure")
    parser.add_argument("--key-type", choices=("rsa", "ec"), action="append", help="default: both")
    parser.add_argument("--operation", choices=OPERATIONS, action="append", help="default: all")
    parser.add_argument("--child", nargs=4, metavar=("OPERATION", "COUNT", "PREPARED", "PKI"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        operation, count, prepared, pki = args.child
        child(operation, int(count), int(prepared), Path(pki))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    from hub.pki import init_pki

    for key_type in args.key_type or ("rsa", "ec"):
        with tempfile.TemporaryDirectory(prefix="rabt-signing-") as folder:
            init_pki(Path(folder), [], key_type=key_type)
            for operation in args.operation or OPERATIONS:
                prepared = str(args.count if operation == "verify" else 0)
                without = callgrind.instructions(__file__, "--child", operation, "0", prepared, folder)
                with_count = callgrind.instructions(__file__, "--child", operation, str(args.count), prepared, folder)
                print(f"{key_type:<4}{operation:<14}{(with_count - without) / args.count / 1e3:10.1f} k instructions "
                      f"each ({args.count})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
