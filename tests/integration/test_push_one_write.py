"""A pushed message and the gateway's signed receipt for it cost one write of the message log.

The police push border notifications to the gateway app (Flask's test
client: the real app, pipeline, signing and log, no HTTP server); every
statement and every commit the log runs for each push is counted, on SQLite
and on the real PostgreSQL: the statements as the driver sends them
(:mod:`tests.integration.sent_statements`), Core's and the write path's
alike, the commits through an SQLAlchemy event listener. The counts are what
this asserts, not times: a change that adds a statement or a commit to every
push fails here.
"""

from __future__ import annotations

import copy
import shutil

import pytest
import sqlalchemy as sa
from lxml import etree

from hub.bootstrap import bootstrap, gateway_app
from hub.config import Settings
from hub.signing import Verifier
from hub.xmlsafe import parse_xml
from simulators.police.client import PoliceMessages, police_signer, soap_envelope
from simulators.population import Population, PopulationSpec
from tests.integration.sent_statements import SentStatements

#: statements of the one write that stores a push and its receipt (lane with the record numbers, duplicate check,
#: chain, lane head, message rows, payloads, search terms, outbox; SQLite adds its BEGIN)
MOST_STATEMENTS = 9


class Counted:
    """Statements and commits the log's engine ran since the last :meth:`reset`; :meth:`close` stops counting."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine, self._sent = engine, SentStatements(engine)
        self._statements: list[str] = []
        self.commits = 0
        sa.event.listen(engine, "commit", self._committed)

    @property
    def statements(self) -> list[str]:
        """The text of every statement the driver sent, Core's and the write path's alike."""
        self._statements.extend(sent.text for sent in self._sent.take() if sent.text is not None)
        return self._statements

    def _committed(self, _conn) -> None:
        self.commits += 1

    def reset(self) -> None:
        self.statements.clear()
        self.commits = 0

    def close(self) -> None:
        sa.event.remove(self._engine, "commit", self._committed)
        self._sent.close()


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


def test_each_push_is_one_commit_of_a_bounded_number_of_statements(gateway, pki_dir, trust_store, request):
    hub, client = gateway
    counted = Counted(hub.log.engine)
    request.addfinalizer(counted.close)
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
