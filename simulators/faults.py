"""Fault injection for the agency simulators.

Real agencies are slow, fail, send garbage and go away; the hub's adapters
must cope. Every simulator carries a :class:`FaultInjector` consulted before
each SOAP call (``POST /soap/...``; WSDL and XSD downloads are never
affected, so a client can always load the contract). Rules come from the app
config (``{"faults": [...], "fault_seed": 7}``) or from the admin endpoint::

    POST   /_admin/faults   {"mode": "soap-fault", "count": 2}   add rule(s)
           (a rule object, a list, or {"rules": [...], "seed": 7})
    GET    /_admin/faults   the rules still active
    DELETE /_admin/faults   remove every rule and wake sleeping requests

A rule has a ``mode`` and when it fires: ``count`` (the next N matching
requests), else ``probability`` (0..1, drawn from a seeded generator so a run
repeats exactly when ``seed`` is given), else always. ``operation`` limits it
to one operation. Modes and their parameters:

=============  ==================================================  ==================
mode           what the client sees                                parameters
=============  ==================================================  ==================
latency        the normal answer, ``latency_ms`` later             latency_ms
soap-fault     a SOAP 1.1 Fault (HTTP 500)                          fault_code, fault_text
http-error     HTTP ``status`` with an HTML body                    status (5xx)
malformed      HTTP 200, a truncated XML document                   -
hostile        HTTP 200, a DTD with entities                        payload: billion-laughs | xxe
timeout        nothing for ``seconds``, then the normal answer      seconds
down           HTTP 503 + Retry-After, or the socket closed         how: 503 | close
huge           HTTP 200, an XML answer of ``megabytes`` MiB,         megabytes
               streamed (no Content-Length) as it is made
trickle        HTTP 200, an XML answer a byte at a time, one every  seconds
               0.2 s, for ``seconds``
=============  ==================================================  ==================

Latency rules add up and the request goes on; of the other modes the first
rule that fires decides the answer.
"""

from __future__ import annotations

import itertools
import random
import socket
import threading
import time
from dataclasses import asdict, dataclass, fields
from typing import Any

from flask import Flask, Response, jsonify, request

from hub.errors import InputError

MODES = ("latency", "soap-fault", "http-error", "malformed", "hostile", "timeout", "down", "huge", "trickle")
_HUGE_START = b'<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Value>'
_TRICKLE_EVERY = 0.2

