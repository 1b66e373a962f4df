"""The SOAP gateway: where partner agencies call the hub.

Per registered adapter with inbound operations:

* ``GET  /soap/<agency>?wsdl`` — the agency's gateway contract, its address
  and schema locations pointing at this server;
* ``GET  /soap/<agency>/schemas/<file>.xsd`` — the schemas that WSDL imports;
* ``POST /soap/<agency>`` — SOAP 1.1 document/literal requests.

Every refusal is a SOAP Fault naming what was wrong; nothing a client sends
can make the gateway answer anything else (an unexpected bug answers
``Server`` and is logged).
"""

from __future__ import annotations

import logging
import re

from flask import Flask, Response, abort, request

from hub.adapter import Adapter
from hub.bootstrap import Hub
from hub.errors import RabtError
from hub.gateway.faults import soap_fault
from hub.gateway.inbound import InboundHandler
from hub.proxies import trust_proxies
from hub.soap import XML_CONTENT_TYPE, SoapFault, fault_envelope, wsdl_with_address

log = logging.getLogger(__name__)
_XSD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*\.xsd$")
_SCHEMA_LOCATION = re.compile(r'schemaLocation="([A-Za-z0-9][A-Za-z0-9_.\-]*\.xsd)"')


def create_app(hub: Hub, config: dict | None = None) -> Flask:
    """The gateway app for ``hub``.

    ``config`` may set ``REPLY_TIMEOUT`` (seconds a request/reply operation waits
    for its answer) and ``MAX_WAITING_REPLIES`` (how many may wait at once; more
    are answered ``Server.Busy`` at once, so one-way pushes keep server threads).
    Behind a reverse proxy, ``PUBLIC_URL`` is the address partners use (the only
    one the WSDL advertises) and ``TRUSTED_PROXY_HOPS`` how many proxies' forwarded
    client address and scheme to believe (0, the default: none).
    """
    app = Flask("hub.gateway")
    app.config.update(config or {})
    trust_proxies(app, int(app.config.get("TRUSTED_PROXY_HOPS") or 0))
    handler = InboundHandler(hub, reply_timeout=float(app.config.get("REPLY_TIMEOUT", 10.0)),
                             max_waiting=int(app.config.get("MAX_WAITING_REPLIES", 8)))
    limit = hub.settings.xml_limits.max_bytes

    def adapter_or_404(agency: str) -> Adapter:
        adapter = hub.adapters.get(agency)
        if adapter is None or not adapter.inbound:
            abort(404)
        return adapter

    @app.get("/soap/<agency>")
    def wsdl(agency: str):
        adapter = adapter_or_404(agency)
        if "wsdl" not in {key.lower() for key in request.args} or not adapter.gateway_wsdl:
            return Response(f"POST SOAP 1.1 requests here; the contract is at /soap/{agency}?wsdl\n",
                            content_type="text/plain")
        text = (adapter.schema_dir / adapter.gateway_wsdl).read_text(encoding="utf-8")
        base = _public_base(app)
        return _xml(wsdl_with_address(_absolute_schemas(text, agency, base), f"{base}/soap/{agency}"))

    @app.get("/soap/<agency>/schemas/<name>")
    def schema(agency: str, name: str):
        adapter = adapter_or_404(agency)
        path = adapter.schema_dir / name
        if not _XSD_NAME.match(name) or not path.is_file():
            abort(404)
        return _xml(_absolute_schemas(path.read_text(encoding="utf-8"), agency, _public_base(app)).encode("utf-8"))

    @app.post("/soap/<agency>")
    def call(agency: str):
        adapter = hub.adapters.get(agency)
        if adapter is None or not adapter.inbound:
            known = ", ".join(sorted(a.name for a in hub.adapters.values() if a.inbound))
            return _fault(SoapFault("Client.UnknownAgency", f"no agency {agency!r} is registered here; known: {known}"), 404)
        if (request.content_length or 0) > limit:
            return _fault(SoapFault("Client.Parse", f"request is {request.content_length} bytes, over the limit of {limit}"))
        raw = request.stream.read(limit + 1)
        if len(raw) > limit:
            return _fault(SoapFault("Client.Parse", f"request is over the limit of {limit} bytes"))
        try:
            return _xml(handler.handle(adapter, raw))
        except SoapFault as fault:
            return _fault(fault)
        except RabtError as error:
            return _fault(soap_fault(error, adapter.fault_namespace))
        except Exception as exc:  # noqa: BLE001 - a bug must still answer SOAP, and be logged
            log.exception("gateway failed on a %s request", agency)
            return _fault(SoapFault("Server", f"internal error ({type(exc).__name__}); the hub has logged it"))

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "agencies": sorted(a.name for a in hub.adapters.values() if a.inbound)}

    return app


def _public_base(app: Flask) -> str:
    """The hub's address as partners should use it, without a trailing slash.

    Never the request's ``Host`` header, which the client chooses: a forged one
    would otherwise be served back inside the WSDL to whoever loads it next
    through a cache. Without a configured ``PUBLIC_URL``, the server's own
    listening address (``SERVER_NAME``/``SERVER_PORT``, set by the WSGI server).
    """
    public = app.config.get("PUBLIC_URL")
    if public:
        return str(public).rstrip("/")
    environ = request.environ
    original = environ.get("werkzeug.proxy_fix.orig", {})  # our own scheme, not the proxy's
    scheme = original.get("wsgi.url_scheme", environ["wsgi.url_scheme"])
    name = environ["SERVER_NAME"]
    host = f"[{name}]" if ":" in name else name
    return f"{scheme}://{host}:{environ['SERVER_PORT']}"


def _absolute_schemas(text: str, agency: str, base: str) -> str:
    # Relative imports would resolve to /soap/<file>.xsd, shared by every agency.
    prefix = f"{base}/soap/{agency}/schemas/"
    return _SCHEMA_LOCATION.sub(lambda m: f'schemaLocation="{prefix}{m.group(1)}"', text)


def _xml(body: bytes, status: int = 200) -> Response:
    return Response(body, status=status, content_type=XML_CONTENT_TYPE)


def _fault(fault: SoapFault, status: int = 500) -> Response:
    return _xml(fault_envelope(fault), status)
