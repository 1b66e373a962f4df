"""Sign and verify rates per core, beside `openssl speed` for the same key type, in one run.

    python benchmarks/signing_vs_openssl.py [--seconds 3]

Signs the sample WorkerArrival envelope with the hub's Signer (its tree to
signed bytes, C14N included) and verifies it with the hub's Verifier (profile
checks + pinned certificate + signature + digest; once more with the hardened
parse in front), in one process, then runs `openssl speed` for the same key
type right after, so all figures come from the same minutes of this machine.
The ratios against raw OpenSSL are the figures that matter: targets are
signing >= 0.9 and verification >= 0.2 (RSA-2048).
"""

from __future__ import annotations

import argparse
import copy
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.pki import init_pki  # noqa: E402
from hub.signing import Signer, TrustStore, Verifier  # noqa: E402
from hub.xmlsafe import parse_xml  # noqa: E402

SAMPLE = ROOT / "tests" / "samples" / "canonical" / "envelope-WorkerArrival.xml"
OPENSSL_ALGORITHM = {"rsa": "rsa2048", "ec": "ecdsap256"}
TARGET = {"sign": 0.9, "verify": 0.2}


def rate(operation, seconds: float, prepare=lambda: None) -> float:
    """Operations per CPU second of this process: `openssl speed` counts its own CPU time too,
    so neither figure is skewed by other work on a shared machine. ``prepare()`` makes each
    operation's input outside the clock (the verifier consumes the tree it is given)."""
    count, spent = 0, 0.0
    while spent < seconds:
        inputs = [prepare() for _ in range(50)]
        started = time.process_time()
        for item in inputs:
            operation(item)
        spent += time.process_time() - started
        count += len(inputs)
    return count / spent


def openssl_speed(key_type: str, seconds: float) -> tuple[float, float]:
    output = subprocess.run(
        ["openssl", "speed", "-seconds", str(max(1, int(seconds))), OPENSSL_ALGORITHM[key_type]],
        capture_output=True, text=True, check=True,
    ).stdout
    last = [line for line in output.splitlines() if re.search(r"\d+\.\d+\s+\d+\.\d+\s*$", line)][-1]
    sign_rate, verify_rate = map(float, last.split()[-2:])
    return sign_rate, verify_rate


def measure(key_type: str, seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        init_pki(Path(folder), [], key_type=key_type)
        store = TrustStore.load(Path(folder))
    signer, verifier = Signer(store.hub), Verifier(store)
    envelope = etree.parse(str(SAMPLE)).getroot()
    signed = signer.sign_bytes(envelope)
    hub_sign = rate(lambda _: signer.sign_bytes(envelope), seconds)  # tree in, signed bytes out, as published
    parsed = parse_xml(signed)
    hub_verify = rate(lambda tree: verifier.verify(tree, expected_signer="hub"), seconds,
                      prepare=lambda: copy.deepcopy(parsed))
    parse_verify = rate(lambda _: verifier.verify(parse_xml(signed), expected_signer="hub"), seconds)
    raw_sign, raw_verify = openssl_speed(key_type, seconds)
    return {"bytes": len(signed), "hub_sign": hub_sign, "raw_sign": raw_sign, "hub_verify": hub_verify,
            "parse_verify": parse_verify, "raw_verify": raw_verify}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()
    print(f"{'key':<11}{'doc':>8}{'sign/s':>9}{'openssl':>9}{'ratio':>7}{'verify/s':>10}{'ratio':>7}"
          f"{'parse+verify/s':>16}{'ratio':>7}{'openssl':>9}")
    summary = ""
    for key_type in ("rsa", "ec"):
        m = measure(key_type, args.seconds)
        ratios = {"sign": m["hub_sign"] / m["raw_sign"], "verify": m["hub_verify"] / m["raw_verify"],
                  "parse+verify": m["parse_verify"] / m["raw_verify"]}
        print(f"{OPENSSL_ALGORITHM[key_type]:<11}{m['bytes']:>6} B{m['hub_sign']:>9.0f}{m['raw_sign']:>9.0f}"
              f"{ratios['sign']:>7.2f}{m['hub_verify']:>10.0f}{ratios['verify']:>7.2f}"
              f"{m['parse_verify']:>16.0f}{ratios['parse+verify']:>7.2f}{m['raw_verify']:>9.0f}")
        if key_type == "rsa":
            summary = ", ".join(f"{what} {ratios[what]:.2f} >= {target} {'met' if ratios[what] >= target else 'NOT met'}"
                                for what, target in TARGET.items())
    print(f"RSA-2048 targets: {summary}")
    print("per CPU second of one process (= one core); verify: the Verifier on a parsed document; "
          "parse+verify: with the hardened parse first")


if __name__ == "__main__":
    main()
