"""Labels of the operator-action pages (dead-letter filters, purge, peek, chained actions), both languages.

Kept beside :mod:`hub.console.i18n` and added to its table on import, so the
pages that act on queues carry their own words.
"""

from __future__ import annotations

from hub.console.i18n import LABELS

OPERATION_LABELS: dict[str, tuple[str, str]] = {
    "filter": ("Filter", "تصفية"),
    "agency": ("Agency", "الجهة"),
    "message_type": ("Message type", "نوع الرسالة"),
    "since": ("Since (UTC)", "منذ (UTC)"),
    "until": ("Until (UTC)", "حتى (UTC)"),
    "replay_matching": ("Replay all matching", "إعادة إرسال كل المطابقة"),
    "purge": ("Purge dead letters of a queue", "حذف كل الرسائل الميتة لطابور"),
    "purge_confirm": ("Type the queue's name to confirm", "اكتب اسم الطابور للتأكيد"),
    "purge_button": ("Purge", "حذف الكل"),
    "peek": ("Peek", "إلقاء نظرة"),
    "peek_note": ("From the hub's records: the broker is not touched, so the order is close, not exact.",
                  "من سجلات المحور: لا يُلمس الوسيط، لذا الترتيب تقريبي."),
    "depth": ("Depth", "العمق"),
    "not_stored": ("Not stored by the hub (published by another system): its hops and dead letter only.",
                   "لم يخزنها المحور (نشرها نظام آخر): مراحلها ورسالتها الميتة فقط."),
    "chained_actions": ("Actions in the hash chain", "الإجراءات في سلسلة التجزئة"),
    "record": ("Record", "السجل"),
    "consumers_control": ("Consumption", "الاستهلاك"),
    "destination": ("Destination", "الوجهة"),
    "state": ("State", "الحالة"),
    "consuming": ("Consuming", "يستهلك"),
    "paused": ("Paused", "موقوف مؤقتًا"),
    "paused_by": ("Paused by {actor} since {since}", "أوقفه {actor} منذ {since}"),
    "pause_button": ("Pause", "إيقاف مؤقت"),
    "resume_button": ("Resume", "استئناف"),
    "reset_circuit_button": ("Reset circuit", "إعادة ضبط الدائرة"),
    "controls_note": ("Workers take a command within a few seconds; a paused queue keeps its messages.",
                      "ينفّذ العمال الأمر خلال ثوانٍ؛ ويحتفظ الطابور الموقوف برسائله."),
    "commands": ("Commands to the consumers", "الأوامر إلى المستهلكين"),
    "command": ("Command", "الأمر"),
    "applied": ("Applied", "نُفّذ"),
    "command_pause": ("pause", "إيقاف مؤقت"),
    "command_resume": ("resume", "استئناف"),
    "command_reset": ("reset circuit", "إعادة ضبط الدائرة"),
    "command_done": ("{command} {destination}: command {seq} written", "{command} {destination}: كُتب الأمر {seq}"),
}
LABELS.update(OPERATION_LABELS)
