"""An agency id reused for other content is refused loudly, also inside one group commit.

A repeat of the same bytes and message type is a duplicate (the first
receipt again); anything else under the same ``(agency, source id)`` is a
ConflictingMessageError naming the message that holds the id, and nothing of
it is stored. Runs on SQLite and on the real PostgreSQL (``log_url``).
"""

from __future__ import annotations

import pytest
from test_group_commit import held_group, log_url, opened, outcome, record  # noqa: F401 - shared fixtures

from hub.errors import ConflictingMessageError, DuplicateMessageError, InputError
from hub.gateway.faults import fault_code, soap_fault
from hub.messagelog import GroupCommitter


def test_the_same_bytes_again_are_a_duplicate(opened):
    log = opened()
    log.accept(record(1))
    with pytest.raises(DuplicateMessageError) as caught:
        log.accept(record(2, source_message_id="police-1", raw=record(1).raw))
    assert caught.value.first_message_id == "msg-1"


@pytest.mark.parametrize("changes, differs", [
    ({"raw": b"<departure final='true'/>"}, "other content"),
    ({"raw": record(1).raw, "message_type": "WorkerDeparture", "routing_key": "licensing.WorkerDeparture.police"},
     "other message type"),
])
def test_other_content_under_a_used_id_is_a_conflict_and_stores_nothing(opened, changes, differs):
    log = opened()
    log.accept(record(1))
    before = log.stats()
    with pytest.raises(ConflictingMessageError) as caught:
        log.accept(record(2, source_message_id="police-1", **changes))
    error = caught.value
    assert isinstance(error, InputError) and not isinstance(error, DuplicateMessageError)
    assert (error.code, error.first_message_id, error.agency) == ("conflict", "msg-1", "police")
    assert differs in error.reason and "msg-1" in error.reason and "'police-1'" in error.reason
    assert log.get("msg-2") is None and log.stats() == before
    log.verify_chain()


def test_a_conflict_refuses_the_whole_batch(opened):
    log = opened()
    log.accept(record(1))
    with pytest.raises(ConflictingMessageError):
        log.accept_many([record(2), record(3, source_message_id="police-1")])
    with pytest.raises(ConflictingMessageError) as within:  # two records of one batch under one id
        log.accept_many([record(4), record(5, source_message_id="police-4")])
    assert within.value.first_message_id is None and "same batch" in within.value.reason
    assert [m.message_id for m in log.find(limit=10)] == ["msg-1"]


def test_a_conflicting_pair_in_one_group_stores_the_first_and_refuses_the_second(opened):
    log = opened(hold=True)
    committer = GroupCommitter(log)
    rest = [lambda: committer.accept(record("a")),
            lambda: committer.accept(record("b", source_message_id="police-a")),  # other bytes, same agency id
            lambda: committer.accept(record("c")),
            lambda: committer.accept(record("d", source_message_id="police-a", raw=record("a").raw))]
    results = held_group(log, committer, lambda: committer.accept(record(0)), rest)
    assert results[:2] == ["msg-0", "msg-a"] and results[3] == "msg-c"
    assert isinstance(results[2], ConflictingMessageError) and results[2].first_message_id == "msg-a"
    assert isinstance(results[4], DuplicateMessageError) and results[4].first_message_id == "msg-a"
    assert log.get("msg-b") is None and log.verify_chain().records == 3


def test_a_conflict_is_its_own_client_fault():
    error = ConflictingMessageError("police message id 'X' was already used for hub message H",
                                    first_message_id="H", agency="police")
    assert fault_code(error) == "Client.Conflict"
    fault = soap_fault(error, "urn:example:border")
    assert fault.code == "Client.Conflict" and "hub message H" in fault.text
