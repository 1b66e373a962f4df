"""The licensing queue's handler: signed canonical messages in, state changed once.

``LicensingConsumer.handle`` is a transport handler. For each delivery it

1. verifies the hub's signature with the injected ``verify`` and from then on
   reads only what the verifier returned (refused → non-recoverable
   ``SignatureError``, so the transport dead-letters it);
2. reads the envelope, checks the message is addressed to licensing and
   valid against the canonical schema;
3. applies it through ``state.apply_once`` (redelivery changes nothing), and
   for a VisaEligibilityQuery replies with a VisaEligibilityResult, for a
   WorkerRecordQuery with the worker's record (:mod:`worker_records`) — on every
   delivery, since an asker whose first reply was lost still wants one.

One consumer may serve several threads, each consuming with its own
transport: their deliveries are applied in shared commits (``batches``), and
each ``handle`` returns — so its delivery is acked — only once its own change
is committed. A transport that waits for the handler's ``settle()`` before it
acks (RabbitMQ's consume loop, :attr:`Delivery.ack_after_settle`) gets
``handle`` back at once: the change is queued, and :meth:`LicensingConsumer.settle`
commits what the thread queued in one window just before the ack, or raises
so the transport redelivers them. With a ``receipts`` sender, what each
window came to (and each delivery refused before one) goes back to the hub
as a DeliveryReceipt, after the commit and from another thread (:mod:`receipts`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime, timezone

import sqlalchemy as sa
from lxml import etree

from hub import canonical
from hub.envelope import Header
from hub.errors import ConfigError, InputError, MessageLogError
from hub.transports.base import Delivery, Transport
from simulators.licensing import answer_text, canonical_io, effects, one_pass_readers, rules, worker_records
from simulators.licensing.hub_link import SYSTEM, Seal, Verify, plain_seal, reply_text, reply_to, verified_envelope
from simulators.licensing.receipts import ReceiptSender
from simulators.licensing.state import LicensingState, to_json, utc_text
from simulators.licensing.window_writes import Gatherable, Later, WindowWrites

#: agency replies that may reach the queue late (after the asker timed out): kept as events
_LATE_REPLIES = frozenset({"IncomeRecord", "CivilStatusRecord", "CommercialRegistrationRecord",
                           "ChamberMembershipRecord", "LabourCaseStatusRecord", "TransferEligibilityRecord", "Fault"})


class ApplyConflictError(MessageLogError):
    """Another worker applied the same business fact (visa, SIF file) at the same moment.

    Recoverable: on redelivery the other worker's commit is visible and the
    message is recognised as a duplicate.
    """

    code = "apply-conflict"
    recoverable = True


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _settled_later(delivery: Delivery) -> bool:
    """Whether the delivery's change may be committed after ``handle`` returns (:meth:`LicensingConsumer.settle`).

    Not for one that came before (redelivered, or a delayed retry): applied at once, a failure of its own goes
    the transport's way — retried after a delay, then dead-lettered — instead of requeueing its neighbours.
    """
    return delivery.ack_after_settle and not delivery.redelivered and delivery.attempt <= 1


def _conflict(header: Header) -> ApplyConflictError:
    return ApplyConflictError(f"{header.message_type} collided with a concurrent update; retry will settle it",
                              message_id=header.message_id, agency=header.source_agency)


class LicensingConsumer:
    """Applies canonical messages addressed to licensing, each once.

    A transport handler (``consumer(delivery)`` is :meth:`handle`) with :meth:`settle`: a transport that calls
    it before its acks gets deliveries whose changes commit together, once per ack instead of once per message.
    """

    def __init__(self, state: LicensingState, verify: Verify, *, transport: Transport | None = None,
                 seal: Seal = plain_seal, now: Callable[[], datetime] = _utc_now,
                 validate: bool = True, receipts: ReceiptSender | None = None) -> None:
        self.state = state
        self.receipts = receipts
        self._windowed = threading.local()  # whether this thread's delivery reached a commit window
        self._submitted = threading.local()  # units: this thread's (header, unit) queued and not settled yet
        self.verify = verify
        self.transport = transport
        self.seal = seal
        self.now = now
        self.validate = validate
        self._handlers = {
            "WorkerArrival": self._worker_event, "WorkerDeparture": self._worker_event,
            "ResidenceRenewal": self._worker_event, "VisaIssued": self._visa_issued,
            "VisaEligibilityQuery": self._visa_query, "SalaryBatch": self._salary_batch,
            "LabourCaseUpdate": self._labour_case, "WorkerRecordQuery": self._worker_record_query,
        } | {kind: self._late_reply for kind in _LATE_REPLIES}

    def handle(self, delivery: Delivery) -> None:
        """Transport handler: verify, read, apply once (and reply to queries).

        A delivery refused before it reached a commit window is told to
        ``receipts`` as failed here; the window tells the rest after its commit.
        """
        self._windowed.value = False
        try:
            with self.state.windows.coming():  # a window's leader may wait for it (batches.GATHER_SECONDS)
                self._handle(delivery)
        except Exception as exc:
            if self.receipts is not None and not self._windowed.value:
                self.receipts.failed(delivery.message.message_id, exc)
            raise

    __call__ = handle

    def _handle(self, delivery: Delivery) -> None:
        header, body = verified_envelope(self.verify, delivery.message.body)
        try:
            self._dispatch(delivery, header, body)
        except InputError as exc:
            # An asker waiting on request/reply learns why at once instead of timing
            # out; the message itself still goes to the dead letters.
            if delivery.message.reply_to and self.transport is not None:
                self._reply_fault(delivery, header, exc)
            raise

    def _dispatch(self, delivery: Delivery, header: Header, body: etree._Element) -> None:
        if header.destination != SYSTEM:
            raise InputError(f"message for {header.destination!r} reached licensing",
                             message_id=header.message_id, agency=header.source_agency)
        if self.validate:
            canonical.validate(body)
        handler = self._handlers.get(header.message_type)
        if handler is None:
            raise InputError(f"licensing does not handle {header.message_type}",
                             message_id=header.message_id, agency=header.source_agency)
        handler(delivery, header, body)

    def _reply_fault(self, delivery: Delivery, header: Header, exc: InputError) -> None:
        body = canonical_io.fault_element(exc.code, exc.reason, SYSTEM, header.message_id, utc_text(self.now()))
        reply_to(delivery, header, body, self.seal, self.transport, now=self.now())

    def _apply(self, delivery: Delivery, header: Header, fn: Callable, summary: dict | str,
               gather: Callable[[WindowWrites], str | Later] | None = None) -> None:
        """Run ``fn(conn) -> outcome`` and its event row (``summary``, or its JSON) once per message id: committed
        before this returns, or, when the transport waits for :meth:`settle` before the ack, queued for the commit
        :meth:`settle` waits for. With ``gather``, the same change's writes, gathered with the window's
        (:mod:`window_writes`): how the window runs it when nothing of it fails."""
        applied_at = utc_text(self.now())

        def apply(conn) -> None:
            effects.record_event(conn, header, fn(conn), summary, applied_at)

        if gather is not None:
            apply = Gatherable(apply, lambda writes: effects.gather_event(writes, header, gather(writes), summary,
                                                                          applied_at))

        self._windowed.value = True
        if _settled_later(delivery):
            unit = self.state.windows.submit(header.message_id, apply)
            try:
                self._submitted.units.append((header, unit))
            except AttributeError:  # this thread's first
                self._submitted.units = [(header, unit)]
            return
        try:
            self.state.apply_once(header.message_id, apply)
        except sa.exc.IntegrityError as exc:
            raise _conflict(header) from exc

    def settle(self) -> None:
        """Return once every change this thread queued (:meth:`_apply`) is committed; the transport calls it
        before it acks their deliveries. Raises the first failure among them: the transport then redelivers
        those deliveries, and each is applied at once (its failure retried or dead-lettered on its own)."""
        submitted, self._submitted.units = getattr(self._submitted, "units", []), []
        self.state.windows.settle([unit for _header, unit in submitted])
        for header, unit in submitted:
            if isinstance(unit.outcome, sa.exc.IntegrityError):
                raise _conflict(header) from unit.outcome
            if isinstance(unit.outcome, BaseException):
                raise unit.outcome

    def _worker_event(self, delivery: Delivery, header: Header, body: etree._Element) -> None:
        event = one_pass_readers.worker_event(body)
        detail = to_json(event)  # the worker event's detail and its event row's summary: one text, encoded once
        message_id = header.message_id
        gather = (lambda writes: effects.gather_worker_event(writes, message_id, event, detail)) \
            if effects.gathers(event) else None
        self._apply(delivery, header, lambda conn: effects.worker_event(conn, message_id, event, detail), detail,
                    gather)

    def _record(self, delivery: Delivery, header: Header, outcome: str, summary: dict) -> None:
        """Apply a message that changes nothing but its event row: ``outcome`` and ``summary``."""
        self._apply(delivery, header, lambda conn: outcome, summary, lambda writes: outcome)

    def _visa_issued(self, delivery: Delivery, header: Header, body: etree._Element) -> None:
        visa = canonical_io.visa_issued(body)
        self._apply(delivery, header, lambda conn: effects.visa_issued(conn, self.state, visa), visa)

    def _salary_batch(self, delivery: Delivery, header: Header, body: etree._Element) -> None:
        batch = canonical_io.salary_batch(body)
        summary = {k: v for k, v in batch.items() if k not in ("lines_total", "declared_total")}
        summary |= {"lines_total": str(batch["lines_total"]), "declared_total": str(batch["declared_total"])}
        self._apply(delivery, header, lambda conn: effects.salary_batch(conn, header.message_id, batch), summary)

    def _labour_case(self, delivery: Delivery, header: Header, body: etree._Element) -> None:
        case = canonical_io.labour_case_update(body)
        self._apply(delivery, header, lambda conn: effects.labour_case(conn, case), case)

    def _late_reply(self, delivery: Delivery, header: Header, body: etree._Element) -> None:
        # Answers normally come back on the asker's reply queue; one routed here
        # arrived after the decider gave up (the application was referred), so
        # it is kept for the officer, not acted upon.
        kind = header.message_type
        summary = canonical_io.fault(body) if kind == "Fault" else {"record": kind}
        self._record(delivery, header, "kept-for-officer", summary)

    def visa_answer(self, query: dict, today: date | None = None) -> rules.VisaAnswer:
        """The answer to a VisaEligibilityQuery as of ``today``."""
        licence = self.state.visa_view(query["licence_number"], query["profession_code"])
        return rules.check_visa(licence, query["licence_type"], query["profession_code"],
                                query["nationality"], today or rules.local_today(self.now()))

    def _worker_record_query(self, delivery: Delivery, header: Header, body: etree._Element) -> None:
        civil_number, fields = worker_records.record_query(body)
        record = worker_records.worker_record(self.state, civil_number, fields)
        outcome = "answered" if record is not None else "not-found"
        self._record(delivery, header, outcome, {"civil_number": civil_number, "fields": list(fields)})
        self._require_reply_path(delivery, header)
        if record is None:  # an answer the asker can act on, not a dead letter: the worker is simply unknown
            record = canonical_io.fault_element("not-found", f"licensing knows no worker {civil_number}", SYSTEM,
                                                header.message_id, utc_text(self.now()))
        reply_to(delivery, header, record, self.seal, self.transport, now=self.now())

    def _require_reply_path(self, delivery: Delivery, header: Header) -> None:
        if not delivery.message.reply_to:
            raise InputError(f"{header.message_type} without a reply address cannot be answered",
                             message_id=header.message_id, agency=header.source_agency)
        if self.transport is None:
            raise ConfigError("this licensing consumer has no transport to reply with", message_id=header.message_id)

    def _visa_query(self, delivery: Delivery, header: Header, body: etree._Element) -> None:
        query = one_pass_readers.visa_query(body)
        verdict = self.visa_answer(query)
        self._require_reply_path(delivery, header)
        result = answer_text.visa_eligibility_result(query["licence_number"], verdict)
        # Answered before the question is recorded: the answer changes nothing here, and the police
        # officer waits for it, not for this commit. The delivery is still acked only once the record
        # is committed; a redelivery answers again and records once.
        reply_text(delivery, header, "VisaEligibilityResult", result, self.seal, self.transport, now=self.now())
        if self.receipts is not None:  # the signed answer told the hub: no receipt for the record too
            self.receipts.answered(header.message_id)
        summary = query | {"eligible": verdict.eligible, "reason": verdict.reason.code}
        self._record(delivery, header, "eligible" if verdict.eligible else verdict.reason.code, summary)
