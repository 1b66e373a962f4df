"""The JSON API, ``/api/v1/…``; described by :mod:`hub.console.openapi`.

Errors always have the shape ``{"error": {"code", "reason"}}``: 400 for bad
input, 401 without credentials, 403 for a role that may not, 404 for an
unknown message, 503 when the broker or the database cannot be reached.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from hub.console.auth import api_error, current_principal, require
from hub.console.ledger import disclosure_report
from hub.console.filters import chained_actions, letter_filter
from hub.console.openapi import openapi_document
from hub.console.pages import with_links
from hub.errors import InputError, MessageLogError, RabtError, TransportError

api = Blueprint("api", __name__, url_prefix="/api/v1")


def console():
    return current_app.extensions["rabt_console"].console


@api.errorhandler(RabtError)
def _rabt_error(exc: RabtError):
    if isinstance(exc, InputError):
        return api_error(400, exc.code, exc.reason)
    if isinstance(exc, (TransportError, MessageLogError)):
        return api_error(503, exc.code, str(exc))
    return api_error(500, exc.code, str(exc))


def _limit(default: int = 100, most: int = 1000) -> int:
    text = request.args.get("limit", str(default))
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise InputError(f"limit must be a whole number from 1 to {most}, got {text!r}")
    return int(text)


def _ids() -> tuple[list[str], dict]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError("send a JSON object like {\"ids\": [\"17\"]}")
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, (str, int)) for i in ids) or len(ids) > 10_000:
        raise InputError("\"ids\" must be a non-empty list (at most 10000) of dead-letter ids")
    return [str(i) for i in ids], body


@api.get("/whoami")
@require("viewer")
def whoami():
    who = current_principal()
    return jsonify({"name": who.name, "role": who.role, "method": who.method})


@api.get("/overview")
@require("viewer")
def overview():
    data = console().overview()
    return jsonify({**data, "alarms": with_links(console().alarms(data))})


@api.get("/alarms")
@require("viewer")
def alarms():
    return jsonify({"alarms": with_links(console().alarms())})


@api.get("/history")
@require("viewer")
def history():
    return jsonify(console().history_series(request.args.get("kind", "queue"), request.args.get("span", "hour")))


@api.get("/numbers")
@require("viewer")
def numbers():
    return jsonify(console().numbers())


@api.get("/dead-letters")
@require("viewer")
def dead_letters():
    which = letter_filter(request.args)
    return jsonify({"dead_letters": console().dead_letters(which.queue, _limit(), which)})


@api.post("/dead-letters/replay-matching")
@require("operator")
def replay_matching():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError("send a JSON object like {\"agency\": \"police\", \"since\": \"2026-01-01T00:00:00Z\"}")
    results = console().operations.replay_matching(letter_filter(body), current_principal())
    return jsonify({"results": results})


@api.post("/dead-letters/purge")
@require("operator")
def purge():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("queue"), str):
        raise InputError("send {\"queue\": NAME, \"confirm\": NAME}: the queue's name twice")
    confirm = body.get("confirm") if isinstance(body.get("confirm"), str) else ""
    return jsonify(console().operations.purge(body["queue"], confirm, current_principal()))


@api.get("/queues/<queue>/peek")
@require("viewer")
def peek(queue: str):
    return jsonify(console().operations.peek(queue, _limit(20, 200)))


@api.post("/dead-letters/replay")
@require("operator")
def replay():
    ids, _ = _ids()
    return jsonify({"results": console().replay(ids, current_principal())})


@api.post("/dead-letters/discard")
@require("operator")
def discard():
    ids, body = _ids()
    reason = body.get("reason", "")
    if not isinstance(reason, str) or len(reason) > 500:
        raise InputError("\"reason\" must be text of at most 500 characters")
    return jsonify({"results": console().discard(ids, current_principal(), reason)})


def _destination() -> str:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("destination"), str):
        raise InputError("send a JSON object like {\"destination\": \"police\"}")
    return body["destination"]


@api.get("/controls")
@require("viewer")
def controls():
    return jsonify({"paused": console().controls.paused(), "commands": console().controls.recent(_limit(50, 500))})


@api.post("/controls/pause")
@require("operator")
def pause():
    return jsonify(console().controls.pause(_destination(), current_principal()))


@api.post("/controls/resume")
@require("operator")
def resume():
    return jsonify(console().controls.resume(_destination(), current_principal()))


@api.post("/controls/reset-circuit")
@require("operator")
def reset_circuit():
    return jsonify(console().controls.reset_circuit(_destination(), current_principal()))


@api.get("/messages")
@require("viewer")
def search():
    return jsonify(console().trail(request.args.get("q", ""), _limit(10, 50)))


@api.get("/messages/<message_id>")
@require("viewer")
def message(message_id: str):
    trail = console().message(message_id)
    if not trail["found"]:
        return api_error(404, "not-found", f"no message {message_id!r} in the message log")
    return jsonify(trail)


@api.post("/audit/verify")
@require("operator")
def verify_chain():
    return jsonify(console().verify_chain(current_principal()))


@api.get("/actions")
@require("admin")
def actions():
    limit = _limit()
    return jsonify({"actions": console().actions.recent(limit), "chained": chained_actions(console().log, limit)})


@api.get("/ledger/<civil_number>")
@require("ledger")
def ledger(civil_number: str):
    """A worker's disclosure report, signed (JWS JSON); the only endpoint a ``ledger`` token may call."""
    return jsonify(disclosure_report(console().parts.ledger, civil_number, request.args, current_principal()))


@api.get("/openapi.json")
@require("viewer")
def openapi():
    return jsonify(openapi_document())
