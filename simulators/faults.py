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

A rule (:mod:`simulators.fault_rules`, where the modes are listed) says what
to do wrong and when. Latency rules add up and the request goes on; of the
other modes the first rule that fires decides the answer.
"""

from __future__ import annotations

import itertools
import random
import socket
import threading
import time
from dataclasses import asdict

from flask import Flask, Response, jsonify, request

from simulators.fault_rules import (BILLION_LAUGHS, HOSTILE, MODES, XXE, FaultRule, FaultRuleError,
                                   rules_from)

__all__ = ["BILLION_LAUGHS", "HOSTILE", "MALFORMED", "MODES", "XXE", "FaultInjector", "FaultRule",
           "FaultRuleError", "injected_response", "injector_from_config", "install_admin_routes", "rules_from"]

_HUGE_START = b'<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Value>'
_TRICKLE_EVERY = 0.2

MALFORMED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Response><Value>4'
)


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
