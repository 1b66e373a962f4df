"""Hub errors as SOAP Faults a partner agency can act on.

``faultcode`` says whose problem it is and which stage refused (``Client.Schema``,
``Client.Signature`` …, ``Server.Timeout``); ``faultstring`` is the error's
one-line reason; the detail is the agency's own ``ServiceError`` when its
contract declares one.
"""

from __future__ import annotations

from hub import errors
from hub.soap import SoapFault, service_error

#: most specific class first
_FAULT_CODES: tuple[tuple[type[errors.RabtError], str], ...] = (
    (errors.ParseError, "Client.Parse"),
    (errors.SchemaError, "Client.Schema"),
    (errors.SignatureError, "Client.Signature"),
    (errors.AccessDeniedError, "Client.NotAllowed"),
    (errors.MappingError, "Client.Mapping"),
    (errors.ConflictingMessageError, "Client.Conflict"),
    (errors.InputError, "Client"),
    (errors.ReplyTimeoutError, "Server.Timeout"),
    (errors.BusyError, "Server.Busy"),
    (errors.TransportError, "Server.Unavailable"),
    (errors.MessageLogUnavailableError, "Server.Unavailable"),
    (errors.RabtError, "Server"),
)


#: what a partner reads instead of the error's own reason, which names the hub's internals (hosts, drivers)
_PUBLIC_REASONS: tuple[tuple[type[errors.RabtError], str], ...] = (
    (errors.MessageLogUnavailableError,
     "the hub cannot store messages right now and stored nothing; send the same message again later"),
)


def fault_code(error: errors.RabtError) -> str:
    return next(code for cls, code in _FAULT_CODES if isinstance(error, cls))


def public_reason(error: errors.RabtError) -> str:
    """The fault string: the error's reason, or a plain one where that would name internals."""
    return next((text for cls, text in _PUBLIC_REASONS if isinstance(error, cls)), error.reason)


def soap_fault(error: errors.RabtError, detail_namespace: str | None) -> SoapFault:
    """The fault for ``error``; server-side errors do not leak internals beyond their reason."""
    reason = public_reason(error)
    detail = service_error(detail_namespace, error.code, reason) if detail_namespace else None
    return SoapFault(fault_code(error), reason, detail=detail)
