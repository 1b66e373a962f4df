"""``rabt queues`` and ``rabt dlq`` against the embedded broker, end to end."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.cli.queues import _replay_each
from hub.errors import BrokerUnavailableError, RabtError
from hub.routing import load_routes
from hub.transports import Message, open_transport


def _setup(tmp_path):
    url = f"sqlite:///{tmp_path / 'broker.sqlite3'}"
    routes = load_routes()
    with open_transport(url, routes=routes) as transport:
        transport.declare(routes)
        transport.publish([Message(b"<a/>", "licensing.T.police", f"m{i}") for i in range(3)])
        transport.consume("licensing", lambda d: (_ for _ in ()).throw(ValueError(f"bad {d.message.message_id}")),
                          max_messages=2)
    return url


def _rabt(url, *args):
    # the broker file's folder is the hub's home: the kept dead letters live in its message log
    home = url.removeprefix("sqlite:///").rsplit("/", 1)[0]
    return CliRunner().invoke(main, [*args, "--broker-url", url], env={"RABT_HOME": home})


def test_queues_and_dead_letters_from_the_command_line(tmp_path):
    url = _setup(tmp_path)
    table = _rabt(url, "queues")
    assert table.exit_code == 0, table.output
    line = next(row for row in table.output.splitlines() if row.startswith("licensing "))
    assert line.split()[1:] == ["1", "0", "0", "2"]  # ready, unacked, consumers, dead
    stats = json.loads(_rabt(url, "queues", "--json").output)
    assert {s["name"]: s["dead_letters"] for s in stats}["licensing"] == 2

    listed = json.loads(_rabt(url, "dlq", "list", "--json").output)
    assert [(d["message_id"], d["code"], d["attempts"]) for d in listed] == [
        ("m0", "ValueError", 1), ("m1", "ValueError", 1)]
    assert listed[0]["reason"] == "bad m0"

    one = _rabt(url, "dlq", "replay", listed[0]["id"])
    assert one.exit_code == 0 and "replayed 1" in one.output
    again = _rabt(url, "dlq", "replay", listed[0]["id"])
    assert again.exit_code == 1 and "no such dead letter" in again.output
    everything = _rabt(url, "dlq", "replay", "--all")
    assert "replayed 1" in everything.output
    with open_transport(url) as transport:
        assert transport.dead_letters() == []
        assert {s.name: s.ready for s in transport.queue_stats()}["licensing"] == 3


def test_replay_needs_an_id_or_all(tmp_path):
    url = _setup(tmp_path)
    assert _rabt(url, "dlq", "replay").exit_code == 2
    assert _rabt(url, "dlq", "discard", "nope").exit_code == 1


def test_replay_all_shows_progress_and_counts_letters_gone_meanwhile(tmp_path):
    url = _setup(tmp_path)
    result = CliRunner().invoke(main, ["dlq", "replay", "--all", "--progress", "--broker-url", url],
                                env={"RABT_HOME": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert "2 of 2 dead letters done" in result.stderr and "replayed 2 dead letter(s)" in result.stdout

    url = _setup(tmp_path / "again")
    with open_transport(url) as transport:
        ids = [d.id for d in transport.dead_letters()]
        transport.discard(ids[0])  # another operator, between the snapshot and the replay
        assert _replay_each(transport.replay, ids, show=False) == (1, 1)
        assert transport.dead_letters() == []


class BrokerDiesAfter:
    """The real transport, whose broker goes away after ``calls`` replays."""

    def __init__(self, transport, calls: int) -> None:
        self.transport, self.calls = transport, calls

    def replay(self, letter_id: str) -> None:
        if self.calls == 0:
            raise BrokerUnavailableError("connection refused")
        self.calls -= 1
        self.transport.replay(letter_id)


def test_replay_all_stopped_by_the_broker_says_how_far_it_got(tmp_path):
    url = _setup(tmp_path)
    with open_transport(url) as transport:
        ids = [d.id for d in transport.dead_letters()]
        with pytest.raises(RabtError, match=r"replayed 1 of 2 dead letter\(s\), then stopped: connection refused"):
            _replay_each(BrokerDiesAfter(transport, 1).replay, ids, show=False)
        assert [d.id for d in transport.dead_letters()] == ids[1:]  # the one replayed is back on its queue


def test_dlq_actions_are_chained_under_the_operating_account_and_purge_asks(tmp_path):
    url = _setup(tmp_path)
    listed = json.loads(_rabt(url, "dlq", "list", "--json").output)
    assert _rabt(url, "dlq", "discard", listed[0]["id"], "--reason", "sent twice").exit_code == 0
    refused = CliRunner().invoke(main, ["dlq", "purge", "licensing", "--broker-url", url],
                                 env={"RABT_HOME": str(tmp_path)}, input="no\n")
    assert refused.exit_code == 1 and "confirm by typing" in refused.output
    purged = CliRunner().invoke(main, ["dlq", "purge", "licensing", "--broker-url", url],
                                env={"RABT_HOME": str(tmp_path)}, input="licensing\n")
    assert purged.exit_code == 0 and "purged 1 dead letter(s) of licensing" in purged.output
    from hub.messagelog import open_message_log

    with open_message_log(f"sqlite:///{tmp_path / 'messages.sqlite3'}", create=False) as log:
        [discarded] = log.events("m0")[1:]
        assert discarded.status == "discarded" and discarded.actor.startswith("cli:") and "sent twice" in discarded.detail
        assert [a.status for a in log.actions(5)][:2] == ["purged", "discarded"]
