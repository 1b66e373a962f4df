"""Fault rules: what a simulator can be told to do wrong, and when.

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

This module is the rules as data: :class:`FaultRule` with its validation,
:func:`rules_from` for the JSON of the admin endpoint and the app config, and
the hostile documents a rule's ``payload`` names. Applying rules to requests
is :mod:`simulators.faults`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from hub.errors import InputError

MODES = ("latency", "soap-fault", "http-error", "malformed", "hostile", "timeout", "down", "huge", "trickle")

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
