"""The TSA simulator's HTTP face (RFC 3161 §3.4): POST a query, get a reply; GET its certificate.

* ``POST /`` (also ``/tsa``) — body ``application/timestamp-query``, answer
  ``application/timestamp-reply``: a token, or a rejection (PKIStatus
  ``rejection`` with ``badRequest``, ``badAlg``, ``badDataFormat``…) for a
  query that is malformed, too large or sent as another content type;
* ``GET /certificate`` — the TSA's certificate (PEM), what a hub pins;
* ``GET /healthz``.

``config``: ``tsa_dir`` keeps the key and certificate there (made at the first
start, kept after); ``key_file`` and ``certificate_file`` give them by path;
neither: a new identity for the life of the process.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, jsonify, request

from simulators.tsa.authority import Authority, Identity, rejection

QUERY_TYPE, REPLY_TYPE = "application/timestamp-query", "application/timestamp-reply"
#: a query is about a hundred bytes; anything much larger is not one
MAX_QUERY_BYTES = 16 * 1024


def identity_from(config: dict) -> Identity:
    """The identity ``config`` names (see the module docstring)."""
    if config.get("key_file") and config.get("certificate_file"):
        return Identity.from_files(Path(config["key_file"]), Path(config["certificate_file"]))
    folder = config.get("tsa_dir")
    return Identity.load_or_create(Path(folder) if folder else None)


def create_app(config: dict | None = None) -> Flask:
    """The TSA simulator app."""
    config = config or {}
    authority = Authority(identity_from(config))
    app = Flask("simulators.tsa")
    app.config["MAX_CONTENT_LENGTH"] = MAX_QUERY_BYTES
    app.extensions["rabt_simulator"] = {"services": [], "authority": authority,
                                        "describe": "RFC 3161 time-stamping authority at POST /, certificate at /certificate"}

    def reply(body: bytes) -> Response:
        return Response(body, content_type=REPLY_TYPE)

    @app.post("/")
    @app.post("/tsa")
    def stamp():
        if request.mimetype != QUERY_TYPE:
            return reply(rejection("bad_request", f"send {QUERY_TYPE}, not {request.mimetype or 'no content type'}"))
        return reply(authority.answer(request.get_data(cache=False)))

    @app.errorhandler(413)
    def too_large(_error):
        return reply(rejection("bad_request", f"a query is at most {MAX_QUERY_BYTES} bytes"))

    @app.get("/certificate")
    def certificate():
        return Response(authority.identity.pem, content_type="application/x-pem-file")

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    return app
