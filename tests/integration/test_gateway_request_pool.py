"""A gateway's first visa checks after start wait for no broker connection; its connections close with the hub.

Real HTTP on 127.0.0.1 into ``gateway_app`` over RabbitMQ (the test's own
queues), licensing played by a thread answering signed. Each publishing
connection opened is recorded with the thread that opened it (see
``test_amqp_request_pool``): the server threads that answer the checks must
open none. On the embedded broker the gateway keeps a transport per thread,
as before.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from werkzeug.serving import make_server

from hub.bootstrap import bootstrap, gateway_app
from hub.config import Settings
from hub.errors import TransportError
from hub.signing import Verifier
from hub.transports.request_pool import RequestPool, ThreadTransports
from hub.transports.testing import isolated_routes
from tests.conftest import broker_url, declared
from tests.integration.test_amqp_request_pool import KEEPER, opens, question  # noqa: F401
from tests.integration.test_gateway_police import Gateway, LicensingResponder, licensing_signer
from tests.integration.test_visa_path import hub_message_id, post, visa_checks

pytestmark = [pytest.mark.broker, pytest.mark.timeout(120)]
WAITING = 3


def test_the_first_visa_checks_after_start_open_no_connection_and_the_hub_closes_them(
        tmp_path, trust_store, pki_dir, opens):
    url, routes = broker_url("amqp", tmp_path), isolated_routes()
    with declared(url, routes):
        hub = bootstrap(Settings(home=tmp_path, broker_url=url), trust_store=trust_store, routes=routes)
        app = gateway_app(hub, {"MAX_WAITING_REPLIES": WAITING})
        askers = app.extensions["rabt.askers"]
        assert isinstance(askers, RequestPool) and askers.size == WAITING + 1
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        gateway = Gateway("amqp", hub, f"http://127.0.0.1:{server.server_port}", Verifier(trust_store), None)
        try:
            assert askers.wait_ready(30)
            with LicensingResponder(gateway, licensing_signer(pki_dir)), ThreadPoolExecutor(WAITING) as pool:
                replies = list(pool.map(lambda body: post(gateway.url, body), visa_checks(pki_dir, WAITING)))
            assert len({hub_message_id(reply) for reply in replies}) == WAITING
            assert opens == [KEEPER] * (WAITING + 1)  # all before the checks, none on a server thread
        finally:
            server.shutdown()
            hub.close()
    with pytest.raises(TransportError):  # closed with the hub
        askers.request(question(), timeout=1)
    assert not [thread for thread in threading.enumerate() if thread.name == KEEPER]


def test_on_the_embedded_broker_each_server_thread_keeps_its_own_transport(tmp_path, trust_store):
    hub = bootstrap(Settings(home=tmp_path, broker_url=broker_url("sqlite", tmp_path)), trust_store=trust_store,
                    routes=isolated_routes())
    try:
        assert isinstance(gateway_app(hub).extensions["rabt.askers"], ThreadTransports)
    finally:
        hub.close()
