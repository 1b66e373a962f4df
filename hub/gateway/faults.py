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
    (errors.RabtError, "Server"),
)


def fault_code(error: errors.RabtError) -> str:
    return next(code for cls, code in _FAULT_CODES if isinstance(error, cls))


def soap_fault(error: errors.RabtError, detail_namespace: str | None) -> SoapFault:
    """The fault for ``error``; server-side errors do not leak internals beyond their reason."""
    detail = service_error(detail_namespace, error.code, error.reason) if detail_namespace else None
    return SoapFault(fault_code(error), error.reason, detail=detail)
