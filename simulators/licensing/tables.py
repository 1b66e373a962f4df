"""The licensing database's tables (SQLAlchemy Core; SQLite or PostgreSQL).

Money, dates and timestamps are stored as text in their canonical lexical
form (``850.000``, ``2024-05-20``, ``2024-05-20T08:00:00.000Z``) so both
databases hold exactly what the messages said.

This is the newest layout, as the queries see it; databases get it from the
migrations in ``simulators.licensing.migrations``, so a change here needs a
revision there (a test compares the two).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

applications = sa.Table(
    "lic_applications", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("number", sa.String(40), unique=True),
    sa.Column("licence_type", sa.String(16), nullable=False),
    sa.Column("applicant_civil_number", sa.String(9)),
    sa.Column("employer_cr", sa.String(10)),
    sa.Column("applicant_name", sa.String(200)),
    sa.Column("status", sa.String(16), nullable=False),  # pending | approved | refused | referred
    sa.Column("submitted_at", sa.String(32), nullable=False),
)
requested_vacancies = sa.Table(
    "lic_requested_vacancies", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("application_number", sa.String(40), sa.ForeignKey("lic_applications.number"), nullable=False),
    sa.Column("profession_code", sa.String(8), nullable=False),
    sa.Column("nationality", sa.String(3)),
    sa.Column("count", sa.Integer, nullable=False),
)
decisions = sa.Table(
    "lic_decisions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("application_number", sa.String(40), nullable=False, index=True),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),  # JSON [{code, text}]
    sa.Column("decided_at", sa.String(32), nullable=False),
    sa.Column("decided_by", sa.String(16), nullable=False),
    sa.Column("licence_number", sa.String(40)),
)
licences = sa.Table(
    "lic_licences", metadata,
    sa.Column("number", sa.String(40), primary_key=True),
    sa.Column("application_number", sa.String(40), nullable=False),
    sa.Column("licence_type", sa.String(16), nullable=False),
    sa.Column("holder_civil_number", sa.String(9)),
    sa.Column("employer_cr", sa.String(10)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("issued_on", sa.String(10), nullable=False),
    sa.Column("valid_until", sa.String(10), nullable=False),
)
vacancies = sa.Table(
    "lic_vacancies", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("licence_number", sa.String(40), sa.ForeignKey("lic_licences.number"), nullable=False, index=True),
    sa.Column("profession_code", sa.String(8), nullable=False),
    sa.Column("nationality", sa.String(3)),
    sa.Column("granted", sa.Integer, nullable=False),
    sa.Column("used", sa.Integer, nullable=False, default=0),
)
visas = sa.Table(
    "lic_visas", metadata,
    sa.Column("visa_number", sa.String(40), primary_key=True),
    sa.Column("licence_number", sa.String(40), nullable=False, index=True),
    sa.Column("vacancy_id", sa.Integer),  # None: issued with no free vacancy (flagged)
    sa.Column("profession_code", sa.String(8), nullable=False),
    sa.Column("worker_passport", sa.String(12), index=True),
    sa.Column("worker_nationality", sa.String(3)),
    sa.Column("issued_at", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # issued | over-quota | arrived | released | moved-on
)
worker_events = sa.Table(
    "lic_worker_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("civil_number", sa.String(9), index=True),
    sa.Column("passport_number", sa.String(12), index=True),
    sa.Column("employer_cr", sa.String(10)),
    sa.Column("occurred_at", sa.String(32), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),  # JSON
)
salary_batches = sa.Table(
    "lic_salary_batches", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(64), nullable=False),
    sa.Column("employer_cr", sa.String(10), nullable=False, index=True),
    sa.Column("pay_month", sa.String(7), nullable=False),
    sa.Column("file_reference", sa.String(128), nullable=False),
    sa.Column("record_count", sa.Integer, nullable=False),
    sa.Column("line_count", sa.Integer, nullable=False),
    sa.Column("late_lines", sa.Integer, nullable=False),
    sa.Column("missing_lines", sa.Integer, nullable=False),
    sa.Column("late_payer", sa.Boolean, nullable=False),
    sa.Column("problems", sa.Text, nullable=False),  # JSON list of codes
    sa.UniqueConstraint("employer_cr", "pay_month", "file_reference", name="uq_lic_salary_file"),
)
labour_cases = sa.Table(
    "lic_labour_cases", metadata,
    sa.Column("case_number", sa.String(40), primary_key=True),
    sa.Column("employer_cr", sa.String(10), index=True),
    sa.Column("last_event", sa.String(16), nullable=False),
    sa.Column("event_date", sa.String(10), nullable=False),
    sa.Column("outcome", sa.String(24)),
    sa.Column("closed", sa.Boolean, nullable=False),
)
transfers = sa.Table(
    "lic_transfers", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("transfer_id", sa.String(40), unique=True),
    sa.Column("worker_civil_number", sa.String(9), nullable=False, index=True),
    sa.Column("worker_passport", sa.String(12), index=True),
    sa.Column("licence_number", sa.String(40), nullable=False, index=True),
    sa.Column("profession_code", sa.String(8), nullable=False),
    sa.Column("previous_sponsor", sa.String(24)),  # "CRNumber:1000007" or "CivilNumber:10000012"
    sa.Column("new_sponsor", sa.String(24)),
    sa.Column("vacancy_id", sa.Integer),  # the new licence's vacancy a completed transfer fills
    # pending | completed | refused | referred; a completed one later released (final exit) or moved-on
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),  # JSON [{code, text}]
    sa.Column("worker", sa.Text),  # JSON: names and nationality as the police hold them
    sa.Column("requested_at", sa.String(32), nullable=False),
    sa.Column("decided_at", sa.String(32)),
    sa.Column("notice_message_id", sa.String(64)),  # the TransferCompleted sent to the police
)
worker_corrections = sa.Table(
    "lic_worker_corrections", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("correction_id", sa.String(40), unique=True),
    sa.Column("civil_number", sa.String(9), nullable=False, index=True),  # as it was before the correction
    sa.Column("corrected_civil_number", sa.String(9), nullable=False, index=True),
    sa.Column("requested_by", sa.String(24), nullable=False),  # "CRNumber:1000007" or "CivilNumber:..."
    sa.Column("changes", sa.Text, nullable=False),  # JSON [{field, before, after}]
    sa.Column("worker", sa.Text, nullable=False),  # JSON: the worker as corrected
    sa.Column("requested_at", sa.String(32), nullable=False),
    sa.Column("correlation_id", sa.String(64)),  # shared by the copies sent to the subscribers
    sa.Column("notices", sa.Text),  # JSON {subscriber: hub message id}
)
events = sa.Table(
    "lic_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(64), nullable=False, unique=True),
    sa.Column("correlation_id", sa.String(64)),
    sa.Column("message_type", sa.String(64), nullable=False),
    sa.Column("source_agency", sa.String(32), nullable=False),
    sa.Column("applied_at", sa.String(32), nullable=False),
    sa.Column("outcome", sa.String(64), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),  # JSON
)
pending_receipts = sa.Table(  # outcomes of committed windows whose DeliveryReceipt is not yet confirmed sent
    "lic_pending_receipts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(64), nullable=False),
    sa.Column("result", sa.String(16), nullable=False),  # applied | duplicate | failed
    sa.Column("code", sa.String(64)),
    sa.Column("reason", sa.Text),
)
