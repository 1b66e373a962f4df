"""What the end-to-end benchmark's push client costs per push: the lean client against ``http.client`` threads.

    python benchmarks/load_client_instructions.py                 # callgrind, 2000 pushes each way
    python benchmarks/load_client_instructions.py --cpu 20000     # CPU seconds (user + system) instead

The load generators run on the cores the hub is measured on, so what they spend is
taken from the system under test. Both clients push the same prepared 3.3 KB SOAP
bodies over ``--clients`` keep-alive connections at once, closed loop, to a waitress
server in another process that answers each with a fixed receipt (its work is not
counted), and both check each answer's status and receipt:

* ``lean`` — the benchmark's client (``end_to_end_load.KeepAliveSender``): whole
  requests prepared beforehand, one thread driving every connection with a selector,
  a minimal answer parser (``lean_http``, ``lean_loop``);
* ``http.client`` — the client it replaced: a thread per connection
  (``ThreadPoolExecutor``), each request built and each answer's headers parsed by
  ``http.client``.

With callgrind (default) each client runs twice under ``valgrind --tool=callgrind``,
with ``--count`` pushes and with none, and the difference per push is printed:
user-space instructions, steady on a shared machine. The kernel's side (system
calls, waking threads) is not in them; ``--cpu N`` times N pushes natively each
way, the kernel's side included, three rounds alternated, less steady.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import os
import re
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import callgrind
from end_to_end_load import KeepAliveSender

RECEIPT = b"<soap:Envelope><soap:Body><r:Receipt><r:HubMessageId>m-1</r:HubMessageId></r:Receipt></soap:Body></soap:Envelope>"
_HUB_MESSAGE_ID = re.compile(rb"HubMessageId>\s*[^<\s]")
_SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"urn:om:rop:hubgateway:2020#Notify"'}
BODY_BYTES = 3300


def serve() -> None:
    """A waitress answering every request with :data:`RECEIPT`; its port on stdout, until stdin closes."""
    from waitress import create_server

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth": expected, 8 clients at once

    def app(environ, start_response):
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(RECEIPT))),
                                  ("X-Rabt-Process", str(os.getpid()))])
        return [RECEIPT]

    server = create_server(app, host="127.0.0.1", port=0, threads=8, connection_limit=200)
    print(server.effective_port, flush=True)
    threading.Thread(target=server.run, daemon=True).start()
    sys.stdin.read()


def bodies(count: int) -> list[bytes]:
    """``count`` distinct SOAP-sized bodies."""
    return [(f"<m n='{i}'>".encode() + b"x" * BODY_BYTES)[:BODY_BYTES] for i in range(count)]


def push_lean(port: int, count: int, clients: int) -> int:
    sender = KeepAliveSender(f"http://127.0.0.1:{port}")
    requests = sender.prepared(bodies(count))
    with sender.connections(clients) as connections:
        return len(sender.push_all(connections, requests))


def push_http_client(port: int, count: int, clients: int) -> int:
    """The client before the lean one: ``http.client`` over a keep-alive connection per thread."""
    local = threading.local()

    def post(body: bytes) -> bool:
        if getattr(local, "connection", None) is None:
            local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local.connection.request("POST", "/soap/police", body, headers=_SOAP_HEADERS)
        reply = local.connection.getresponse()
        answer = reply.read()
        return reply.status == 200 and _HUB_MESSAGE_ID.search(answer) is not None

    with ThreadPoolExecutor(clients) as pool:
        return sum(not ok for ok in pool.map(post, bodies(count)))


CLIENTS = {"lean": push_lean, "http.client": push_http_client}


def child(kind: str, port: int, count: int, clients: int) -> None:
    if (failed := CLIENTS[kind](port, count, clients)) != 0:
        raise SystemExit(f"{kind}: {failed} of {count} pushes not answered with a receipt")


def cpu_ms(kind: str, port: int, count: int, clients: int) -> float:
    """Milliseconds of this process's CPU per push, measured natively."""
    before = os.times()
    child(kind, port, count, clients)
    after = os.times()
    return (after.user + after.system - before.user - before.system) / count * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="pushes per callgrind run")
    parser.add_argument("--clients", type=int, default=8, help="connections pushing at once")
    parser.add_argument("--cpu", type=int, metavar="N", default=None, help="time N pushes natively instead")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--client", choices=sorted(CLIENTS), default="lean", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return 0
    if args.child is not None:
        child(args.client, args.port, args.child, args.clients)
        return 0
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        port = int(server.stdout.readline())
        print(f"push client, {args.clients} connections at once, {BODY_BYTES}-byte bodies, a fixed receipt back:")
        if args.cpu:
            rounds = [(kind, cpu_ms(kind, port, args.cpu, args.clients)) for _ in range(3) for kind in CLIENTS]
            for kind in CLIENTS:
                print(f"  {kind:<12} ms CPU per push (user + system, {args.cpu} pushes, 3 rounds): "
                      + ", ".join(f"{ms:.3f}" for k, ms in rounds if k == kind))
        else:
            for kind in CLIENTS:
                per = callgrind.per_item(__file__, args.count, "--client", kind, "--port", str(port),
                                         "--clients", str(args.clients))
                print(f"  {kind:<12} {per / 1000:8.1f} k instructions per push (callgrind, {args.count} pushes)")
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
