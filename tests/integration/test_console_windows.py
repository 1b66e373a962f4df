"""The overview's counts by status and a queue's peek read a window of the newest chain records, never the whole log."""

from __future__ import annotations

import pytest
from console_support import accept_arrival, make_hub, relay

from hub.console import queries
from hub.console.operations import _IN_FLIGHT


@pytest.fixture
def hub(tmp_path, trust_store):
    """Five arrivals accepted and published to licensing, the last two then delivered."""
    hub = make_hub(tmp_path, trust_store)
    ids = [accept_arrival(hub, f"T20000{n:02d}") for n in range(5)]
    with hub.open_transport() as transport:
        transport.declare(hub.routes)
        assert relay(hub, transport) == 5
    hub.log.record_hops([(mid, "delivered", "to licensing", "test") for mid in ids[3:]])
    hub.ids = ids
    yield hub
    hub.close()


def test_a_window_over_the_whole_log_counts_what_the_full_count_does(hub):
    assert queries.by_status(hub.log.engine) == hub.log.stats().by_status == {"published": 3, "delivered": 2}


def test_a_window_counts_only_the_messages_its_records_name(hub):
    # the newest two records are the deliveries: their messages, by their status now
    assert queries.by_status(hub.log.engine, window=2) == {"delivered": 2}
    # the three records before them publish three messages, two of them delivered since
    assert queries.by_status(hub.log.engine, window=5) == {"delivered": 2, "published": 1}


def test_in_flight_lists_the_newest_unsettled_messages_to_a_destination(hub):
    rows = queries.in_flight(hub.log.engine, "licensing", _IN_FLIGHT, limit=10)
    # published together: the later accepted first; the delivered ones left out
    assert [r.message_id for r in rows] == hub.ids[2::-1]
    assert {r.status for r in rows} == {"published"}
    assert [r.message_id for r in queries.in_flight(hub.log.engine, "licensing", _IN_FLIGHT, limit=1)] == [hub.ids[2]]
    assert queries.in_flight(hub.log.engine, "police", _IN_FLIGHT, limit=10) == []


def test_in_flight_looks_no_further_back_than_its_window(hub):
    # the newest records: two deliveries, then the publishing of the fifth, fourth and third messages
    assert queries.in_flight(hub.log.engine, "licensing", _IN_FLIGHT, limit=10, window=4) == []
    rows = queries.in_flight(hub.log.engine, "licensing", _IN_FLIGHT, limit=10, window=5)
    assert [r.message_id for r in rows] == [hub.ids[2]]
