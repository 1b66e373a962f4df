"""Receipt outcomes kept in licensing's database with the window that applied them, sent from there.

The kill test runs a window in a process of its own whose receipt sender
cannot send (its broker never confirms), kills it with SIGKILL once the window
is committed, and starts a sender on the same database: the outcome comes out
in its receipt, and is forgotten once that is confirmed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
import sqlalchemy as sa

from hub import lifeline
from simulators.licensing.batches import WindowCommitError
from simulators.licensing.hub_link import plain_seal
from simulators.licensing.receipt_store import ReceiptStore
from simulators.licensing.receipts import ReceiptSender
from simulators.licensing.state import LicensingState
from simulators.licensing.tables import pending_receipts
from tests.integration.test_visa_check_receipts import KeptReceipts, receipted

pytestmark = pytest.mark.timeout(120)


def stored(state: LicensingState) -> list[tuple[str, str]]:
    with state.engine.connect() as conn:
        rows = conn.execute(sa.select(pending_receipts).order_by(pending_receipts.c.id)).all()
    return [(row.message_id, row.result) for row in rows]


def wait_for(condition, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
    return value


def kept_sender(state: LicensingState, transport) -> ReceiptSender:
    sender = ReceiptSender(lambda: transport, plain_seal, store=ReceiptStore(state.engine), gather=0.05)
    sender.attach(state.windows)
    return sender


def test_a_windows_outcomes_commit_with_it_and_are_forgotten_once_their_receipt_is_sent(tmp_path):
    state = LicensingState(f"sqlite:///{tmp_path / 'licensing.sqlite3'}")
    kept = KeptReceipts()
    sender = kept_sender(state, kept)  # not started yet: nothing is sent
    applied, answered = str(uuid.uuid4()), str(uuid.uuid4())
    sender.answered(answered)
    assert state.apply_once(applied, lambda conn: None) and state.apply_once(answered, lambda conn: None)
    assert stored(state) == [(applied, "applied")]  # the answered question needs none
    sender.start()
    wait_for(lambda: not stored(state))
    sender.close()
    assert receipted(kept) == [(applied, "applied")]


def test_a_failed_commit_records_nothing_and_its_failures_are_told_from_memory(tmp_path):
    state = LicensingState(f"sqlite:///{tmp_path / 'licensing.sqlite3'}")
    kept = KeptReceipts()
    sender = kept_sender(state, kept).start()
    message_id = str(uuid.uuid4())

    def orphan(conn) -> None:  # breaks the deferred check only the commit makes
        conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
        conn.exec_driver_sql("INSERT INTO lic_vacancies (licence_number, profession_code, granted, used) "
                             "VALUES ('no-such-licence', '911101', 1, 0)")

    with pytest.raises(WindowCommitError):
        state.apply_once(message_id, orphan)
    assert stored(state) == []
    wait_for(lambda: kept.published)
    sender.close()
    assert receipted(kept) == [(message_id, "failed")]


CHILD = textwrap.dedent("""
    import sys, threading, time
    from simulators.licensing.hub_link import plain_seal
    from simulators.licensing.receipt_store import ReceiptStore
    from simulators.licensing.receipts import ReceiptSender
    from simulators.licensing.state import LicensingState

    class NeverConfirms:
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            pass
        def publish(self, messages):
            threading.Event().wait()  # the broker takes it and never confirms

    state = LicensingState(sys.argv[1])
    sender = ReceiptSender(NeverConfirms, plain_seal, store=ReceiptStore(state.engine), gather=0.0)
    sender.attach(state.windows)
    sender.start()
    state.apply_once(sys.argv[2], lambda conn: None)
    print("applied", flush=True)
    time.sleep(60)
""")


def test_outcomes_of_a_process_killed_between_apply_and_send_are_sent_by_the_next(tmp_path):
    url, message_id = f"sqlite:///{tmp_path / 'licensing.sqlite3'}", str(uuid.uuid4())
    LicensingState(url).engine.dispose()  # the database made before the child opens it
    child = lifeline.popen([sys.executable, "-c", CHILD, url, message_id], stdout=subprocess.PIPE, text=True,
                           start_new_session=True)
    try:
        assert child.stdout.readline().strip() == "applied"
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(10)
    state = LicensingState(url)
    assert stored(state) == [(message_id, "applied")]  # the window committed; its receipt never went out
    kept = KeptReceipts()
    sender = kept_sender(state, kept).start()
    wait_for(lambda: not stored(state))
    sender.close()
    assert receipted(kept) == [(message_id, "applied")]


def test_the_store_lists_skips_and_forgets_outcomes_on_either_database(database_url):
    state = LicensingState(database_url)
    store = ReceiptStore(state.engine)
    outcomes = [(str(uuid.uuid4()), "applied", None, None), (str(uuid.uuid4()), "duplicate", None, None),
                (str(uuid.uuid4()), "failed", "input", "not for licensing")]
    try:
        with state.engine.begin() as conn:
            store.record(conn, outcomes)
        listed = store.waiting(10)
        assert [outcome for _row, outcome in listed] == outcomes  # oldest first, as recorded
        rows = [row for row, _outcome in listed]
        assert store.waiting(1) == listed[:1] and store.waiting(10, skip={rows[0]}) == listed[1:]
        store.sent(rows[:2])
        assert store.waiting(10) == listed[2:]
        store.sent([])
        assert store.waiting(10) == listed[2:]
    finally:
        state.engine.dispose()