MALFORMED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Response><Value>4'
)
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Value>&lol9;</Value></soap:Body></soap:Envelope>
"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE data [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Value>&xxe;</Value></soap:Body></soap:Envelope>
"""
HOSTILE = {"billion-laughs": BILLION_LAUGHS, "xxe": XXE}


class FaultRuleError(InputError, ValueError):
    """A fault rule given to the injector is not understood."""

    code = "fault-rule"


@dataclass
class FaultRule:
    """One way to misbehave, and when. See the module docstring for the modes."""

    mode: str
    count: int | None = None
    probability: float | None = None
    operation: str | None = None
    latency_ms: int = 200
    fault_code: str = "Server"
    fault_text: str = "injected fault: the agency back end is unavailable"
    status: int = 503
    payload: str = "billion-laughs"
    seconds: float = 30.0
    how: str = "503"
    megabytes: int = 64

    @classmethod
    def from_dict(cls, data: Any) -> FaultRule:
        """Build a rule from JSON, refusing unknown keys and impossible values."""
        if not isinstance(data, dict):
            raise FaultRuleError(f"a fault rule must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FaultRuleError(f"unknown fault rule field(s) {unknown}; known: {sorted(known)}")
        try:
            rule = cls(**data)
        except TypeError as exc:
            raise FaultRuleError(f"fault rule is incomplete: {exc}") from exc
        rule.check()
        return rule

    def check(self) -> None:
        """Raise :class:`FaultRuleError` naming the first impossible setting."""
        problems = [
            (self.mode not in MODES, f"mode must be one of {list(MODES)}, got {self.mode!r}"),
            (self.count is not None and (not isinstance(self.count, int) or self.count < 1), "count must be a positive integer"),
            (self.probability is not None and not (isinstance(self.probability, (int, float)) and 0 <= self.probability <= 1),
             "probability must be a number from 0 to 1"),
            (not isinstance(self.latency_ms, int) or self.latency_ms < 0, "latency_ms must be a non-negative integer"),
            (not isinstance(self.status, int) or not 500 <= self.status <= 599, "status must be an HTTP 5xx code"),
            (self.payload not in HOSTILE, f"payload must be one of {sorted(HOSTILE)}"),
            (not isinstance(self.seconds, (int, float)) or self.seconds < 0, "seconds must be a non-negative number"),
            (self.how not in ("503", "close"), "how must be '503' or 'close'"),
            (not isinstance(self.megabytes, int) or not 1 <= self.megabytes <= 10_240, "megabytes must be 1 to 10240"),
            (not self.fault_code or not str(self.fault_code).replace(".", "").isalnum(), "fault_code must look like Server or Client.Detail"),
        ]
        for failed, message in problems:
            if failed:
                raise FaultRuleError(message)

    def matches(self, operation: str | None) -> bool:
        return self.operation is None or self.operation == operation


class FaultInjector:
    """The active fault rules of one simulator; safe to share between request threads."""

    def __init__(self, rules: list[FaultRule] | None = None, *, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = list(rules or [])
        self._random = random.Random(seed)
        self._wake = threading.Event()
        self.streamed_bytes = 0
        """Bytes the ``huge`` and ``trickle`` answers made for their clients, all told (made as sent)."""

    def add(self, rules: list[FaultRule], *, seed: int | None = None) -> None:
        with self._lock:
            if seed is not None:
                self._random.seed(seed)
            self._rules.extend(rules)
            self._wake.clear()

    def clear(self) -> None:
        """Remove every rule and release requests sleeping in latency or timeout."""
        with self._lock:
            self._rules.clear()
            self._wake.set()

    def rules(self) -> list[dict]:
        with self._lock:
            return [asdict(rule) for rule in self._rules]

    def choose(self, operation: str | None) -> tuple[int, FaultRule | None]:
        """Which rules fire for this request: total extra latency (ms), deciding rule."""
        latency, decisive = 0, None
        with self._lock:
            for rule in list(self._rules):
                if decisive is not None and rule.mode != "latency":
                    continue
                if not rule.matches(operation) or not self._fires(rule):
                    continue
                if rule.mode == "latency":
                    latency += rule.latency_ms
                else:
                    decisive = rule
        return latency, decisive

    def _fires(self, rule: FaultRule) -> bool:
        if rule.count is not None:
            rule.count -= 1
            if rule.count == 0:
                self._rules.remove(rule)
            return True
        if rule.probability is not None:
            return self._random.random() < rule.probability
        return True

    def sleep(self, seconds: float) -> None:
        """Sleep, unless :meth:`clear` is called meanwhile."""
        self._wake.wait(seconds)

    def intervene(self, operation: str | None) -> Response | None:
        """Apply the rules to one request: a Response to send instead, or None to go on."""
        latency_ms, rule = self.choose(operation)
        if latency_ms:
            self.sleep(latency_ms / 1000)
        if rule is None:
            return None
        if rule.mode == "timeout":
            self.sleep(rule.seconds)
            return None
        if rule.mode in ("huge", "trickle"):
            return self._streamed(rule)
        return injected_response(rule)

    def _streamed(self, rule: FaultRule) -> Response:
        """An endless-looking answer, made as it is sent; it stops when the client hangs up."""
        def huge():
            block = b"x" * 65536
            for piece in itertools.chain([_HUGE_START], itertools.repeat(block, rule.megabytes * 16)):
                self.streamed_bytes += len(piece)
                yield piece

        def trickle():
            deadline = time.monotonic() + rule.seconds
            for byte in (_HUGE_START * 1000)[: int(rule.seconds / _TRICKLE_EVERY) + 1]:
                if time.monotonic() > deadline or self._wake.is_set():
                    return
                self.streamed_bytes += 1
                yield bytes([byte])
                self._wake.wait(_TRICKLE_EVERY)

        return Response(huge() if rule.mode == "huge" else trickle(), content_type="text/xml; charset=utf-8")


def injected_response(rule: FaultRule) -> Response:
    """The misbehaving answer for a decisive (non-latency, non-timeout) rule."""
    from simulators.soap import SoapFault, fault_envelope, xml_response  # soap imports this module

    if rule.mode == "soap-fault":
        return xml_response(fault_envelope(SoapFault(rule.fault_code, rule.fault_text)), 500)
    if rule.mode == "http-error":
        # The page a reverse proxy sends (its unclosed <hr> is not XML, as in real life).
        body = f"<html><head><title>{rule.status} Error</title></head><body><h1>{rule.status} Error</h1><hr>proxy</body></html>"
        return Response(body, status=rule.status, content_type="text/html")
    if rule.mode == "malformed":
        return xml_response(MALFORMED)
    if rule.mode == "hostile":
        return xml_response(HOSTILE[rule.payload])
    if rule.how == "close":
        _drop_connection()
    return Response("Service Unavailable", status=503, headers={"Retry-After": "30"}, content_type="text/plain")


def _drop_connection() -> None:
    # The dev server exposes the client socket; shutting it down makes the
    # client see a reset / closed connection instead of any HTTP answer.
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def rules_from(data: Any) -> tuple[list[FaultRule], int | None]:
    """Rules and optional seed from the admin JSON or the app config."""
    seed = None
    if isinstance(data, dict) and "rules" in data:
        seed = data.get("seed")
        if seed is not None and not isinstance(seed, int):
            raise FaultRuleError("seed must be an integer")
        data = data["rules"]
    items = data if isinstance(data, list) else [data]
    return [FaultRule.from_dict(item) for item in items], seed


def install_admin_routes(app: Flask, injector: FaultInjector) -> None:
    """``/_admin/faults``: add (POST), list (GET), clear (DELETE) fault rules."""

    @app.get("/_admin/faults")
    def list_faults():
        return jsonify(rules=injector.rules())

    @app.post("/_admin/faults")
    def add_faults():
        try:
            rules, seed = rules_from(request.get_json(force=True, silent=False))
        except FaultRuleError as exc:
            return jsonify(error=str(exc)), 400
        except Exception as exc:  # noqa: BLE001 - werkzeug's JSON errors vary by version
            return jsonify(error=f"body is not JSON: {exc}"), 400
        injector.add(rules, seed=seed)
        return jsonify(rules=injector.rules()), 201

    @app.delete("/_admin/faults")
    def clear_faults():
        injector.clear()
        return jsonify(rules=[])


def injector_from_config(config: dict) -> FaultInjector:
    """A :class:`FaultInjector` from ``config["faults"]`` and ``config["fault_seed"]``."""
    rules, seed = rules_from(config.get("faults") or [])
    return FaultInjector(rules, seed=config.get("fault_seed", seed))
