"""Sign and verify rates per core, beside `openssl speed` for the same key type.

    python benchmarks/signing_vs_openssl.py [--seconds 3]

Signs the sample WorkerArrival envelope (about 2 KB) with the hub's Signer and
verifies it with the hub's Verifier (parse + pinned-certificate check +
signxml), in one process, then runs `openssl speed` for the same key type
right after, so both figures come from the same minutes of this machine. The
ratio that matters is hub signing / raw signing (target >= 0.8 for RSA).
"""

from __future__ import annotations

import argparse
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


def rate(operation, seconds: float) -> float:
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(50):
            operation()
        count += 50
    return count / elapsed


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
    hub_sign = rate(lambda: signer.sign(envelope), seconds)
    hub_verify = rate(lambda: verifier.verify(parse_xml(signed), expected_signer="hub"), seconds)
    raw_sign, raw_verify = openssl_speed(key_type, seconds)
    return {"bytes": len(signed), "hub_sign": hub_sign, "raw_sign": raw_sign,
            "hub_verify": hub_verify, "raw_verify": raw_verify}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()
    print(f"{'key':<11}{'signed doc':>11}{'hub sign/s':>12}{'openssl sign/s':>16}{'ratio':>7}"
          f"{'hub verify/s':>14}{'openssl verify/s':>18}{'ratio':>7}")
    for key_type in ("rsa", "ec"):
        m = measure(key_type, args.seconds)
        print(f"{OPENSSL_ALGORITHM[key_type]:<11}{m['bytes']:>9} B{m['hub_sign']:>12.0f}{m['raw_sign']:>16.0f}"
              f"{m['hub_sign'] / m['raw_sign']:>7.2f}{m['hub_verify']:>14.0f}{m['raw_verify']:>18.0f}"
              f"{m['hub_verify'] / m['raw_verify']:>7.2f}")
    print("one process = one core; verify includes the hardened parse and the trust-store checks")


if __name__ == "__main__":
    main()
