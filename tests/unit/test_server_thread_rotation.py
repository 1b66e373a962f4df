"""waitress hands a request to the server thread idle longest, so three sequential requests a thread reach every one.

The visa benchmark's warm-up counts on it (``benchmarks/end_to_end_visa.py``, ``WARM_CHECKS``): a
gateway thread opens its broker connection on its first question, which must happen off the clock.
"""

from __future__ import annotations

import http.client
import threading

import pytest
from waitress import create_server

from hub.config_roles import GatewaySettings

pytestmark = pytest.mark.timeout(60)


def test_sequential_requests_on_one_connection_reach_every_server_thread():
    threads = GatewaySettings().threads

    def app(_environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(threading.get_ident()).encode()]

    # poll(), as the hub's servers use: select() raised EBADF in the loop thread when close() came mid-call
    server = create_server(app, host="127.0.0.1", port=0, threads=threads, asyncore_use_poll=True)
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    connection = http.client.HTTPConnection("127.0.0.1", int(server.effective_port), timeout=10)
    try:
        served_by = []
        for _ in range(3 * threads):
            connection.request("GET", "/")
            served_by.append(connection.getresponse().read())
    finally:
        connection.close()
        server.close()
        serving.join(timeout=10)
    # a thread that has just answered waits behind the idle ones (not exactly in turn while they start)
    assert len(set(served_by)) == threads
