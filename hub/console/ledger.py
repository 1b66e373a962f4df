"""The disclosure ledger in the console: the query arguments read, the report asked for, its labels.

``GET /api/v1/ledger/<civil number>`` (role ``ledger``, or operator and above)
answers with the signed report (:mod:`hub.ledger`); the ``/ledger`` page
(operator and above) shows the same report as a table, each entry linking to its
message's trail. Either way the look-up is chained in the message log under the
caller's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from hub.console.i18n import LABELS
from hub.console.users import Principal
from hub.errors import InputError, MessageLogError
from hub.ledger import DisclosureLedger
from hub.messagelog.ledger import MAX_PAGE, Window, moment

LEDGER_LABELS: dict[str, tuple[str, str]] = {
    "ledger": ("Disclosure ledger", "سجل الإفصاح"),
    "ledger_hint": ("Civil number (8 or 9 digits)", "الرقم المدني (8 أو 9 أرقام)"),
    "ledger_show": ("Show", "اعرض"),
    "ledger_intro": ("Who received data about this person through the hub, when, and on which legal basis. "
                     "This look-up is itself recorded in the message log under your name.",
                     "من تلقى بيانات عن هذا الشخص عبر المنصة، ومتى، وبأي سند قانوني. "
                     "هذا الاستعلام نفسه يُسجَّل في سجل الرسائل باسمك."),
    "ledger_none": ("No message about this civil number in the message log.",
                    "لا توجد رسائل عن هذا الرقم المدني في سجل الرسائل."),
    "ledger_sender": ("Sender", "المرسِل"),
    "ledger_receiver": ("Received by", "المستلِم"),
    "ledger_basis": ("Legal basis", "السند القانوني"),
    "ledger_no_basis": ("none recorded", "غير مسجل"),
    "ledger_withheld": ("not sent:", "لم يُرسل:"),
    "ledger_outcome": ("Outcome", "النتيجة"),
    "ledger_answers": ("Answers", "الإجابات"),
    "ledger_record": ("Chain record", "سجل السلسلة"),
    "ledger_signed": ("Signed report (JWS)", "التقرير الموقّع (JWS)"),
    "ledger_report": ("Report", "التقرير"),
    "ledger_issued": ("issued", "صدر في"),
    "ledger_issuer": ("signed by", "وقّعه"),
    "ledger_next": ("Next page", "الصفحة التالية"),
    "ledger_consultations": ("Earlier look-ups of this ledger", "استعلامات سابقة عن هذا السجل"),
    "ledger_asked_by": ("Asked by", "طلبه"),
    "role_ledger": ("ledger", "سجل الإفصاح"),
}
LABELS.update(LEDGER_LABELS)
#: the largest chain record number (a BIGINT)
_LAST_RECORD = 2**63 - 1


def window_from(args: Mapping) -> Window:
    """The period and page of a ledger request (``from``, ``until``, ``after``, ``limit``); InputError if bad."""
    return Window(since=_moment(args, "from"), until=_moment(args, "until"),
                  after=_number(args, "after", 0, 0, _LAST_RECORD), limit=_number(args, "limit", 100, 1, MAX_PAGE))


def disclosure_report(ledger: DisclosureLedger | None, civil_number: str, args: Mapping, who: Principal) -> dict:
    """The signed report for ``who``, its look-up chained under ``console:<name>``."""
    if ledger is None:
        raise MessageLogError("the disclosure ledger is not wired into this console (no signing key)")
    return ledger.report(civil_number, asked_by=f"console:{who.name}", window=window_from(args))


def _moment(args: Mapping, key: str) -> datetime | None:
    text = args.get(key)
    return moment(key, str(text)) if text not in (None, "") else None


def _number(args: Mapping, key: str, default: int, least: int, most: int) -> int:
    text = str(args.get(key) or default)
    if not text.isdigit() or len(text) > 19 or not least <= int(text) <= most:
        raise InputError(f"{key!r} must be a whole number from {least} to {most}, got {text[:20]!r}")
    return int(text)
