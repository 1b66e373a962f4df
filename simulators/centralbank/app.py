"""Central bank simulator: drops a month of SIF files into the hub's drop folder on request.

    app = create_app({"DROP_DIR": "var/drop", "WORKERS": 2000})
    POST /months/2026-02   {"late_ratio": 0.1, "missing_ratio": 0.02, "employers": 50}
    GET  /healthz

Files land in ``<DROP_DIR>/centralbank/inbox/``. The JSON body carries the
fault knobs of :func:`simulators.centralbank.sif.write_month` plus
``employers`` (only the first N employers, for quick scenarios) and
``variant`` (``A``, ``B`` or ``mixed``). Bad input is a 400 with a reason.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path

from flask import Flask, jsonify, request

from hub.errors import InputError
from simulators.centralbank.sif import write_month
from simulators.population import Population, PopulationSpec

DEFAULTS = {
    "DROP_DIR": "var/drop",  # root of the agencies' drop folders
    "SEED": 2026,
    "WORKERS": 2000,  # population scale (employers = workers // 11)
    "POPULATION": None,  # a ready Population wins over SEED / WORKERS
}
_KNOBS = ("late_ratio", "missing_ratio", "broken_total_ratio", "truncated_ratio")
_MONTH = re.compile(r"(\d{4})-(\d{2})")


def create_app(config: dict | None = None) -> Flask:
    """Flask factory; ``config`` overrides :data:`DEFAULTS`."""
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    population = app.config["POPULATION"] or Population(
        PopulationSpec.scaled(int(app.config["WORKERS"]), seed=int(app.config["SEED"])))
    inbox = Path(app.config["DROP_DIR"]) / "centralbank" / "inbox"

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok", agency="centralbank", inbox=str(inbox),
                       employers=population.spec.employers, workers=population.spec.workers)

    @app.post("/months/<month>")
    def generate_month(month: str):
        try:
            year, number = _parse_month(month)
            options = _options(_json_body(), population)
            summary = write_month(population, year, number, inbox, **options)
        except InputError as exc:
            return jsonify(error=exc.reason), 400
        return jsonify({**asdict(summary), "total": f"{summary.total:.3f}", "inbox": str(inbox)}), 201

    return app


def _json_body():
    """The request's JSON (empty body: no options); malformed JSON is refused, not ignored."""
    if not request.get_data():
        return {}
    body = request.get_json(silent=True, force=True)
    if body is None:
        raise InputError("the request body is not valid JSON")
    return body


def _parse_month(text: str) -> tuple[int, int]:
    match = _MONTH.fullmatch(text)
    if not match:
        raise InputError(f"month must look like YYYY-MM, got {text!r}")
    return int(match[1]), int(match[2])


def _options(body: dict, population: Population) -> dict:
    """write_month keyword arguments from the request body, refusing unknown keys."""
    if not isinstance(body, dict):
        raise InputError("the request body must be a JSON object")
    unknown = set(body) - set(_KNOBS) - {"employers", "variant"}
    if unknown:
        raise InputError(f"unknown option(s): {', '.join(sorted(unknown))}")
    options = {knob: body[knob] for knob in _KNOBS if knob in body}
    if "variant" in body:
        options["variant"] = body["variant"]
    if "employers" in body:
        limit = body["employers"]
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InputError(f"employers must be a positive integer, got {limit!r}")
        options["employers"] = range(min(limit, population.spec.employers))
    return options
