"""Lanes and anchors: each writing process appends to its own hash chain, anchors bind their heads.

The one chain so far becomes the lane ``legacy``: its records gain their lane
and their number in it (the number they had), and its head row (``audit_head``,
which every writer locked) becomes the lane's row in ``lanes``. No record is
rewritten: the legacy lane starts from the old chain's genesis, so every hash
still holds. On PostgreSQL record numbers now come from a sequence (writers
of different lanes take them without waiting), started after the newest.
``anchors`` starts empty: the first anchor a writer takes binds the legacy
lane's head with the new lanes'.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.String(64)
_DIGEST = sa.String(64)
_TIME = sa.String(32)
#: as in hub.messagelog.lanes (a revision states its values rather than import code that may change)
_LEGACY_LANE = "legacy"


def upgrade() -> None:
    """Create lanes and anchors, move the chain into the legacy lane, drop the single head."""
    _create_tables()
    with op.batch_alter_table("audit_chain") as batch:
        batch.add_column(sa.Column("lane", _ID))
        batch.add_column(sa.Column("lane_seq", sa.BigInteger))
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE audit_chain SET lane = :lane, lane_seq = seq"), {"lane": _LEGACY_LANE})
    with op.batch_alter_table("audit_chain") as batch:
        batch.alter_column("lane", existing_type=_ID, nullable=False)
        batch.alter_column("lane_seq", existing_type=sa.BigInteger, nullable=False)
        batch.create_unique_constraint("uq_audit_chain_lane_seq", ["lane", "lane_seq"])
    _move_head(conn)
    op.drop_table("audit_head")
    if conn.dialect.name == "postgresql":
        newest = conn.execute(sa.text("SELECT coalesce(max(seq), 0) FROM audit_chain")).scalar_one()
        op.execute(f"CREATE SEQUENCE audit_chain_record_seq START WITH {int(newest) + 1} OWNED BY audit_chain.seq")


def _create_tables() -> None:
    op.create_table(
        "lanes",
        sa.Column("lane_id", _ID, primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("opened_at", _TIME, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", _DIGEST, nullable=False),
    )
    op.create_table(
        "anchors",
        sa.Column("anchor_seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("lanes", sa.Integer, nullable=False),
        sa.Column("records", sa.BigInteger, nullable=False),
        sa.Column("heads", sa.Text, nullable=False),
        sa.Column("root", _DIGEST, nullable=False),
        sa.Column("prev_hash", _DIGEST, nullable=False),
        sa.Column("hash", _DIGEST, nullable=False),
        sa.Column("timestamp_token", sa.LargeBinary),
    )
    op.create_table(
        "anchored_lanes",
        sa.Column("lane_id", _ID, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", _DIGEST, nullable=False),
        sa.Column("anchor_seq", sa.BigInteger, nullable=False),
    )


def _move_head(conn) -> None:
    """The single chain's head becomes the legacy lane's row (none for an empty chain)."""
    head = conn.execute(sa.text("SELECT seq, hash FROM audit_head WHERE id = 1")).first()
    if head is None or not head.seq:
        return
    first_at = conn.execute(sa.text("SELECT at FROM audit_chain ORDER BY seq LIMIT 1")).scalar()
    conn.execute(sa.text("INSERT INTO lanes (lane_id, host, pid, opened_at, seq, hash) "
                         "VALUES (:lane, '', 0, :at, :seq, :hash)"),
                 {"lane": _LEGACY_LANE, "at": first_at or "", "seq": head.seq, "hash": head.hash})


def downgrade() -> None:
    """Not supported: the log only moves forward."""
    raise NotImplementedError("the message log only moves forward; restore a backup to go back")
