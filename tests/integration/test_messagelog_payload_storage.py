"""On PostgreSQL a push's payloads stay compressed in their row; a value too big for a page still goes to TOAST.

Revision 0013 stores ``payloads.raw`` and ``payloads.envelope`` MAIN: before,
each push's row, over the server's 2 KB threshold after compression, had its
envelope moved to the TOAST table (a row and an index entry more per push,
an index look-up per read by the relay). Checked on the real server.
"""

from __future__ import annotations

import base64
import dataclasses
import os

import psycopg
import pytest

from hub.messagelog import open_message_log
from tests.integration.test_messagelog_statement_shapes import pair

pytestmark = pytest.mark.postgres

#: a signed envelope's size in a push (the agency's request about as much again)
ENVELOPE = 2700


def xml_of(size: int) -> bytes:
    """An XML document of about ``size`` bytes, compressible about as a signed envelope is (to two thirds)."""
    element = "<Worker><Name>Rajesh Kumar</Name><Digest>{}</Digest></Worker>"
    count = size // len(element.format(base64.b64encode(bytes(24)).decode()))
    return ("<Envelope>" + "".join(element.format(base64.b64encode(os.urandom(24)).decode()) for _ in range(count))
            + "</Envelope>").encode()


def test_a_pushs_payloads_stay_in_their_row_compressed_and_read_back_the_same(new_postgres_database):
    url = new_postgres_database()
    pushes = []
    for n in range(6):
        record, receipt = pair(n)
        pushes.append((dataclasses.replace(record, raw=xml_of(2500), envelope=xml_of(ENVELOPE)), receipt))
    with open_message_log(url) as log:
        log.accept_many([record for record, _ in pushes], answers={r.message_id: a for r, a in pushes})
        read = {record.message_id: log.get(record.message_id) for record, _ in pushes}
    with psycopg.connect(url) as conn:
        [(toasted,)] = conn.execute("SELECT pg_relation_size(reltoastrelid) FROM pg_class "
                                    "WHERE relname = 'payloads'").fetchall()
        methods = {row for row in conn.execute("SELECT pg_column_compression(raw), pg_column_compression(envelope) "
                                               "FROM payloads WHERE message_id LIKE 'msg-%'")}
    assert toasted == 0  # before, every push's envelope went there
    assert methods == {("lz4", "lz4")}
    assert all((read[r.message_id].raw, read[r.message_id].envelope) == (r.raw, r.envelope)
               for r, _ in pushes)


def test_a_payload_too_big_for_a_page_still_goes_to_toast_and_reads_back(new_postgres_database):
    url = new_postgres_database()
    record, receipt = pair(1)
    big = dataclasses.replace(record, envelope=b"<Envelope>" + os.urandom(20_000).hex().encode() + b"</Envelope>")
    with open_message_log(url) as log:
        log.accept(big, answer=receipt)
        stored = log.get(big.message_id)
    with psycopg.connect(url) as conn:
        [(toasted,)] = conn.execute("SELECT pg_relation_size(reltoastrelid) FROM pg_class "
                                    "WHERE relname = 'payloads'").fetchall()
    assert toasted > 0
    assert stored.envelope == big.envelope
