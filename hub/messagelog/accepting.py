"""Storing accepted messages: duplicate check, chain records, message and outbox rows.

Runs inside a write transaction that holds this process's lane, so the
duplicate check and the inserts are atomic with respect to the process's
other writers; other processes write their own lanes without waiting, so
between them the unique key on (source_agency, source_message_id) decides,
and :meth:`MessageLog.accept_many` stores the loser again to answer it as a
duplicate.

An agency id seen before is a *duplicate* only when the content is the same
(same raw SHA-256, same message type): a retry, answered with the first
receipt. The same id for other content is a *conflict*, refused loudly
(ConflictingMessageError): answering it as a duplicate would drop the new
content without a trace.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from sqlalchemy.engine import Connection

from hub.errors import ConflictingMessageError, DuplicateMessageError, MessageLogError
from hub.messagelog import chain, pipelines, prepared, search
from hub.messagelog.chain import HEADER_FIELDS, LEGAL_BASIS, ChainEntry, fields_detail
from hub.messagelog.records import Accepted, sha256_hex
from hub.messagelog.schema import messages, outbox, payloads, timestamp
from hub.messagelog.statuses import Hop, hop_entries, set_statuses

_m = messages
# One agency at a time: SQLite answers ``(agency, id) IN (VALUES …)`` by scanning the whole
# table (a 2.8 GB scan per batch after a month of wage files); ``agency = ? AND id IN (…)``
# searches the unique index on (source_agency, source_message_id), here and on PostgreSQL.
# The statements run on the driver's cursor (see hub.messagelog.prepared): every accepted message runs them.
_BY_SOURCE = (f"SELECT source_message_id, message_id, raw_sha256, message_type FROM {_m.name} "
              "WHERE source_agency = ? AND {ids}")
# PostgreSQL: one look-up of the unique key per agency id, in one statement whatever their number (so it is
# prepared). ``source_agency = ? AND source_message_id = ANY(?)``, prepared while the table was small (a new
# log), kept a plan scanning the index on the agency alone, filtering the ids: every push read its agency's
# whole history. A LATERAL sub-select with a LIMIT is not flattened: each id is an index look-up in any plan.
_BY_SOURCE_EACH = (f"SELECT m.source_message_id, m.message_id, m.raw_sha256, m.message_type "
                   "FROM unnest(?::text[]) AS wanted(id) CROSS JOIN LATERAL ("
                   f"SELECT source_message_id, message_id, raw_sha256, message_type FROM {_m.name} "
                   "WHERE source_agency = ? AND source_message_id = wanted.id LIMIT 1) AS m")
_BY_SOURCE_ONE = _BY_SOURCE.format(ids="source_message_id = ?")
_TAKEN = f"SELECT message_id FROM {_m.name} WHERE {{ids}} LIMIT 1"
#: a message's header row, in the order _message_values() builds it
_MESSAGE_COLUMNS = (
    "message_id", "correlation_id", "message_type", "source_agency", "source_system", "source_message_id",
    "destination", "routing_key", "raw_sha256", "envelope_sha256", "status", "created_at", "received_at",
    "published_at", "updated_at", "chain_seq",
)
_INSERT_MESSAGES = prepared.insert_sql(_m, _MESSAGE_COLUMNS)
# a row of _message_values() in column order, but chain_seq, which is known once the record is chained
_header_values = itemgetter(*_MESSAGE_COLUMNS[:-1])
_INSERT_PAYLOADS = prepared.insert_sql(payloads, ("message_id", "raw", "envelope"))
_INSERT_OUTBOX = prepared.insert_sql(outbox, ("message_id", "enqueued_at"))


@dataclass(frozen=True)
class BatchResult:
    """What :meth:`MessageLog.accept_many` stored and what it refused as duplicates."""

    stored: list[str] = field(default_factory=list)
    """Hub message ids stored, in input order."""

    duplicates: list[DuplicateMessageError] = field(default_factory=list)
    """One error per duplicate (``first_message_id`` names the earlier message), in input order."""


def store(conn: Connection, records: Sequence[Accepted], enqueue: bool = True,
          terms: Mapping[str, list[str]] | None = None, *, sent: bool = False,
          answers: Mapping[str, Accepted] | None = None, check_taken: bool = True,
          ends: bool = False, hops: Sequence[Hop] = ()) -> BatchResult:
    """Store every non-duplicate record with status ``received`` (and an outbox row if ``enqueue``).

    With ``sent`` the records already went out over the same exchange (a
    request/reply question, its answer, the gateway's reply): each is stored
    with status ``published`` and both history records — accepted, then
    published — in this one transaction, never in the outbox.

    ``answers`` (record's message id → the hub's signed answer about it, a
    receipt) are stored as sent in the same transaction, each only if its
    record is stored: a duplicate's answer, written for a new message, is not.

    ``terms`` (message id → search terms, :func:`hub.messagelog.search.terms_for`)
    are indexed with the records stored; the caller extracts them before taking
    the write lock, so parsing envelopes never holds up other writers.

    Raises ConflictingMessageError, storing nothing, when a record reuses an
    agency id for other content (stored before, or earlier in ``records``).
    Without ``check_taken`` a hub message id stored before is not looked for
    first: the primary key refuses it (IntegrityError) and the caller stores again with the check.
    With ``ends`` the transaction ends with this store: on PostgreSQL its COMMIT goes with the writes
    (:func:`hub.messagelog.pipelines.pipelined`), so nothing may run in it after.

    ``hops`` (a stored report's: message id, status, detail, actor) are chained after the records and set
    their messages' statuses in the same writes, only if a record is stored: a duplicate report adds none.
    """
    answers = answers or {}
    for record in (*records, *answers.values()):
        record.validate()
    with pipelines.pipelined(conn, commit=ends):  # on PostgreSQL the writes after the last read: one round trip
        return _store(conn, records, enqueue, terms, sent, answers, check_taken, hops)


def _store(conn: Connection, records: Sequence[Accepted], enqueue: bool, terms: Mapping[str, list[str]] | None,
           sent: bool, answers: Mapping[str, Accepted], check_taken: bool, hops: Sequence[Hop]) -> BatchResult:
    # The reads are sent before the first is read: on PostgreSQL they share one round trip, the lane's lock
    # first. The record numbers go with them, as many as the records would take if none were a duplicate:
    # a duplicate leaves its numbers unused (a gap, as a rolled-back write leaves) rather than every write
    # waiting a round trip of its own for them once the duplicates are known.
    head, numbers = chain.lock_and_numbers_later(conn, _most_entries(records, sent, answers) + len(hops))
    taken = _taken_ids_later(conn, [*records, *answers.values()], check_taken)
    stored_before = _stored_before_later(conn, records)
    head()
    taken()
    fresh, duplicates = _split_duplicates(records, stored_before())
    if not fresh:
        numbers()  # read all the same: its cursor is given back once read
        return BatchResult([], duplicates)
    now = timestamp()
    answered = [answers[record.message_id] for record in fresh if record.message_id in answers]
    rows = [_message_values(record, now, sent) for record in fresh]
    answer_rows = [_message_values(record, now, True) for record in answered]
    with prepared.together(conn):  # on PostgreSQL one statement: no write here needs to see another's rows
        seqs = _append_history(conn, [(record, row, sent) for record, row in zip(fresh, rows)]
                               + [(record, row, True) for record, row in zip(answered, answer_rows)], now, numbers,
                               hops)
        prepared.execute_many(conn, _INSERT_MESSAGES, [(*_header_values(row), seq)
                                                       for row, seq in zip(rows + answer_rows, seqs)])
        prepared.execute_many(conn, _INSERT_PAYLOADS, [_payload_row(record) for record in (*fresh, *answered)])
        search.index_messages(conn, fresh, terms or {})  # so the console finds a message by a name or number
        if enqueue and not sent:
            prepared.execute_many(conn, _INSERT_OUTBOX, [(row["message_id"], now) for row in rows])
    # after the one statement, not in it: its list of ids (not prepared, see prepared.among) would have the server
    # parse and plan the whole statement every time; sent in the same round trip all the same
    set_statuses(conn, hops, now)
    return BatchResult([row["message_id"] for row in rows + answer_rows], duplicates)


def _taken_ids_later(conn: Connection, records: Sequence[Accepted], look_up: bool = True) -> Callable[[], None]:
    """A function raising MessageLogError if a record's hub id is stored (the look-up sent now) or repeated."""
    ids = [record.message_id for record in records]
    if look_up:
        among, params = prepared.among(conn, "message_id", ids)
        found = prepared.send(conn, _TAKEN.format(ids=among), params)
    else:
        found = lambda: []  # noqa: E731 - nothing to look up: no hub id is taken

    def refuse() -> None:
        rows = found()
        taken = rows[0][0] if rows else None
        if taken is None and len(set(ids)) < len(ids):
            taken = next(mid for mid in ids if ids.count(mid) > 1)
        if taken is not None:
            raise MessageLogError("a message with this id is already stored", message_id=taken)

    return refuse


def _stored_before_later(conn: Connection, records: Sequence[Accepted]) -> Callable[[], dict]:
    """The messages stored before holding the agency ids of ``records``, by (agency, id): sent now, read later."""
    wanted: dict[str, set[str]] = {}
    for record in records:
        if record.source_message_id is not None:
            wanted.setdefault(record.source_agency, set()).add(record.source_message_id)
    found = []
    for agency, ids in wanted.items():
        if conn.dialect.name == "sqlite":
            among, params = prepared.among(conn, "source_message_id", sorted(ids))
            found.append((agency, prepared.send(conn, _BY_SOURCE.format(ids=among), (agency, *params))))
        elif len(ids) == 1:  # a push: the plain look-up, whose kept plan costs no more than one made for it
            found.append((agency, prepared.send(conn, _BY_SOURCE_ONE, (agency, *ids))))
        else:
            found.append((agency, prepared.send(conn, _BY_SOURCE_EACH, (sorted(ids), agency))))
    return lambda: {(agency, source_id): _Holder(message_id, raw_sha256, message_type, True)
                    for agency, rows in found
                    for source_id, message_id, raw_sha256, message_type in rows()}


def _split_duplicates(records: Sequence[Accepted], seen: dict):
    fresh, duplicates = [], []
    for record in records:
        key = (record.source_agency, record.source_message_id)
        holder = seen.get(key) if record.source_message_id is not None else None
        if holder is None:
            fresh.append(record)
            if record.source_message_id is not None:
                # a repeat later in the same batch is a duplicate (or a conflict) too
                seen[key] = _Holder(record.message_id, None, record.message_type, False, record)
            continue
        holder.check(record)
        duplicates.append(DuplicateMessageError(
            f"{record.source_agency} message {record.source_message_id!r} was already received as {holder.message_id}",
            first_message_id=holder.message_id, agency=record.source_agency))
    return fresh, duplicates


@dataclass(frozen=True)
class _Holder:
    """The message that holds an agency id: stored before, or earlier in the batch being stored."""

    message_id: str
    raw_sha256: str | None
    message_type: str
    stored: bool
    record: Accepted | None = None
    """The batch's earlier record, whose digest is computed only if a repeat of it comes (stored: None)."""

    def check(self, record: Accepted) -> None:
        """ConflictingMessageError unless ``record`` is the same content again."""
        held = self.raw_sha256 if self.record is None else self.record.raw_digest()
        differs = [what for what, same in (("content", record.raw_digest() == held),
                                           ("message type", record.message_type == self.message_type)) if not same]
        if not differs:
            return
        earlier = f"hub message {self.message_id}" if self.stored else "an earlier record of the same batch"
        raise ConflictingMessageError(
            f"{record.source_agency} message id {record.source_message_id!r} was already used for {earlier} "
            f"({self.message_type}) with other {' and '.join(differs)}; a new message needs a new id",
            first_message_id=self.message_id if self.stored else None, agency=record.source_agency)


def _most_entries(records: Sequence[Accepted], sent: bool, answers: Mapping[str, Accepted]) -> int:
    """The chain records :func:`_append_history` writes for ``records`` and their answers if none is a duplicate."""
    return (sum(1 + (record.projection is not None) + sent for record in records)
            + sum(2 + (answer.projection is not None) for answer in answers.values()))


def _append_history(conn: Connection, rows: list[tuple[Accepted, dict, bool]], now: str,
                    numbers: Callable[[], list[int]], hops: Sequence[Hop] = ()) -> list[int]:
    """Chain each row's acceptance, then its projection if any (and, for a row sent already, its publication),
    then ``hops``, numbered from ``numbers`` (see :func:`hub.messagelog.chain.numbers_later`); the acceptances' seqs."""
    entries, accepted = [], []
    for record, row, sent in rows:
        accepted.append(len(entries))
        entries.append(_entry(record, row, now))
        if record.projection is not None:
            entries.append(ChainEntry("event", "projected", now, row["message_id"], record.projection))
        if sent:
            entries.append(ChainEntry("event", "published", now, row["message_id"]))
    entries += hop_entries(hops, now)
    seqs = chain.append(conn, entries, numbers)
    return [seqs[i] for i in accepted]


def _entry(record: Accepted, row: dict, now: str) -> ChainEntry:
    # The legal basis is fixed by the acceptance record only (no column): written only when there is one,
    # so the records of messages without one read exactly as before.
    values, names = row, HEADER_FIELDS
    if record.legal_basis is not None:
        values, names = {**row, LEGAL_BASIS: record.legal_basis}, (*HEADER_FIELDS, LEGAL_BASIS)
    return ChainEntry("accepted", "received", now, row["message_id"], fields_detail(values, names),
                      raw_sha256=row["raw_sha256"], envelope_sha256=row["envelope_sha256"])


def _digests(record: Accepted) -> tuple[str, str]:
    """The SHA-256 of ``record``'s raw payload and of its envelope, one hash when they are the same bytes.

    A destination's answer and the hub's own answer are logged as they travelled, ``raw`` and ``envelope``
    the same document: every visa check hashed two such documents twice.
    """
    raw_sha256 = record.raw_digest()
    if record.envelope == record.raw:
        return raw_sha256, raw_sha256
    return raw_sha256, record.envelope_sha256 or sha256_hex(record.envelope)  # the signer's, when it took one


def _payload_row(record: Accepted) -> tuple[str, bytes | None, bytes]:
    """``record``'s payloads row: a raw payload that is the envelope's bytes is stored once, as NULL.

    The hub's own answers travel as they are logged (a receipt's 3 KB were written twice on every push);
    readers take ``coalesce(raw, envelope)``, see :data:`hub.messagelog.schema.raw_payload`.
    """
    envelope = bytes(record.envelope)
    return record.message_id, None if record.raw == envelope else bytes(record.raw), envelope


def _message_values(record: Accepted, now: str, sent: bool = False) -> dict:
    raw_sha256, envelope_sha256 = _digests(record)
    return {
        "message_id": record.message_id, "correlation_id": record.correlation_id,
        "message_type": record.message_type, "source_agency": record.source_agency,
        "source_system": record.source_system, "source_message_id": record.source_message_id,
        "destination": record.destination, "routing_key": record.routing_key,
        "raw_sha256": raw_sha256, "envelope_sha256": envelope_sha256,
        "status": "published" if sent else "received",
        "created_at": timestamp(record.created_at) if record.created_at else now,
        "received_at": timestamp(record.received_at) if record.received_at else now,
        "published_at": now if sent else None, "updated_at": now,
    }
