"""Muscat Municipality health cards simulator (scaffolded by ``rabt adapter new municipality``).

A Flask app factory like the other agencies' (:func:`simulators.soap.create_agency_app`:
``/healthz`` and the fault-injection admin at ``/_admin/faults``). The municipality
calls the hub rather than the other way round, so it serves no SOAP service;
``GET /messages/record-query?worker=N[&field=NameEn…]`` shows the request it would
send about population worker N (unsigned), and :mod:`simulators.municipality.client`
sends it.
"""

from __future__ import annotations

from flask import Flask, abort, request
from lxml import etree

from simulators.municipality.messages import FIELD_NAMES, MunicipalityMessages
from simulators.population import Population
from simulators.soap import SoapService, create_agency_app, xml_response


def services(population: Population, state: dict) -> list[SoapService]:
    """The SOAP services the hub calls on this agency: none (the municipality only asks)."""
    return []


def create_app(config: dict | None = None) -> Flask:
    """The municipality simulator app; ``config`` as for :func:`simulators.soap.create_agency_app`."""
    app = create_agency_app("municipality", config, services)
    population: Population = app.extensions["rabt_simulator"]["population"]
    messages = MunicipalityMessages()

    @app.get("/messages/record-query")
    def record_query():
        index = request.args.get("worker", "0")
        fields = request.args.getlist("field")
        if not index.isdigit() or int(index) >= population.spec.workers or not set(fields) <= FIELD_NAMES:
            abort(404)
        element = messages.record_query(population.worker(int(index)), fields=fields,
                                        msg_id=f"MUN-HC-{int(index):06d}")
        return xml_response(etree.tostring(element, xml_declaration=True, encoding="UTF-8"))

    return app
