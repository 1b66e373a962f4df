"""Every library exception the outbound client catches is translated to a hub error, at that one boundary."""

from __future__ import annotations

import inspect

import pybreaker
import pytest
import requests
import zeep.exceptions
from lxml import etree

from hub.errors import (
    AgencyError,
    AgencyUnavailableError,
    CircuitOpenError,
    ConfigError,
    ParseError,
    RabtError,
    SchemaError,
    SignatureError,
)
from hub.outbound.client import (
    REQUESTS_ERRORS,
    ZEEP_ERRORS,
    AgencySoapFault,
    translate_fault,
    translate_requests_error,
    translate_zeep_error,
)
from hub.outbound.config import OutboundSettings
from hub.outbound.resilience import Breakers, call_guarded

ALL_REQUESTS_ERRORS = [cls for _, cls in inspect.getmembers(requests.exceptions, inspect.isclass)
                       if issubclass(cls, requests.exceptions.RequestException)]
ALL_ZEEP_ERRORS = [cls for _, cls in inspect.getmembers(zeep.exceptions, inspect.isclass)
                   if issubclass(cls, zeep.exceptions.Error)]
#: the zeep exceptions whose constructor takes more than a message
ZEEP_ARGUMENTS = {zeep.exceptions.DTDForbidden: ("boom", "sys", "pub"),
                  zeep.exceptions.EntitiesForbidden: ("boom", "x")}


def zeep_error(cls):
    return cls(*ZEEP_ARGUMENTS.get(cls, ("boom",)))


@pytest.mark.parametrize("library_error, hub_error, meaning", REQUESTS_ERRORS,
                         ids=[cls.__name__ for cls, _, _ in REQUESTS_ERRORS])
def test_each_listed_requests_error_maps_to_its_hub_error(library_error, hub_error, meaning):
    error = translate_requests_error(library_error("boom"), agency="police", where="police/civil-registry")
    assert type(error) is hub_error
    assert meaning in error.reason and "boom" in error.reason and error.agency == "police"


@pytest.mark.parametrize("library_error", ALL_REQUESTS_ERRORS, ids=lambda cls: cls.__name__)
def test_every_requests_exception_is_mapped(library_error):
    args = ("x", "doc", 0) if library_error is requests.exceptions.JSONDecodeError else ("x",)
    error = translate_requests_error(library_error(*args), agency="commerce", where="commerce/chamber")
    assert isinstance(error, RabtError)


def test_transient_and_permanent_http_failures_are_told_apart():
    def mapped(exc):
        return translate_requests_error(exc, agency="a", where="w")

    assert mapped(requests.exceptions.ConnectTimeout()).recoverable  # a Timeout and a ConnectionError
    assert mapped(requests.exceptions.ReadTimeout()).recoverable
    assert mapped(requests.exceptions.ConnectionError("refused")).recoverable
    assert mapped(requests.exceptions.ChunkedEncodingError()).recoverable
    assert isinstance(mapped(requests.exceptions.MissingSchema()), ConfigError)
    assert type(mapped(requests.exceptions.TooManyRedirects())) is AgencyError
    assert not mapped(requests.exceptions.TooManyRedirects()).recoverable


def test_something_else_is_not_silently_mapped():
    with pytest.raises(TypeError):
        translate_requests_error(ValueError("not from requests"), agency="a", where="w")


def test_zeep_fault_maps_to_agency_soap_fault_with_its_detail():
    detail = etree.fromstring("<detail><e:ServiceError xmlns:e='urn:x'><e:ErrorCode>CS-1404</e:ErrorCode>"
                              "</e:ServiceError></detail>")
    fault = zeep.exceptions.Fault("civil number unknown", code="soap:Client.UnknownCivilNumber", detail=detail)
    error = translate_fault(fault, agency="police", system="civil-registry", raw=b"<raw/>")
    assert isinstance(error, AgencySoapFault) and not error.recoverable
    assert error.fault_code == "soap:Client.UnknownCivilNumber" and error.client_side
    assert error.fault_text == "civil number unknown" and error.raw == b"<raw/>"
    assert error.detail is detail and error.system == "civil-registry"
    server = translate_fault(zeep.exceptions.Fault("", code="soap:Server"), agency="police", system="s")
    assert not server.client_side and server.fault_text == "no faultstring"


def test_open_circuit_maps_to_circuit_open_error():
    settings = OutboundSettings(attempts=1, breaker_failures=1, breaker_reset=60)
    breaker = Breakers().get("police", "civil-registry", settings)

    def down():
        raise AgencyUnavailableError("down", agency="police")

    with pytest.raises(AgencyUnavailableError):
        call_guarded(down, breaker, settings, agency="police")
    with pytest.raises(CircuitOpenError) as caught:
        call_guarded(down, breaker, settings, agency="police")
    assert isinstance(caught.value.__cause__, pybreaker.CircuitBreakerError)
    assert caught.value.recoverable and "police/civil-registry" in caught.value.reason


@pytest.mark.parametrize("library_error, hub_error, meaning", ZEEP_ERRORS,
                         ids=[cls.__name__ for cls, _, _ in ZEEP_ERRORS])
def test_each_listed_zeep_error_maps_to_its_hub_error(library_error, hub_error, meaning):
    error = translate_zeep_error(zeep_error(library_error), agency="police", where="police/civil-registry")
    assert type(error) is hub_error
    assert meaning in error.reason and "boom" in error.reason and error.agency == "police"


@pytest.mark.parametrize("library_error", ALL_ZEEP_ERRORS, ids=lambda cls: cls.__name__)
def test_every_zeep_exception_is_mapped_by_its_own_row(library_error):
    # each zeep exception has a row of its own, so a new one in zeep fails here instead of
    # silently falling to the catch-all "the SOAP call failed"
    assert library_error in [cls for cls, _, _ in ZEEP_ERRORS]
    assert isinstance(translate_zeep_error(zeep_error(library_error), agency="a", where="w"), RabtError)


def test_zeep_errors_on_hostile_or_off_contract_answers_are_input_refusals():
    def mapped(exc):
        return translate_zeep_error(exc, agency="a", where="w")

    assert isinstance(mapped(zeep.exceptions.DTDForbidden("n", "s", "p")), ParseError)
    assert isinstance(mapped(zeep.exceptions.ValidationError("missing")), SchemaError)
    assert isinstance(mapped(zeep.exceptions.SignatureVerificationFailed()), SignatureError)
    assert not mapped(zeep.exceptions.SignatureVerificationFailed()).recoverable
    with pytest.raises(TypeError):
        translate_zeep_error(ValueError("not from zeep"), agency="a", where="w")
