"""What every licensing decision is made of: reasons, the agencies' non-answers, the outcome.

The licence rules (:mod:`simulators.licensing.rules`), the visa rule
(:mod:`simulators.licensing.visa_rules`) and the transfer rule
(:mod:`simulators.licensing.transfer_rules`) all speak it: each lists its
reasons (machine code + words), and an agency that did not answer usefully
(:class:`NoAnswer`) or holds no record (:class:`NotFound`) is told apart from
one that answered with data.

Precedence: any refusal reason refuses; else any referral reason refers;
else it is approved.
"""

from __future__ import annotations

from dataclasses import dataclass

APPROVED, REFUSED, REFERRED = "approved", "refused", "referred"


@dataclass(frozen=True)
class Reason:
    """Why: a code (``[a-z0-9-]``, the schema's ReasonCode) and an English text."""

    code: str
    text: str


@dataclass(frozen=True)
class Outcome:
    """A decision with its reasons, in the order they were found."""

    decision: str
    reasons: tuple[Reason, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)


@dataclass(frozen=True)
class NoAnswer:
    """The agency did not answer usefully: timeout, fault, unexpected reply."""

    agency: str
    code: str
    reason: str


@dataclass(frozen=True)
class NotFound:
    """The agency answered that it holds no record for the key asked."""

    agency: str
    reason: str


class Findings:
    """Collects refusal and referral reasons; turns them into an Outcome."""

    def __init__(self) -> None:
        self.refuse: list[Reason] = []
        self.refer: list[Reason] = []

    def outcome(self) -> Outcome:
        if self.refuse:
            return Outcome(REFUSED, tuple(self.refuse + self.refer))
        if self.refer:
            return Outcome(REFERRED, tuple(self.refer))
        return Outcome(APPROVED, (Reason("all-checks-passed", "every agency confirmed the conditions"),))

