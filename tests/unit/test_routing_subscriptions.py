"""Publish/subscribe kept as data: ``[subscriptions]`` in routes.toml, checked when read."""

from __future__ import annotations

import pytest

from hub.errors import ConfigError
from hub.routing import load_routes

BASE = 'destinations = ["licensing", "police", "insurance"]\n'


def routes_from(tmp_path, text: str):
    path = tmp_path / "routes.toml"
    path.write_text(BASE + text, encoding="utf-8")
    return load_routes(path)


def test_subscribers_are_listed_in_order_and_survive_a_prefix(tmp_path):
    routes = routes_from(tmp_path, '[subscriptions]\nWorkerDataCorrected = ["insurance", "police"]\n')
    assert routes.subscribers("WorkerDataCorrected") == ("insurance", "police")
    assert routes.with_prefix("t.").subscribers("WorkerDataCorrected") == ("insurance", "police")
    assert routes.subscribers("WorkerArrival") == ()
    assert routes_from(tmp_path, "").subscribers("WorkerDataCorrected") == ()


@pytest.mark.parametrize("table, words", [
    ('WorkerDataCorrected = ["courts"]', "not one: ['courts']"),
    ('WorkerDataCorrected = ["police", "police"]', "distinct"),
    ('WorkerDataCorrected = "police"', "list destinations"),
    ('"Bad.Type" = ["police"]', "list destinations"),
])
def test_a_subscription_to_no_known_destination_is_refused_by_name(tmp_path, table, words):
    with pytest.raises(ConfigError) as refused:
        routes_from(tmp_path, f"[subscriptions]\n{table}\n")
    assert words in refused.value.reason and "routes file" in refused.value.reason
