"""One exception tree for the whole hub.

Every error the hub raises on purpose derives from :class:`RabtError`, with one
branch per pipeline stage, so callers (the gateway, the file-drop watcher, the
router, the CLI) decide what to do from the class alone::

    RabtError
    ├── ConfigError                 settings or PKI missing / unusable
    ├── InputError                  outside input refused (never retried)
    │   ├── ParseError              not well-formed, hostile, too big, too deep
    │   ├── MappingError            agency format could not be mapped
    │   ├── SchemaError             canonical XSD violation (line + rule)
    │   ├── SignatureError          signature missing or wrong
    │   │   ├── UnknownSignerError  signer not in the trust store
    │   │   └── CertificateError    certificate expired, not yet valid, not pinned
    │   ├── AccessDeniedError       agency may not send this message type
    │   ├── DuplicateMessageError   same agency message id seen before, same content
    │   └── ConflictingMessageError same agency message id seen before, other content
    ├── TransportError              broker / queue trouble
    │   ├── BrokerUnavailableError  cannot reach the broker (recoverable)
    │   ├── PublishError            not confirmed, or unroutable
    │   └── ReplyTimeoutError       no reply within the deadline
    ├── AgencyError                 calling an agency failed
    │   ├── AgencyFaultError        the agency answered with a SOAP Fault
    │   ├── AgencyUnavailableError  timeout, 5xx, refused (recoverable)
    │   └── CircuitOpenError        we stopped calling for a while
    └── MessageLogError             message log / audit chain
        ├── MessageLogUnavailableError  the database cannot be reached (recoverable)
        └── AuditChainError         the hash chain does not verify

Errors carry the message id and agency when known; ``reason`` is the one line
an operator or a partner agency reads. Library exceptions are translated at the
boundary only (``raise ... from exc``).
"""

from __future__ import annotations

from collections.abc import Iterable


class RabtError(Exception):
    """Base of every error the hub raises on purpose.

    ``recoverable`` tells the router whether trying again later may succeed
    (retry) or never will (dead-letter / reject at once).
    """

    recoverable = False
    #: short machine-readable code used in SOAP faults, reports and metrics
    code = "rabt"

    def __init__(
        self,
        reason: str,
        *,
        message_id: str | None = None,
        agency: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message_id = message_id
        self.agency = agency

    def __str__(self) -> str:
        context = [f"{k}={v}" for k, v in (("agency", self.agency), ("message", self.message_id)) if v]
        return f"{self.reason} [{', '.join(context)}]" if context else self.reason


class ConfigError(RabtError):
    """Settings, files or keys the hub needs are missing or unusable."""

    code = "config"


class InputError(RabtError):
    """Outside input was refused; sending it again unchanged will fail again."""

    code = "input"


class ParseError(InputError):
    """Not well-formed, hostile (DTD, entities), too large or too deep."""

    code = "parse"

    def __init__(self, reason: str, *, line: int | None = None, **kw) -> None:
        super().__init__(reason if line is None else f"line {line}: {reason}", **kw)
        self.line = line


class MappingError(InputError):
    """The agency document could not be mapped to a canonical message."""

    code = "mapping"


class SchemaError(InputError):
    """A canonical document broke its XSD; ``line`` and ``rule`` say where and how."""

    code = "schema"

    def __init__(self, reason: str, *, line: int | None = None, rule: str | None = None, **kw) -> None:
        super().__init__(reason, **kw)
        self.line = line
        self.rule = rule


class SignatureError(InputError):
    """A signature is missing, malformed, or does not match the content."""

    code = "signature"


class UnknownSignerError(SignatureError):
    """The signer is not registered in the trust store."""

    code = "unknown-signer"


class CertificateError(SignatureError):
    """The signing certificate is expired, not yet valid, or not the pinned one."""

    code = "certificate"


class AccessDeniedError(InputError):
    """The agency is not allowed to send this message type."""

    code = "not-allowed"


class DuplicateMessageError(InputError):
    """The same agency message was received before; ``first_message_id`` is the hub's id for it."""

    code = "duplicate"

    def __init__(self, reason: str, *, first_message_id: str | None = None, **kw) -> None:
        super().__init__(reason, **kw)
        self.first_message_id = first_message_id


class ConflictingMessageError(InputError):
    """The agency reused a message id for different content (other bytes or another operation).

    Not a repeat to be answered with the first receipt: that would drop the new
    content without a trace. ``first_message_id`` is the hub's id of the message
    that holds the id now (None when it is an earlier record of the same batch).
    """

    code = "conflict"

    def __init__(self, reason: str, *, first_message_id: str | None = None, **kw) -> None:
        super().__init__(reason, **kw)
        self.first_message_id = first_message_id


class TransportError(RabtError):
    """Publishing or consuming through the broker failed."""

    code = "transport"


class BrokerUnavailableError(TransportError):
    """The broker cannot be reached right now."""

    code = "broker-unavailable"
    recoverable = True


class PublishError(TransportError):
    """The broker refused, did not confirm, or could not route a message.

    ``failed_ids`` names the messages of the batch not delivered (the rest were
    confirmed); empty means nothing of the batch is known to be delivered.
    """

    code = "publish"
    recoverable = True

    def __init__(self, reason: str, *, failed_ids: Iterable[str] = (), **context) -> None:
        super().__init__(reason, **context)
        self.failed_ids = tuple(failed_ids)


class ReplyTimeoutError(TransportError):
    """No reply arrived before the deadline."""

    code = "reply-timeout"
    recoverable = True


class BusyError(RabtError):
    """Too many requests are already waiting for an answer; ask again shortly."""

    code = "busy"
    recoverable = True


class AgencyError(RabtError):
    """Calling a partner agency failed."""

    code = "agency"


class AgencyFaultError(AgencyError):
    """The agency answered with a SOAP Fault; ``fault_code`` is theirs."""

    code = "agency-fault"

    def __init__(self, reason: str, *, fault_code: str | None = None, **kw) -> None:
        super().__init__(reason, **kw)
        self.fault_code = fault_code


class AgencyUnavailableError(AgencyError):
    """Timeout, refused connection or HTTP 5xx: the agency may recover."""

    code = "agency-unavailable"
    recoverable = True


class CircuitOpenError(AgencyUnavailableError):
    """Too many recent failures: calls to this agency are paused."""

    code = "circuit-open"


class MessageLogError(RabtError):
    """The message log could not store or read a record."""

    code = "message-log"


class MessageLogUnavailableError(MessageLogError):
    """The message log's database cannot be reached right now (connection refused or lost, locked).

    Nothing was written (the transaction rolled back): trying again later may succeed.
    """

    code = "message-log-unavailable"
    recoverable = True


class AuditChainError(MessageLogError):
    """The message log's hash chain is broken at ``record_id``."""

    code = "audit-chain"

    def __init__(self, reason: str, *, record_id: int | None = None, **kw) -> None:
        super().__init__(reason, **kw)
        self.record_id = record_id
