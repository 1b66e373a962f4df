"""The OpenAPI 3.1 description of ``/api/v1`` (hand-written; a test validates it
and checks every documented response against real answers)."""

from __future__ import annotations

from functools import lru_cache


def _obj(required: list[str], **props) -> dict:
    return {"type": "object", "required": required, "properties": props}


def _n(kind: str) -> dict:
    return {"type": [kind, "null"]}


S, I, N, B = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}
TIME = {"type": ["string", "null"], "format": "date-time"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _list(item: dict) -> dict:
    return {"type": "array", "items": item}


SCHEMAS = {
    "Error": _obj(["error"], error=_obj(["code", "reason"], code=S, reason=S)),
    "Whoami": _obj(["name", "role", "method"], name=S, role={"enum": ["viewer", "operator", "admin"]},
                   method={"enum": ["bearer", "basic", "session"]}),
    "Queue": _obj(["name", "ready", "unacked", "consumers", "dead_letters", "publish_rate", "deliver_rate",
                   "net_rate"], name=S, ready=I, unacked=_n("integer"), consumers=I, dead_letters=I,
                  publish_rate=_n("number"), deliver_rate=_n("number"), net_rate=_n("number")),
    "Adapter": _obj(["name", "last_success", "received", "refused", "dead_lettered", "applied", "failed_at_consumer",
                     "error_rate", "circuit"],
                    name=S, last_success=TIME, received=I, refused=I, dead_lettered=I, applied=I,
                    failed_at_consumer=I, error_rate=_n("number"),
                    circuit={"enum": ["closed", "half-open", "open", "unknown", "none"]},
                    circuit_detail=_n("string")),
    "Overview": _obj(
        ["generated_at", "broker", "database", "queues", "adapters", "log", "dead_letters_total"],
        generated_at=S,
        broker=_obj(["reachable", "error", "kind", "source"], reachable=B, error=_n("string"), kind=S,
                    source={"enum": ["management", "transport"]}),
        database=_obj(["reachable", "error"], reachable=B, error=_n("string")),
        queues=_list(_ref("Queue")), adapters=_list(_ref("Adapter")),
        log={"oneOf": [{"type": "null"}, _obj(
            ["by_status", "by_status_window", "outbox_backlog", "refused", "chain_records", "last_processed_at"],
            by_status={"type": "object", "additionalProperties": I}, by_status_window=I, outbox_backlog=I, refused=I,
            chain_records=I, last_processed_at=TIME)]},
        dead_letters_total=I, certificates=_list(_ref("Certificate")), alarms=_list(_ref("Alarm")),
        paused=_list(_ref("Paused"))),
    "Alarm": _obj(["name", "severity", "subject", "value", "threshold", "unit", "page", "args", "href"],
                  name=S, severity={"enum": ["critical", "warning"]}, subject=S, value=N, threshold=N, unit=S,
                  page=S, args={"type": "object", "additionalProperties": S}, href=S),
    "History": _obj(["kind", "span", "step", "series"], kind={"enum": ["queue", "agency"]},
                    span={"enum": ["hour", "day"]}, step=I,
                    series={"type": "object", "description": "name → metric → [[unix time, value], …]; "
                            "levels (ready, unacked, consumers, dead_letters, depth) as they were, counts "
                            "(published, delivered, received, refused, dead_lettered) per second",
                            "additionalProperties": {"type": "object", "additionalProperties": _list(_list(N))}}),
    "Numbers": _obj(["since", "latency", "refusals"], since=S,
                    latency=_list(_obj(["agency", "operation", "count", "p50", "p99", "target_p99", "met"],
                                       agency=S, operation=S, count=I, p50=N, p99=N, target_p99=N, met=B,
                                       target_why=S)),
                    refusals=_list(_obj(["agency", "code", "count"], agency=S, code=S, count=I))),
    "Certificate": _obj(["party", "serial", "subject", "not_after", "days_left", "accepted_until", "current", "state"],
                        party=S, serial=S, subject=S, not_after=TIME, days_left=I, accepted_until=TIME,
                        current=B, state={"enum": ["ok", "expiring", "expired"]}),
    "DeadLetter": _obj(["id", "queue", "message_id", "reason", "code", "attempts", "dead_lettered_at",
                        "routing_key", "correlation_id", "canonical", "original", "status"],
                       id=S, queue=S, message_id=S, reason=S, code=S, attempts=I, dead_lettered_at=TIME,
                       routing_key=S, correlation_id=_n("string"), canonical=S, original=_n("string"),
                       status=_n("string")),
    "IdsRequest": _obj(["ids"], ids={"type": "array", "minItems": 1, "maxItems": 10000,
                                     "items": {"type": ["string", "integer"]}},
                       reason={"type": "string", "maxLength": 500}),
    "ActionResult": _obj(["id", "ok"], id=S, ok=B, message_id=S, note=_n("string"), error=S),
    "Event": _obj(["seq", "status", "at", "detail", "actor"], seq=I, status=S, at=TIME, detail=S,
                  actor=_n("string")),
    "Message": _obj(["message_id", "found"], message_id=S, found=B, stored=B, correlation_id=_n("string"),
                    message_type=_n("string"), source_agency=_n("string"), source_system=_n("string"),
                    source_message_id=_n("string"), destination=_n("string"), routing_key=_n("string"), status=S,
                    received_at=TIME, published_at=TIME, raw=S, raw_sha256=S, raw_signed=B, canonical=S,
                    envelope_sha256=S, archived_in=_n("string"),
                    signature=_obj(["valid", "signer", "error"], valid=B, signer=_n("string"), error=_n("string")),
                    names=_list(_obj(["field", "lang", "text"], field=S, lang=_n("string"), text=S)),
                    events=_list(_ref("Event")),
                    projections=_list(_obj(["party", "message_type", "sent", "withheld"], party=S, message_type=S,
                                           sent=_list(S), withheld=_list(S)))),
    "ChainReport": _obj(["ok", "records", "head_hash", "record_id", "reason", "seconds", "checked_by"],
                        ok=B, records=I, head_hash=S, record_id=_n("integer"), reason=S, seconds=N,
                        checked_by=S),
    "ChainedAction": _obj(["seq", "at", "actor", "action", "message_id", "detail"], seq=I, at=S, actor=S,
                          action=S, message_id=_n("string"), detail=S),
    "LetterFilter": {"type": "object", "properties": {
        "queue": S, "agency": S, "type": S, "since": {"type": "string", "format": "date-time"},
        "until": {"type": "string", "format": "date-time"}}},
    "PurgeRequest": _obj(["queue", "confirm"], queue=S, confirm={"type": "string", "description": "the queue's name again"}),
    "Peek": _obj(["queue", "depth", "source", "exact", "messages"], queue=S, depth=I, source=S, exact=B,
                 messages=_list(_obj(["message_id", "message_type", "source_agency", "status", "published_at"],
                                     message_id=S, correlation_id=_n("string"), message_type=S, source_agency=S,
                                     status=S, published_at=TIME))),
    "ControlRequest": _obj(["destination"], destination={"type": "string", "description": "an agency (a work "
                                                                 "queue's destination)"}),
    "Command": _obj(["destination", "command", "seq"], destination=S, command={"enum": ["pause", "resume", "reset"]},
                    seq=I),
    "Paused": _obj(["destination", "queue", "actor", "since", "seq"], destination=S, queue=S, actor=S, since=TIME,
                   seq=I),
    "Controls": _obj(["paused", "commands"], paused=_list(_ref("Paused")), commands=_list(_obj(
        ["seq", "target", "command", "actor", "issued_at", "done_at", "done_by"], seq=I, target=S,
        command={"enum": ["pause", "resume", "reset"]}, actor=S, issued_at=TIME, done_at=TIME,
        done_by=_n("string")))),
    "Action": _obj(["at", "actor", "role", "action", "target", "outcome", "detail"], at=S, actor=S, role=S,
                   action=S, target=S, outcome=S, detail=S),
    "SignedLedgerReport": {**_obj(["protected", "payload", "signature"], protected=S, payload=S, signature=S),
                           "description": "A JWS (RFC 7515) in the flattened JSON serialization; protected.payload."
                                          "signature is its compact form. The protected header holds alg (RS256 "
                                          "or ES256), cty application/vnd.rabt.disclosure-ledger+json and x5c (the "
                                          "hub's certificate). The payload, base64url, is a LedgerReport."},
    "LedgerReport": _obj(
        ["format", "report_id", "issued_at", "issuer", "asked_by", "civil_number", "period", "page", "entries",
         "consultations"],
        format={"const": "rabt-disclosure-ledger/1"}, report_id=S, issued_at=S, issuer=S, asked_by=S,
        civil_number=S, period=_obj(["from", "until"], **{"from": TIME, "until": TIME}),
        page=_obj(["after", "limit", "next_after"], after=I, limit=I, next_after=_n("integer")),
        entries=_list(_ref("LedgerEntry")),
        consultations=_list(_obj(["at", "asked_by", "record"], at=S, asked_by=S, record={"type": "object"}))),
    "LedgerEntry": _obj(
        ["message_id", "at", "message_type", "sender", "receiver", "legal_basis", "outcome", "answers", "record"],
        message_id=S, at=S, message_type=S, sender=_obj(["agency", "system"], agency=S, system=_n("string")),
        receiver=S, correlation_id=_n("string"), legal_basis=_n("string"), outcome=S, published_at=TIME,
        answers=_list(_obj(["message_id", "message_type", "sender", "receiver", "outcome", "at", "legal_basis"],
                           message_id=S, message_type=S, sender=S, receiver=S, outcome=S, at=S,
                           legal_basis=_n("string"))),
        record=_obj(["seq", "lane", "lane_seq", "hash"], seq=I, lane=S, lane_seq=I, hash=S)),
}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    text = {400: "Bad input", 401: "No or wrong credentials", 403: "Role may not (or CSRF refusal)",
            404: "Not found", 503: "Broker or database unreachable"}
    return {str(code): _json(_ref("Error"), text[code]) for code in codes}


def _op(summary: str, role: str, ok: dict, *errors: int, params: list | None = None, body: str | None = None) -> dict:
    op = {"summary": summary, "description": f"Needs role **{role}** or higher.",
          "responses": {"200": ok, **_errors(401, 403, *errors)}, "x-rabt-role": role}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    return op


def _query(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema or S}


LIMIT = _query("limit", "How many to return.", {"type": "integer", "minimum": 1})

PATHS = {
    "/whoami": {"get": _op("Who is calling, and with which role", "viewer", _json(_ref("Whoami")))},
    "/overview": {"get": _op("Queues, adapters, broker and database health, certificate expiry", "viewer", _json(_ref("Overview")))},
    "/dead-letters": {"get": _op("Dead letters with reason, attempts and payloads", "viewer",
                                 _json(_obj(["dead_letters"], dead_letters=_list(_ref("DeadLetter")))), 400, 503,
                                 params=[_query("queue", "Only this work queue."),
                                         _query("agency", "Only messages from this agency."),
                                         _query("type", "Only messages of this type."),
                                         _query("since", "Dead-lettered at or after (ISO-8601)."),
                                         _query("until", "Dead-lettered at or before (ISO-8601)."), LIMIT])},
    "/dead-letters/replay-matching": {"post": _op("Replay every dead letter a filter matches (audited)", "operator",
                                                  _json(_obj(["results"], results=_list(_ref("ActionResult")))),
                                                  400, 503, body="LetterFilter")},
    "/dead-letters/purge": {"post": _op("Discard every dead letter of a queue; confirm repeats its name (audited)",
                                        "operator", _json(_obj(["queue", "purged"], queue=S, purged=I)), 400, 503,
                                        body="PurgeRequest")},
    "/queues/{queue}/peek": {"get": {**_op("The first messages probably waiting in a queue, from the message log "
                                           "(the broker is not touched)", "viewer", _json(_ref("Peek")), 400, 503),
                                     "parameters": [{"name": "queue", "in": "path", "required": True, "schema": S},
                                                    LIMIT]}},
    "/dead-letters/replay": {"post": _op("Replay dead letters onto their queues", "operator",
                                         _json(_obj(["results"], results=_list(_ref("ActionResult")))), 400, 503,
                                         body="IdsRequest")},
    "/dead-letters/discard": {"post": _op("Discard dead letters (audited)", "operator",
                                          _json(_obj(["results"], results=_list(_ref("ActionResult")))), 400, 503,
                                          body="IdsRequest")},
    "/messages": {"get": _op("Find messages by message id, correlation id, civil or passport number or worker name",
                             "viewer", _json(_obj(["term", "normalized", "searched", "messages"], term=S,
                                                  normalized=S, searched=_list(S),
                                                  messages=_list(_ref("Message")))), 400,
                             params=[_query("q", "The term: an id, a number, or words of a name in Arabic or "
                                                 "English (diacritics, alef forms and case do not count; each "
                                                 "word matches the start of a name word)."), LIMIT])},
    "/messages/{message_id}": {"get": {**_op("One message's trail", "viewer", _json(_ref("Message")), 404),
                                       "parameters": [{"name": "message_id", "in": "path", "required": True,
                                                       "schema": S}]}},
    "/audit/verify": {"post": _op("Verify the audit hash chain", "operator", _json(_ref("ChainReport")), 503)},
    "/actions": {"get": _op("The console's action log and the actions chained in the message log, newest first",
                            "admin", _json(_obj(["actions", "chained"], actions=_list(_ref("Action")),
                                                chained=_list(_ref("ChainedAction")))), 400, params=[LIMIT])},
    "/alarms": {"get": _op("What is wrong now, worst first, each with the page that shows it", "viewer",
                           _json(_obj(["alarms"], alarms=_list(_ref("Alarm")))), 503)},
    "/history": {"get": _op("Rates and depths per queue or agency over the last hour or day", "viewer",
                            _json(_ref("History")), 400, params=[
                                _query("kind", "queue (default) or agency", {"enum": ["queue", "agency"]}),
                                _query("span", "hour (one-minute points, default) or day (15-minute points)",
                                       {"enum": ["hour", "day"]})])},
    "/numbers": {"get": _op("Latency p50/p99 per agency and operation against its target; refusals by reason",
                            "viewer", _json(_ref("Numbers")), 503)},
    "/controls": {"get": _op("Paused destinations and the newest commands, with when a worker applied them",
                             "viewer", _json(_ref("Controls")), 400, 503, params=[LIMIT])},
    "/controls/pause": {"post": _op("Stop the hub's workers consuming a destination's queue; messages stay queued "
                                    "(audited; takes effect within a few seconds)", "operator",
                                    _json(_ref("Command")), 400, 503, body="ControlRequest")},
    "/controls/resume": {"post": _op("Let a paused destination's workers consume again (audited)", "operator",
                                     _json(_ref("Command")), 400, 503, body="ControlRequest")},
    "/controls/reset-circuit": {"post": _op("Close an agency's open circuit breakers in every worker process "
                                            "(audited; applied within a few seconds)", "operator",
                                            _json(_ref("Command")), 400, 503, body="ControlRequest")},
    "/openapi.json": {"get": _op("This document", "viewer", _json({"type": "object"}))},
    "/ledger/{civil_number}": {"get": {
        **_op("A worker's disclosure report: who received data about them, when, on which legal basis; signed by "
              "the hub (JWS). The look-up itself is recorded in the message log under the caller's name.",
              "ledger", _json(_ref("SignedLedgerReport")), 400, 503,
              params=[{"name": "civil_number", "in": "path", "required": True, "schema": {"pattern": "^[0-9]{8,9}$",
                                                                                         "type": "string"}},
                      _query("from", "Only messages received at or after (ISO-8601, UTC without a zone)."),
                      _query("until", "Only messages received before (ISO-8601)."),
                      _query("after", "The previous page's page.next_after (a chain record number).",
                             {"type": "integer", "minimum": 0}),
                      {**LIMIT, "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}]),
        "description": "Needs role **ledger** (a citizen portal's token, which may call nothing else), "
                       "**operator** or **admin**; not viewer."}},
}


@lru_cache(maxsize=1)
def openapi_document() -> dict:
    """The OpenAPI 3.1 document for ``/api/v1``."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Rabt operator console API", "version": "1",
                 "description": "Queues, dead letters, message trails and the audit chain of the Rabt hub. "
                                "State-changing calls with a session cookie need the X-CSRF-Token header; "
                                "with basic auth they must be JSON; bearer tokens are exempt."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}, {"basicAuth": []}, {"cookieAuth": []}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "basicAuth": {"type": "http", "scheme": "basic"},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
    }
