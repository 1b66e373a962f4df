"""Words for values the hub names on the actions and trail pages (actions, outcomes, commands, hops), both
languages.

Kept beside :mod:`hub.console.i18n` and added to its table on import. The tuples
below are every name the console's action log, the chain's operator records and
the consumer commands use (a name without words is shown as it is, never dropped).
"""

from __future__ import annotations

from hub.console.i18n import LABELS

#: what the console's action log names (hub.console.operations, controls, service)
CONSOLE_ACTIONS = ("replay", "discard", "replay-filtered", "purge", "verify-chain", "pause", "resume",
                   "reset-circuit")
#: how an action ended, as the action log says it
OUTCOMES = ("ok", "refused", "failed", "not-found", "none-matched", "broken")

VALUE_LABELS: dict[str, tuple[str, str]] = {
    "status_called": ("called", "استُدعيت الجهة"),
    "status_failed": ("failed", "فشلت"),
    "command_pause": ("pause", "إيقاف مؤقت"),
    "command_resume": ("resume", "استئناف"),
    "command_reset": ("reset circuit", "إعادة ضبط الدائرة"),
    "action_replay": ("replay", "إعادة إرسال"),
    "action_discard": ("discard", "تجاهل"),
    "action_replay-filtered": ("replay matching", "إعادة إرسال المطابقة"),
    "action_purge": ("purge", "حذف الكل"),
    "action_verify-chain": ("verify chain", "التحقق من السلسلة"),
    "action_pause": ("pause", "إيقاف مؤقت"),
    "action_resume": ("resume", "استئناف"),
    "action_reset-circuit": ("reset circuit", "إعادة ضبط الدائرة"),
    "action_purged": ("dead letters purged", "حُذفت الرسائل الميتة"),
    "action_ledger-query": ("ledger looked up", "اطّلاع على سجل الإفصاح"),
    "outcome_ok": ("ok", "تم"),
    "outcome_refused": ("refused", "مرفوض"),
    "outcome_failed": ("failed", "فشل"),
    "outcome_not-found": ("not found", "غير موجود"),
    "outcome_none-matched": ("none matched", "لا شيء مطابق"),
    "outcome_broken": ("BROKEN", "مكسورة"),
    "action_col": ("Action", "الإجراء"),
    "target_col": ("Target", "الهدف"),
    "outcome_col": ("Outcome", "النتيجة"),
    "detail_col": ("Detail", "التفاصيل"),
}
LABELS.update(VALUE_LABELS)
