"""Hypothesis profiles for the fuzz tests, and the hub they run against.

``ci`` (the default) runs a bounded, derandomized number of examples, so CI
is fast and reproducible; ``deep`` (``RABT_FUZZ_PROFILE=deep``) searches
randomly with thousands of examples per test. Cases a deep run found are kept
in the tests as ``@example``s, so CI replays them on every run.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from hub.bootstrap import bootstrap
from hub.config import Settings, XmlLimits
from hub.refusals import RefusalBudget
from hub.transports.testing import isolated_routes

_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("ci", max_examples=150, deadline=None, derandomize=True, database=None,
                          suppress_health_check=_SLOW_IS_FINE, print_blob=True)
settings.register_profile("deep", max_examples=int(os.environ.get("RABT_FUZZ_EXAMPLES", "3000")), deadline=None,
                          database=None, suppress_health_check=_SLOW_IS_FINE, print_blob=True)
settings.load_profile(os.environ.get("RABT_FUZZ_PROFILE", "ci"))

#: the gateway's size limit here: small enough that "huge" values cross it
MAX_BYTES = 256 * 1024


@pytest.fixture(scope="module")
def hub(tmp_path_factory, trust_store):
    """A real hub (SQLite log and broker) in a temporary home, with the dev PKI's trust store."""
    home = tmp_path_factory.mktemp("fuzz-hub")
    routes = isolated_routes()
    settings_ = Settings(home=home, broker_url=f"sqlite:///{home / 'broker.sqlite3'}",
                         xml_limits=XmlLimits(max_bytes=MAX_BYTES))
    # Every refusal a record: the budget that turns a flood into summaries has tests of its own,
    # and here each example checks that its one refusal was recorded.
    hub = bootstrap(settings_, trust_store=trust_store, routes=routes, refusal_budget=RefusalBudget(burst=10**6))
    with hub.open_transport() as admin:
        admin.declare(routes)
    yield hub
    hub.close()
