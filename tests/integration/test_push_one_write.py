"""A pushed message and the gateway's signed receipt for it cost one write of the message log.

The police push border notifications to the gateway app (Flask's test
client: the real app, pipeline, signing and log, no HTTP server); every
statement and every commit the log runs for each push is counted, on SQLite
and on the real PostgreSQL: Core's through an SQLAlchemy event listener, the
write path's own (run on the driver's cursor, :mod:`hub.messagelog.prepared`)
by wrapping the cursor it takes. The counts are what this asserts, not
times: a change that adds a statement or a commit to every push fails here.
"""

from __future__ import annotations

import copy
import shutil

import pytest
import sqlalchemy as sa
from lxml import etree

from hub.bootstrap import bootstrap, gateway_app
from hub.config import Settings
from hub.messagelog import prepared
from hub.signing import Verifier
from hub.xmlsafe import parse_xml
from simulators.police.client import PoliceMessages, police_signer, soap_envelope
from simulators.population import Population, PopulationSpec

#: statements of the one write that stores a push and its receipt (lane, duplicate check, record
#: numbers, chain, lane head, message rows, payloads, search terms, outbox; SQLite adds its BEGIN)
MOST_STATEMENTS = 10


class CountingCursor:
    """A driver cursor that tells ``note(statement, rows)`` of each statement it is given."""

    def __init__(self, cursor, note) -> None:
        self._cursor, self._note = cursor, note

    def execute(self, statement, *params, **options):
        self._note(statement, 1)
        return self._cursor.execute(statement, *params, **options)

    def executemany(self, statement, rows):
        rows = list(rows)
        self._note(statement, len(rows))
        return self._cursor.executemany(statement, rows)

    def __getattr__(self, name):
        return getattr(self._cursor, name)


class Counted:
    """Statements and commits the log's engine ran since the last :meth:`reset`."""

    def __init__(self, engine: sa.Engine, monkeypatch) -> None:
        self.statements: list[str] = []
        self.commits = 0
        sa.event.listen(engine, "before_cursor_execute", lambda _c, _cur, statement, *_: self.statements.append(
            statement))
        sa.event.listen(engine, "commit", self._committed)
        driver_cursor = prepared.driver_cursor
        # only this engine's: a log another test left running in this process writes through the same function
        monkeypatch.setattr(prepared, "driver_cursor", lambda conn: CountingCursor(
            driver_cursor(conn), lambda statement, _rows: self.statements.append(statement))
            if conn.engine is engine else driver_cursor(conn))

    def _committed(self, _conn) -> None:
        self.commits += 1

    def reset(self) -> None:
        self.statements.clear()
        self.commits = 0


@pytest.fixture
def gateway(tmp_path, pki_dir, database_url):
    shutil.copytree(pki_dir, tmp_path / "pki")
    settings = Settings(home=tmp_path, database_url=database_url, broker_url=f"sqlite:///{tmp_path / 'broker.sqlite3'}")
    hub = bootstrap(settings)
    yield hub, gateway_app(hub).test_client()
    hub.close()


def notifications(pki_dir, count: int) -> list[bytes]:
    sign, messages = police_signer(pki_dir), PoliceMessages()
    population = Population(PopulationSpec.scaled(50, seed=19))
    return [soap_envelope(sign(messages.departure(population.worker(i)))) for i in range(count)]


def post(client, body: bytes) -> etree._Element:
    reply = client.post("/soap/police", data=body, content_type="text/xml; charset=utf-8")
    assert reply.status_code == 200, reply.data[:500]
    return parse_xml(reply.data).find("{*}Body")[0]


def test_each_push_is_one_commit_of_a_bounded_number_of_statements(gateway, pki_dir, trust_store, monkeypatch):
    hub, client = gateway
    counted = Counted(hub.log.engine, monkeypatch)
    bodies = notifications(pki_dir, 6)
    post(client, bodies[0])  # the lane is registered on the first write, in its own commit
    per_push = []
    for body in bodies[1:]:
        counted.reset()
        receipt = post(client, body)
        per_push.append((counted.commits, len(counted.statements)))
        message_id = receipt.findtext("{*}HubMessageId")
        # the message waits in the outbox; the receipt the police got is logged, as sent, beside it
        assert message_id in {m.message_id for m in hub.log.unpublished(100)}
        [logged] = hub.log.find(correlation_id=message_id, source_agency="hub")
        assert logged.status == "published"
        signed = copy.deepcopy(parse_xml(logged.envelope).find("{*}Body")[0])  # the receipt, signed enveloped
        assert Verifier(trust_store).verify(signed).signer == "hub"
        assert logged.envelope.find(b"HubMessageId>" + message_id.encode()) > 0
    assert all(commits == 1 for commits, _ in per_push), per_push
    assert all(statements <= MOST_STATEMENTS for _, statements in per_push), (per_push, counted.statements)
    # the count is not empty by accident: the message's and the receipt's rows are among them
    assert sum("INSERT INTO messages" in statement for statement in counted.statements) == 1, counted.statements
    hub.log.verify_chain()


def test_a_repeat_gets_the_first_messages_receipt_and_both_receipts_are_logged(gateway, pki_dir):
    hub, client = gateway
    [body] = notifications(pki_dir, 1)
    first, again = post(client, body), post(client, body)
    message_id = first.findtext("{*}HubMessageId")
    assert (first.findtext("{*}Duplicate"), again.findtext("{*}Duplicate")) == ("false", "true")
    assert again.findtext("{*}HubMessageId") == message_id
    assert [m.message_id for m in hub.log.unpublished(100)] == [message_id]  # queued once
    receipts = hub.log.find(correlation_id=message_id, source_agency="hub")
    assert sorted(b"<Duplicate>true" in r.envelope or b":Duplicate>true" in r.envelope for r in receipts) == [
        False, True]
    hub.log.verify_chain()
