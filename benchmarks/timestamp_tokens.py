"""CPU per RFC 3161 token: the TSA simulator stamping one, the hub verifying one, and one full round
over HTTP (query, stamp, reply, verification) — in CPU seconds of this process, not wall time.

    python benchmarks/timestamp_tokens.py [--count 300]

The hub stamps one anchor per interval (60 s by default), so what matters is
that verification stays cheap for ``rabt audit verify`` over years of anchors:
a year of one-minute anchors is 525,600 tokens.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from werkzeug.serving import make_server  # noqa: E402

from hub.timestamps import make_query, read_reply, request_stamp, verify_token  # noqa: E402
from simulators.tsa.app import create_app  # noqa: E402
from simulators.tsa.authority import Authority, Identity  # noqa: E402


def cpu_per_call(operation, count: int) -> float:
    """CPU seconds of this process (all threads) per call of ``operation``."""
    started = time.process_time()
    for n in range(count):
        operation(n)
    return (time.process_time() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    count = parser.parse_args().count
    authority = Authority(Identity.create())
    certificate = authority.identity.certificate
    imprints = [hashlib.sha256(str(n).encode()).hexdigest() for n in range(count)]
    queries = [make_query(imprint, n + 1) for n, imprint in enumerate(imprints)]
    replies = [authority.answer(query) for query in queries]
    tokens = [read_reply(reply, imprints[n], certificate, nonce=n + 1) for n, reply in enumerate(replies)]

    stamp = cpu_per_call(lambda n: authority.answer(queries[n]), count)
    verify = cpu_per_call(lambda n: verify_token(tokens[n], imprints[n], certificate), count)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request would drown the figures
    app = create_app({})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pinned = app.extensions["rabt_simulator"]["authority"].identity.certificate
    url = f"http://127.0.0.1:{server.port}/"
    round_trip = cpu_per_call(lambda n: request_stamp(url, imprints[n], pinned, timeout=10), count)
    server.shutdown()
    print(f"tokens: {count}, token size {len(tokens[0])} bytes (with the TSA certificate)")
    print(f"TSA stamps one (P-256):           {stamp * 1000:7.2f} ms CPU")
    print(f"hub verifies one (offline):       {verify * 1000:7.2f} ms CPU  "
          f"-> a year of one-minute anchors in {525_600 * verify / 60:.0f} CPU minutes")
    print(f"one round over HTTP (both sides): {round_trip * 1000:7.2f} ms CPU")


if __name__ == "__main__":
    main()
