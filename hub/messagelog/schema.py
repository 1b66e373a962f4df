"""Tables of the message log (SQLAlchemy Core, one schema for SQLite and PostgreSQL).

This is the newest layout, as the queries see it. Databases get it from the
migrations in ``hub.migrations.messagelog``, never from ``create_all``: a
change here needs a revision there (a test compares the two).

Timestamps are stored as fixed-width ISO-8601 UTC text (``…T…Z``, microseconds):
they hash the same on both databases, sort correctly as text, and never lose
their time zone on the way through SQLite.

``audit_chain`` is both the status history and the hash chains: an event exists
only as a chained record, so an edited event is an edited chain record. Each
writing process appends to its own chain, a *lane* (``lanes``), so writers
never wait on each other; ``anchors`` bind every lane's head in a chain of
their own (see :mod:`hub.messagelog.lanes` and :mod:`hub.messagelog.anchors`).

A message's bytes (raw payload, signed envelope) live in ``payloads``, apart
from its header row in ``messages``: they are written once, while the header
row changes with every status. Kept in one row, each status change rewrote
the whole record on SQLite, payloads included — after a month of wage files
(180,000 × 13 KB) marking them published alone wrote about 5 GB.
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

from hub import utc_text

metadata = sa.MetaData()

_ID = sa.String(64)
_DIGEST = sa.String(64)
_TIME = sa.String(32)
#: BIGINT on PostgreSQL; SQLite only auto-increments a plain INTEGER key
_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

messages = sa.Table(
    "messages", metadata,
    sa.Column("message_id", _ID, primary_key=True),
    sa.Column("correlation_id", _ID, index=True),
    # Not indexed, nor is ``status`` (revision 0012): no query needs either, and on PostgreSQL an update of an
    # indexed column writes an entry into every index of the table, where one of none stays on its page.
    sa.Column("message_type", sa.String(100), nullable=False),
    sa.Column("source_agency", sa.String(64), nullable=False),
    sa.Column("source_system", sa.String(100)),
    sa.Column("source_message_id", sa.String(200)),
    sa.Column("destination", sa.String(64), nullable=False),
    sa.Column("routing_key", sa.String(255), nullable=False),
    sa.Column("raw_sha256", _DIGEST, nullable=False),
    sa.Column("envelope_sha256", _DIGEST, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("received_at", _TIME, nullable=False),
    sa.Column("published_at", _TIME),
    sa.Column("updated_at", _TIME, nullable=False),
    sa.Column("chain_seq", sa.BigInteger, nullable=False),
    # The archive holding the payloads once a purge removed them here (revision 0006); NULL while they are here.
    sa.Column("archived_in", sa.String(255)),
    # The atomic duplicate check: one agency message id is stored once.
    sa.UniqueConstraint("source_agency", "source_message_id", name="uq_messages_source"),
    # room on each page for the row's status updates, which then stay on it (revision 0012)
    postgresql_with={"fillfactor": 70},
)

payloads = sa.Table(
    "payloads", metadata,
    # No foreign key onto messages (revision 0011): written with its header row, which is never deleted.
    sa.Column("message_id", _ID, primary_key=True),
    # NULL: the same bytes as ``envelope``, stored once (revision 0011); read it as ``raw_payload``.
    sa.Column("raw", sa.LargeBinary),
    sa.Column("envelope", sa.LargeBinary, nullable=False),
)
#: a message's raw payload as every reader takes it: ``raw``, or the envelope when they are the same bytes
raw_payload = sa.func.coalesce(payloads.c.raw, payloads.c.envelope)

outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", _SERIAL, primary_key=True, autoincrement=True),
    sa.Column("message_id", _ID, nullable=False, unique=True),  # no foreign key, as payloads
    sa.Column("enqueued_at", _TIME, nullable=False),
)

refused = sa.Table(
    "refused", metadata,
    sa.Column("refusal_id", _ID, primary_key=True),
    sa.Column("agency", sa.String(64), nullable=False, index=True),
    sa.Column("reason", sa.Text, nullable=False),
    # The first bytes of the input only (see hub.messagelog.log.MessageLog.refuse); raw_sha256 is their digest.
    sa.Column("raw", sa.LargeBinary, nullable=False),
    sa.Column("raw_sha256", _DIGEST, nullable=False),
    sa.Column("received_at", _TIME, nullable=False),
    sa.Column("chain_seq", sa.BigInteger, nullable=False),
    # The whole input's digest and size; NULL in logs written before refusals kept a digest.
    sa.Column("input_sha256", _DIGEST),
    sa.Column("input_size", sa.BigInteger),
)
#: columns added to ``refused`` after its first layout (revision 0002), named in a refusal's chain record
REFUSAL_DIGEST_COLUMNS = ("input_sha256", "input_size")

audit_chain = sa.Table(
    "audit_chain", metadata,
    # The record's number in the whole log (what messages.chain_seq and refused.chain_seq point at);
    # numbers only grow, with gaps on PostgreSQL, and are not hashed: a record's place is (lane, lane_seq).
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("message_id", _ID, index=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("at", _TIME, nullable=False),
    sa.Column("actor", sa.String(100)),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("raw_sha256", _DIGEST),
    sa.Column("envelope_sha256", _DIGEST),
    sa.Column("prev_hash", _DIGEST, nullable=False),
    sa.Column("hash", _DIGEST, nullable=False),
    sa.Column("lane", _ID, nullable=False),
    sa.Column("lane_seq", sa.BigInteger, nullable=False),
    # One record per place in a lane: the lane never forks.
    sa.UniqueConstraint("lane", "lane_seq", name="uq_audit_chain_lane_seq"),
)

#: numbers of chain records on PostgreSQL (SQLite's one writer takes max + 1). Revision 0004 creates it
#: OWNED BY audit_chain.seq, so it goes with the table; kept out of ``metadata`` for that reason.
RECORD_NUMBERS = sa.Sequence("audit_chain_record_seq")

#: one row per writing process's hash chain: who opened it, and its newest record (the head writers lock)
lanes = sa.Table(
    "lanes", metadata,
    sa.Column("lane_id", _ID, primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("opened_at", _TIME, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", _DIGEST, nullable=False),
)

#: the anchor chain: each anchor binds every lane's head (a Merkle root) to the anchor before it
anchors = sa.Table(
    "anchors", metadata,
    sa.Column("anchor_seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("at", _TIME, nullable=False),
    sa.Column("lanes", sa.Integer, nullable=False),
    sa.Column("records", sa.BigInteger, nullable=False),
    # JSON [[lane, seq, hash], ...]: the heads that moved since the anchor before (the rest are as it bound them).
    sa.Column("heads", sa.Text, nullable=False),
    sa.Column("root", _DIGEST, nullable=False),
    sa.Column("prev_hash", _DIGEST, nullable=False),
    sa.Column("hash", _DIGEST, nullable=False),
    # An RFC 3161 token over ``hash``, attached after the anchor is written; not part of the hash.
    sa.Column("timestamp_token", sa.LargeBinary),
)

#: archives whose messages' payloads a purge removed (revision 0006); each row is vouched for by its chain record
archives = sa.Table(
    "archives", metadata,
    # SHA-256 of the archive's signed manifest: names the archive whatever its file is called later.
    sa.Column("archive_id", _DIGEST, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("anchor_seq", sa.BigInteger, nullable=False),
    sa.Column("purged_at", _TIME, nullable=False),
    sa.Column("chain_seq", sa.BigInteger, nullable=False),
)

#: every archive the hub wrote (revision 0009): where the next one continues from (docs/evidence.md)
written_archives = sa.Table(
    "written_archives", metadata,
    # SHA-256 of the archive's signed manifest, as in ``archives``.
    sa.Column("archive_id", _DIGEST, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("until", _TIME, nullable=False),
    sa.Column("anchor_seq", sa.BigInteger, nullable=False),
    sa.Column("anchor_hash", _DIGEST, nullable=False),
    # The anchor the archive continues from (0: the log's start).
    sa.Column("base_anchor", sa.BigInteger, nullable=False),
    sa.Column("written_at", _TIME, nullable=False),
)

#: every lane's head as the newest anchor bound it; kept by the anchor writer so it writes only what moved
anchored_lanes = sa.Table(
    "anchored_lanes", metadata,
    sa.Column("lane_id", _ID, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", _DIGEST, nullable=False),
    sa.Column("anchor_seq", sa.BigInteger, nullable=False),
)


_STORED_FORM = "%Y-%m-%dT%H:%M:%S.%fZ"


def timestamp(moment: datetime | None = None) -> str:
    """``moment`` (default now) as the stored text form, always UTC."""
    moment = moment or datetime.now(timezone.utc)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {moment.isoformat()} has no time zone")
    moment = utc_text.in_utc(moment)
    if moment.year < 1000:  # isoformat pads the year to four digits, strftime's %Y does not
        return moment.strftime(_STORED_FORM)
    # the same text as strftime(_STORED_FORM) at a third of isoformat's CPU: an accepted message takes five
    return utc_text.microseconds(moment) + "Z"


def parse_timestamp(text: str | None) -> datetime | None:
    """The stored text form back as an aware UTC datetime."""
    if text is None:
        return None
    return datetime.strptime(text, _STORED_FORM).replace(tzinfo=timezone.utc)
