"""Telling the hub what licensing did with each delivery: signed DeliveryReceipts of whole commit windows.

The apply path only hands outcomes over (:meth:`ReceiptSender.window_committed`
is the window applier's after-commit callback; :meth:`ReceiptSender.failed`
takes a delivery refused before it reached a window): a list append under a
lock. A question licensing answered over request/reply (a visa check) is
named to :meth:`ReceiptSender.answered` first: its signed answer, which the
hub logs with the question, already told the hub, so its record gets no
receipt of its own (one signature per check, not two) unless the record
failed. A thread of its own gathers what comes for up to ``gather`` seconds
after the first outcome, seals it all in one receipt (licensing's key; more
than the schema's 1,000 outcomes in several), publishes them in one
``publish`` and, when the broker does not
confirm, keeps the sealed bytes and tries again after a pause that doubles up
to 15 s (:class:`hub.outage.Watch`: one log line when sending starts failing,
one when it works again) — the messages are applied already, so nothing but
the trail waits. The same bytes go out on every try, so the hub stores a
receipt it got twice once. On stop the thread sends what is waiting for up to
``grace`` seconds and logs how many receipts it could not send.

With a :class:`~simulators.licensing.receipt_store.ReceiptStore` (as
``consume`` runs it, :meth:`ReceiptSender.attach`), a window's outcomes are
not handed over in memory but written in the window's own transaction
(:meth:`ReceiptSender.record`), and the thread reads them from there and
deletes them once their receipt is confirmed: a crash between the commit and
the confirm delays those receipts to the next start instead of losing them.
Only what never reached a committed window — refusals before one, windows
whose commit failed — is still told from memory: the transport retries or
dead-letters those deliveries, and a later window records how they end.

Why gather: a window holds what the consumer threads applied at one moment,
often a single message when deliveries come one by one, and each receipt
costs a signature here and a verification, a signature and a log write at
the hub. Gathering for a quarter of a second makes that once per many
messages; only the trail's last hop waits for it, never a delivery.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hub.envelope import new_header
from hub.errors import RabtError
from hub.outage import Watch
from hub.receipts import HUB
from hub.transports.base import Message, Transport
from simulators.licensing.batches import WindowApplier, WindowRolledBackError
from simulators.licensing import answer_text
from simulators.licensing.hub_link import SYSTEM, Seal, outgoing_text
from simulators.licensing.receipt_store import Outcome, ReceiptStore
from simulators.licensing.state import utc_text

log = logging.getLogger(__name__)

#: the schema's bound on outcomes per receipt; more are split over several
MAX_OUTCOMES = 1000
#: seconds the sending thread gathers outcomes after the first before it seals them
GATHER_SECONDS = 0.25
_UUID = re.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def outcome_of(message_id: str, result: bool | BaseException) -> Outcome:
    """A window unit's result (True applied, False already applied, an exception) as a receipt outcome."""
    if isinstance(result, BaseException):
        code = result.code if isinstance(result, RabtError) else "internal"
        reason = result.reason if isinstance(result, RabtError) else (str(result) or type(result).__name__)
        return message_id, "failed", code, reason[:2000]
    return message_id, "applied" if result else "duplicate", None, None


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class ReceiptSender:
    """Collects outcomes from the apply path and sends them to the hub from its own thread. Thread-safe."""

    def __init__(self, open_transport: Callable[[], Transport], seal: Seal, *,
                 now: Callable[[], datetime] = _utc_now, watch: Watch | None = None,
                 gather: float = GATHER_SECONDS, store: ReceiptStore | None = None) -> None:
        self.open_transport, self.seal, self.now, self.gather = open_transport, seal, now, gather
        self.store = store
        """Where windows keep their outcomes until sent (:meth:`attach`); None: in memory only."""
        self._stored = store is not None  # the store may hold outcomes to send (at start: a crash's)
        self._recorded = False  # the window being committed wrote outcomes to the store
        self._taken: dict[int, None] = {}  # row ids of the store in sealed receipts not yet confirmed
        self._pending_rows: list[list[int]] = []  # per pending receipt, the store's rows it lists
        self.watch = watch or Watch(f"{SYSTEM}-receipts", "broker")
        self._lock = threading.Condition()
        self._outcomes: list[Outcome] = []
        self._answered: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending: list[Message] = []
        self.sent = 0
        """Receipts the broker confirmed so far."""

    # -- the apply path's side: hand over, never wait -------------------------------------

    def answered(self, message_id: str) -> None:
        """``message_id`` was answered to its asker: its record in the next window needs no receipt if it holds."""
        with self._lock:
            self._answered.add(message_id)

    def attach(self, windows: WindowApplier) -> None:
        """Be told of every window ``windows`` applies; with a store, its outcomes kept in the window's commit."""
        windows.on_settled = self.window_committed
        if self.store is not None:
            windows.record = self.record

    def record(self, conn: Connection, results: Sequence[tuple[str, bool | BaseException]]) -> None:
        """A window's outcomes, written to the store inside its transaction (the window applier's ``record``)."""
        outcomes = self._untold(results)
        if outcomes:  # a window of answered visa checks has none
            self.store.record(conn, outcomes)
        self._recorded = bool(outcomes)  # leaders take turns: this window's, told after its commit

    def window_committed(self, results: Sequence[tuple[str, bool | BaseException]]) -> None:
        """A window's outcomes, after its commit (the window applier's callback).

        With a store they are there already, and the sending thread is woken
        to read them; only what a failed commit rolled back (nothing applied,
        nothing recorded) is handed over here, as without a store.
        """
        if self.store is None:
            outcomes, stored = self._untold(results), False
        else:
            rolled_back = [(mid, r) for mid, r in results if isinstance(r, WindowRolledBackError)]
            outcomes = self._untold(rolled_back) if rolled_back else []
            stored, self._recorded = self._recorded and not rolled_back, False
        if not outcomes and not stored:  # nothing to hand over nor to wake the sender for (answered checks)
            return
        with self._lock:
            if outcomes:
                self._hand_over(outcomes)
            if stored and not self._stored:  # woken once per gathering, as for outcomes in memory
                self._stored = True
                self._lock.notify()

    def _untold(self, results: Sequence[tuple[str, bool | BaseException]]) -> list[Outcome]:
        """The outcomes of ``results`` that need a receipt: not answered already, and with a hub message id."""
        with self._lock:
            told = {mid for mid, result in results if mid in self._answered and not isinstance(result, BaseException)}
            self._answered.difference_update(mid for mid, _ in results)
        untold = [(mid, result) for mid, result in results if mid not in told]
        outcomes = [outcome_of(mid, result) for mid, result in untold if _UUID.fullmatch(mid)]
        if len(outcomes) < len(untold):  # not the hub's ids: no trail to tell
            log.warning("no receipt for %d message(s) without a hub message id", len(untold) - len(outcomes))
        return outcomes

    def failed(self, message_id: str | None, error: BaseException) -> None:
        """A delivery refused before it reached a window (not verified, not for licensing, invalid)."""
        if not message_id or not _UUID.fullmatch(message_id):
            log.warning("no receipt for a delivery without a hub message id: %s", error)
            return
        with self._lock:
            self._answered.discard(message_id)
            self._hand_over([outcome_of(message_id, error)])

    def _hand_over(self, outcomes: list[Outcome]) -> None:
        """Queue ``outcomes`` (lock held); wake the sender only when it waits for them: the first, or a full receipt."""
        first = not self._outcomes
        self._outcomes += outcomes
        if first or len(self._outcomes) >= MAX_OUTCOMES:
            self._lock.notify()

    @property
    def waiting(self) -> int:
        """Outcomes not yet sealed by the sending thread."""
        with self._lock:
            return len(self._outcomes)

    # -- the sending thread ---------------------------------------------------------------

    def start(self) -> ReceiptSender:
        """Start the sending thread."""
        self._thread = threading.Thread(target=self._run, name="licensing-receipts", daemon=True)
        self._thread.start()
        return self

    def close(self, grace: float = 10.0) -> None:
        """Send what is waiting (for up to ``grace`` seconds), then stop; what could not be sent is logged."""
        self._stop.set()
        with self._lock:
            self._lock.notify()
        if self._thread is not None:
            self._thread.join(grace)
        left = self.unsent + self.waiting
        if left and self.store is not None:
            log.warning("licensing stopped with %d delivery receipt(s) or outcome(s) unsent; those of committed "
                        "windows stay in its database and go at the next start", left)
        elif left:
            log.error("licensing stopped with %d delivery receipt(s) or outcome(s) unsent: the trail of those "
                      "messages ends at 'delivered' (they are applied)", left)

    @property
    def unsent(self) -> int:
        """Sealed receipts the sending thread holds and has not had confirmed yet."""
        return len(self._pending)

    def _take(self, wait: bool) -> list[tuple[Message, list[int]]]:
        """What came since the last take, sealed, each with the store's rows it lists; ``wait``: block for the
        first outcome, then gather."""
        with self._lock:
            while wait and not (self._outcomes or self._stored or self._stop.is_set()):
                self._lock.wait()
            deadline = time.monotonic() + self.gather
            while (wait and len(self._outcomes) < MAX_OUTCOMES and not self._stop.is_set()
                   and (left := deadline - time.monotonic()) > 0):
                self._lock.wait(left)
            outcomes, self._outcomes = self._outcomes, []
            look, self._stored = self._stored, False
        sealed = [(self._sealed(outcomes[i:i + MAX_OUTCOMES]), []) for i in range(0, len(outcomes), MAX_OUTCOMES)]
        rows = self._stored_outcomes() if look else []
        for i in range(0, len(rows), MAX_OUTCOMES):
            chunk = rows[i:i + MAX_OUTCOMES]
            sealed.append((self._sealed([outcome for _row, outcome in chunk]), [row for row, _ in chunk]))
            self._taken.update(dict.fromkeys(row for row, _ in chunk))
        return sealed

    def _stored_outcomes(self) -> list[tuple[int, Outcome]]:
        """The store's outcomes not in a receipt yet (a few receipts' worth; more are looked at next time)."""
        limit = 4 * MAX_OUTCOMES
        try:
            rows = self.store.waiting(limit, skip=set(self._taken))
        except sa.exc.SQLAlchemyError as exc:
            log.warning("licensing could not read its unsent receipt outcomes; trying again: %s", exc)
            self._stop.wait(1.0)  # the database is away: look again in a moment, not in a busy loop
            rows, more = [], True
        else:
            more = len(rows) >= limit
        if more:
            with self._lock:
                self._stored = True
        return rows

    def _sealed(self, outcomes: Sequence[Outcome]) -> Message:
        # written as text (answer_text) rather than built as a tree: its canonical bytes, signed as they are, and
        # the payload the header's digest is taken of
        content = answer_text.delivery_receipt(SYSTEM, utc_text(self.now()), outcomes)
        header = new_header(message_type="DeliveryReceipt", source_agency=SYSTEM, source_system=SYSTEM,
                            destination=HUB, raw_payload=content)
        return outgoing_text(header, content, self.seal)

    def _run(self) -> None:
        transport = None
        try:
            while not (self._stop.is_set() and not self._pending and not self.waiting and not self._stored):
                # block for work only when nothing is held back; else add what came meanwhile and retry
                for message, rows in self._take(wait=not self._pending):
                    self._pending.append(message)
                    self._pending_rows.append(rows)
                if not self._pending:
                    continue
                try:
                    transport = transport or self.open_transport().__enter__()
                    transport.publish(self._pending)
                except Exception as exc:  # noqa: BLE001 - any failure to send is retried: the messages are applied
                    transport = _closed(transport)
                    time.sleep(self.watch.failed(exc))  # also while stopping: close() bounds the whole wait
                    continue
                self.watch.succeeded()
                self.sent, self._pending = self.sent + len(self._pending), []
                self._forget_sent([row for rows in self._pending_rows for row in rows])
                self._pending_rows = []
        finally:
            _closed(transport)

    def _forget_sent(self, rows: list[int]) -> None:
        """Delete the store's rows the confirmed receipts listed (if that fails, a restart sends them again)."""
        if not rows:
            return
        try:
            self.store.sent(rows)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("licensing could not forget %d sent receipt outcome(s); they go again after a restart: %s",
                        len(rows), exc)
            return
        for row in rows:
            self._taken.pop(row, None)


def _closed(transport) -> None:
    if transport is not None:
        try:
            transport.__exit__(None, None, None)
        except Exception:  # noqa: BLE001 - closing a broken connection may fail too
            pass
    return None
