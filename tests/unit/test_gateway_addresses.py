"""The addresses the gateway serves come from its configuration, never from a request's headers.

A forged ``Host`` (or ``X-Forwarded-Host``) header must not reach the WSDL, or
a cache in front of the hub would hand partners an attacker's endpoint.
"""

from __future__ import annotations

import pytest
from flask import Flask, request
from lxml import etree

from hub.bootstrap import bootstrap
from hub.config import Settings
from hub.bootstrap import gateway_app as create_app
from hub.proxies import trust_proxies
from hub.transports.testing import isolated_routes

WSDL = "{http://schemas.xmlsoap.org/wsdl/}"
XSD = "{http://www.w3.org/2001/XMLSchema}"
FORGED = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "gopher",
          "X-Forwarded-For": "203.0.113.9"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory, trust_store):
    home = tmp_path_factory.mktemp("gateway-addresses")
    hub = bootstrap(Settings(home=home, broker_url=f"sqlite:///{home / 'broker.sqlite3'}"),
                    trust_store=trust_store, routes=isolated_routes())
    yield hub
    hub.close()


def addresses(app: Flask, headers: dict[str, str]) -> set[str]:
    """Every address in the police WSDL and the schemas it imports, as served for a request with ``headers``."""
    client = app.test_client()
    reply = client.get("/soap/police?wsdl", headers=headers, base_url="http://10.1.2.3:8000")
    assert reply.status_code == 200, reply.text
    wsdl = etree.fromstring(reply.data)
    found = {node.get("location") for node in wsdl.iter("{*}address")}
    schemas = {node.get("schemaLocation") for node in wsdl.iter(f"{XSD}import", f"{XSD}include")}
    for location in schemas:
        path = location.split("://", 1)[1].split("/", 1)[1]
        served = client.get(f"/{path}", headers=headers, base_url="http://10.1.2.3:8000")
        assert served.status_code == 200, location
        found |= {node.get("schemaLocation") for node in etree.fromstring(served.data).iter()
                  if node.get("schemaLocation")}
    return found | schemas


def test_without_a_public_url_the_servers_own_address_is_served_whatever_the_host_header(hub):
    found = addresses(create_app(hub), FORGED)
    assert "http://10.1.2.3:8000/soap/police" in found
    assert found and all(a.startswith("http://10.1.2.3:8000/soap/police") for a in found), found


def test_the_public_url_is_served_behind_a_proxy_and_forged_headers_change_nothing(hub):
    app = create_app(hub, {"PUBLIC_URL": "https://hub.example.om/", "TRUSTED_PROXY_HOPS": 1})
    honest = addresses(app, {"Host": "hub.example.om", "X-Forwarded-Proto": "https"})
    assert "https://hub.example.om/soap/police" in honest
    assert all(a.startswith("https://hub.example.om/soap/police/") or a == "https://hub.example.om/soap/police"
               for a in honest), honest
    assert addresses(app, FORGED) == honest


def echo_app() -> Flask:
    app = Flask("echo")
    app.get("/")(lambda: {"client": request.remote_addr, "scheme": request.scheme, "host": request.host})
    return app


def test_forwarded_client_and_scheme_are_believed_only_for_the_configured_hops():
    headers = {"X-Forwarded-For": "198.51.100.7, 192.0.2.1", "X-Forwarded-Proto": "https",
               "X-Forwarded-Host": "evil.example"}
    proxy = {"REMOTE_ADDR": "10.0.0.5"}
    direct = trust_proxies(echo_app(), 0).test_client().get("/", headers=headers, environ_base=proxy)
    assert direct.json == {"client": "10.0.0.5", "scheme": "http", "host": "localhost"}
    one = trust_proxies(echo_app(), 1).test_client().get("/", headers=headers, environ_base=proxy)
    # one proxy: only the address it appended is believed, not what the client wrote before it
    assert one.json == {"client": "192.0.2.1", "scheme": "https", "host": "localhost"}
