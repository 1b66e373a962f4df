"""The SOAP gateway: where partner agencies call the hub.

Per registered adapter with inbound operations:

* ``GET  /soap/<agency>?wsdl`` — the agency's gateway contract, its address
  and schema locations pointing at this server;
* ``GET  /soap/<agency>/schemas/<file>.xsd`` — the schemas that WSDL imports;
* ``POST /soap/<agency>`` — SOAP 1.1 document/literal requests.

Every refusal is a SOAP Fault naming what was wrong, with HTTP 500 (WS-I
Basic Profile R1126), ``Client…`` for the partner's mistakes and ``Server…``
for the hub's; nothing a client sends can make the gateway answer anything
else (an unexpected bug answers ``Server`` and is logged). Every answer and
fault is signed by the hub (see :mod:`hub.gateway.answers`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping

from flask import Flask, Response, abort, request
from werkzeug.exceptions import InternalServerError
from werkzeug.http import HTTP_STATUS_CODES, parse_options_header
from werkzeug.wsgi import get_content_length, get_input_stream

from hub.adapter import Adapter
from hub.config import XmlLimits
from hub.config_roles import GatewaySettings
from hub.gateway.answers import AnswerSigner, Reply, Style
from hub.gateway.inbound import InboundHandler
from hub.mapping import Mappings
from hub.pipeline import Pipeline
from hub.proxies import trust_proxies
from hub.soap import XML_CONTENT_TYPE, SoapFault, wsdl_with_address
from hub.transports import Transport
from hub.transports.request_pool import RequestPool, ThreadTransports
from hub.wssec import Freshness

_XSD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*\.xsd$")
_SCHEMA_LOCATION = re.compile(r'schemaLocation="([A-Za-z0-9][A-Za-z0-9_.\-]*\.xsd)"')
#: SOAP 1.1 is carried as text/xml (SOAP 1.2's application/soap+xml is not offered here)
SOAP11_MEDIA_TYPE = "text/xml"
log = logging.getLogger(__name__)


def create_app(pipeline: Pipeline, adapters: Mapping[str, Adapter], *, mappings: Mappings, limits: XmlLimits,
               open_transport: Callable[[], Transport], config: dict | None = None,
               request_pool: bool = False) -> Flask:
    """The gateway app for the inbound operations of ``adapters``.

    Every agency document goes through ``pipeline``, refusals included;
    request/reply operations ask through transports from ``open_transport()``:
    one per server thread, opened on its first question, or with
    ``request_pool`` (the transport's capability says when) a
    :class:`~hub.transports.request_pool.RequestPool` of one more than may wait
    at once, opened from now on in the background; ``app.extensions["rabt.askers"]``
    is theirs to close when the app is done. ``config`` may set ``REPLY_TIMEOUT`` (seconds a
    request/reply operation waits for its answer) and ``MAX_WAITING_REPLIES``
    (how many may wait at once, default ``[gateway] waiting_replies``; more are
    answered ``Server.Busy`` at once, so one-way pushes keep server threads).
    Behind a reverse proxy, ``PUBLIC_URL`` is the address partners use (the only one the WSDL advertises) and
    ``TRUSTED_PROXY_HOPS`` how many proxies' forwarded client address and scheme
    to believe (0, the default: none). ``TIMESTAMP_WINDOW`` and ``CLOCK_SKEW``
    (seconds, default 300 and 60) bound how old a WS-Security Timestamp may be.
    """
    app = Flask("hub.gateway")
    app.config.update(config or {})
    max_waiting = int(app.config.get("MAX_WAITING_REPLIES", GatewaySettings().waiting_replies))
    # one more than may ask at once (the bulkhead), so no question waits for the one the pool's keeper drives
    askers = RequestPool(open_transport, max_waiting + 1) if request_pool else ThreadTransports(open_transport)
    app.extensions["rabt.askers"] = askers
    handler = InboundHandler(pipeline, mappings=mappings, limits=limits, askers=askers,
                             reply_timeout=float(app.config.get("REPLY_TIMEOUT", 10.0)), max_waiting=max_waiting,
                             freshness=Freshness(window=float(app.config.get("TIMESTAMP_WINDOW", 300.0)),
                                                 skew=float(app.config.get("CLOCK_SKEW", 60.0))))
    answers = AnswerSigner(pipeline.signer)
    served = {name: adapter for name, adapter in adapters.items() if adapter.inbound}

    def adapter_or_404(agency: str) -> Adapter:
        adapter = served.get(agency)
        if adapter is None:
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

    def push(environ: dict, agency: str) -> Reply:
        adapter, raw = served.get(agency), b""
        try:
            raw = _bounded_body(environ, limits.max_bytes)
            if adapter is None:
                known = ", ".join(sorted(served))
                raise SoapFault("Client.UnknownAgency", f"no agency {agency[:64]!r} is registered here; known: {known}")
            _require_soap11_content_type(environ)
        except SoapFault as fault:
            # Refused before the pipeline could: recorded and counted here, under a bounded agency label.
            oversize = isinstance(fault, _OversizeFault)
            pipeline.refuse(fault.raw if oversize else raw, agency=adapter.name if adapter else None,
                            code=fault.code, reason=fault.text, source=environ.get("REMOTE_ADDR"),
                            input_size=fault.size if oversize else None)
            # Which way the partner signs is not known yet: WS-Security over the whole fault.
            return answers.fault(fault, Style.WS_SECURITY, None)
        return handler.handle(adapter, raw, source=environ.get("REMOTE_ADDR"))

    @app.post("/soap/<agency>")
    def call(agency: str):
        return _reply(push(request.environ, agency))

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "agencies": sorted(served)}

    app.wsgi_app = _PushFastPath(app.wsgi_app, push)
    # outside the fast path, so it reads the client's address as the proxies forwarded it
    trust_proxies(app, int(app.config.get("TRUSTED_PROXY_HOPS") or 0))
    return app


class _PushFastPath:
    """WSGI: ``POST /soap/<agency>`` straight to the gateway's push, everything else to the Flask app.

    A push is the gateway's hot path, and Flask's request and app contexts, URL
    matching, signals and response processing cost as much CPU as the hash-chain
    append it pays for. This route has no hooks, so nothing Flask would do is
    skipped; the Flask view stays for the same request made through Flask's own
    dispatch (url_for, tests). The answer is written as a werkzeug Response would
    write it (status line, Content-Type, Content-Length), without building one.
    """

    def __init__(self, app, push: Callable[[dict, str], Reply]) -> None:
        self.app, self.push = app, push

    def __call__(self, environ, start_response):
        agency = _pushed_agency(environ.get("PATH_INFO", "")) if environ.get("REQUEST_METHOD") == "POST" else None
        if agency is None:
            return self.app(environ, start_response)
        try:
            reply = self.push(environ, agency)
        except Exception:  # noqa: BLE001 - as Flask would: logged, answered 500 (the refusal record failed)
            log.exception("gateway failed on a request to /soap/%s", agency[:64])
            return InternalServerError()(environ, start_response)
        start_response(f"{reply.status} {HTTP_STATUS_CODES[reply.status].upper()}",
                       [("Content-Type", XML_CONTENT_TYPE), ("Content-Length", str(len(reply.body)))])
        return [reply.body]


def _pushed_agency(path: str) -> str | None:
    """The agency of ``/soap/<agency>`` (as Flask's route reads it), None for any other path."""
    if not path.startswith("/soap/"):
        return None
    agency = path[6:]
    if not agency.isascii():  # PATH_INFO is UTF-8 bytes read as latin-1 (PEP 3333); Flask decodes them
        agency = agency.encode("latin-1").decode("utf-8", "replace")
    return agency if agency and "/" not in agency else None


class _OversizeFault(SoapFault):
    """A request over the size limit, with what was read of it (at most limit + 1 bytes)."""

    def __init__(self, text: str, *, raw: bytes = b"", size: int | None = None) -> None:
        super().__init__("Client.Parse", text)
        self.raw, self.size = raw, size


def _bounded_body(environ: dict, limit: int) -> bytes:
    """The request body, never reading more than ``limit + 1`` bytes of it (read as werkzeug's Request.stream)."""
    length = get_content_length(environ) or 0
    if length > limit:
        raise _OversizeFault(f"request is {length} bytes, over the limit of {limit}", size=length)
    raw = get_input_stream(environ).read(limit + 1)
    if len(raw) > limit:
        raise _OversizeFault(f"request is over the limit of {limit} bytes", raw=raw)
    return raw


def _require_soap11_content_type(environ: dict) -> None:
    # the type SOAP 1.1 clients send, taken as it is; any other spelling is parsed as werkzeug's Request.mimetype
    sent = environ.get("CONTENT_TYPE", "")
    if sent != XML_CONTENT_TYPE and parse_options_header(sent)[0].lower() != SOAP11_MEDIA_TYPE:
        sent = (sent or "none")[:100]
        raise SoapFault("Client.ContentType",
                        f"Content-Type {sent!r} is not accepted: SOAP 1.1 requests are sent as {SOAP11_MEDIA_TYPE}")



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


def _reply(reply: Reply) -> Response:
    return _xml(reply.body, reply.status)
