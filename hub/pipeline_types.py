"""What goes into :class:`hub.pipeline.Pipeline` and what it hands back, and the policies it is given.

Separate from the pipeline itself so that the channels (gateway, file drop,
outbound workers) and the pipeline's own roads (:mod:`hub.pipeline_answers`,
:mod:`hub.pipeline_reports`) can name these values without importing the
pipeline, and so that module stays about the steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from hub.transports.base import Message

#: ``may_send(agency, message_type)``: the access rights, kept as data by the caller
AccessPolicy = Callable[[str, str], bool]
#: ``legal_basis(agency, message_type)``: the basis on which the agency sends that type (None: none given)
BasisPolicy = Callable[[str, str], "str | None"]


def no_basis(agency: str, message_type: str) -> None:
    """The basis policy of a pipeline given none: no message records a legal basis."""
    return None


#: ``send(question) -> answer``: request/reply over a transport, raising TransportError when none comes
Send = Callable[[Message], Message]


@dataclass(frozen=True)
class Answer:
    """What the hub answers an agency over the exchange the agency opened: signed bytes and their type."""

    body: bytes
    answer_type: str
    """The answer element's name (a receipt, a reply), the message type it is logged under."""


#: ``respond(destination's answer body, question id) -> Answer``: the hub's signed answer to the asker
Respond = Callable[[etree._Element, str], Answer]


@dataclass(frozen=True, init=False)
class Inbound:
    """One agency document as the hub received it."""

    agency: str
    system: str
    message_type: str
    destination: str
    raw: bytes
    """The bytes exactly as they arrived (a SOAP request, a file): their SHA-256 goes in the header."""

    source_message_id: str | None = None
    correlation_id: str | None = None
    received_at: datetime | None = None
    require_signature: bool = False
    """Refuse the document unless it carries the agency's valid signature."""

    source: str | None = None
    """Where it came from (a caller's address), for the per-source budget of refusal records."""

    verified_signer: str | None = None
    """Who signed the payload, when the channel already verified it (a WS-Security Body): not verified twice."""
    raw_sha256: str | None = None
    """SHA-256 (lower-case hex) of ``raw`` when the caller has already taken it, so it is taken once."""

    def __init__(self, agency: str, system: str, message_type: str, destination: str, raw: bytes,
                 source_message_id: str | None = None, correlation_id: str | None = None,
                 received_at: datetime | None = None, require_signature: bool = False, source: str | None = None,
                 verified_signer: str | None = None, raw_sha256: str | None = None) -> None:
        # Every field set at once: a frozen dataclass's own __init__ sets each through object.__setattr__,
        # most of what building one costs (every push builds one). tests/unit/test_frozen_inits.py holds
        # this to the constructor the dataclass would make.
        self.__dict__.update(
            agency=agency, system=system, message_type=message_type, destination=destination, raw=raw,
            source_message_id=source_message_id, correlation_id=correlation_id, received_at=received_at,
            require_signature=require_signature, source=source, verified_signer=verified_signer,
            raw_sha256=raw_sha256)


@dataclass(frozen=True)
class Receipt:
    """What the hub answers: its message id, and whether this was a repeat."""

    message_id: str
    duplicate: bool = False
