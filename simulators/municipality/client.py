"""The municipality's side of the wire: sign a request, post it to the hub gateway, read the signed answer.

The same shape as :class:`simulators.police.client.PoliceClient` (whose
envelope and answer handling it shares); the demo and the end-to-end tests
use it as the health-card office would.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import requests
from lxml import etree

from hub.errors import AgencyUnavailableError
from simulators.municipality.messages import MunicipalityMessages
from simulators.police.client import SignFunction, police_signer, read_answer, soap_envelope
from simulators.population import Worker

GATEWAY_NS = "urn:agency:municipality:hub:1:gateway"


def municipality_signer(pki_dir: Path) -> SignFunction:
    """The municipality's signing function from a development PKI (``rabt pki init``)."""
    return police_signer(pki_dir, party="municipality")


class MunicipalityClient:
    """Signs municipality requests and posts them to the hub gateway (``.../soap/municipality``)."""

    def __init__(self, gateway_url: str, sign: SignFunction, *, timeout: float = 15.0) -> None:
        self.gateway_url = gateway_url
        self.sign = sign
        self.timeout = timeout
        self.session = requests.Session()
        self.messages = MunicipalityMessages()

    def worker_record(self, worker: Worker | str, fields: Iterable[str] = ()) -> etree._Element:
        """The hub's ``WorkerRecordResponse``; an AgencyFaultError when the hub answers with a fault."""
        request = self.messages.record_query(worker, fields=fields)
        try:
            reply = self.session.post(self.gateway_url, data=soap_envelope(self.sign(request)), timeout=self.timeout,
                                      headers={"Content-Type": "text/xml; charset=utf-8",
                                               "SOAPAction": f'"{GATEWAY_NS}#GetWorkerRecord"'})
        except requests.RequestException as exc:
            raise AgencyUnavailableError(f"GetWorkerRecord: gateway unreachable: {exc}", agency="hub") from exc
        return read_answer("GetWorkerRecord", reply)

    def close(self) -> None:
        self.session.close()
