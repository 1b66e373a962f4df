"""Console labels in English and Arabic; ``?lang=ar`` switches (and is remembered).

Arabic pages are ``dir="rtl"``. Data (names, reasons, payloads) is shown in
``<bdi>`` / ``dir="auto"`` elements, so an Arabic name reads right-to-left on
an English page and a Latin id reads left-to-right on an Arabic one.

Values the hub itself names (a role, a message status, a circuit state, an
alarm) are labels too: ``value("circuit", "open")`` looks up ``circuit_open``.
Digits are Latin or Arabic-Indic by the operator's choice (``?digits=arabic``,
kept in the session), independent of the language. Times are shown in the
operator's zone (the ``[console] timezone`` setting) with UTC on hover.
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

LANGUAGES = ("en", "ar")

LABELS: dict[str, tuple[str, str]] = {
    "title": ("Rabt operator console", "وحدة تحكم المشغل - ربط"),
    "overview": ("Overview", "نظرة عامة"),
    "dead_letters": ("Dead letters", "الرسائل الميتة"),
    "trail": ("Message trail", "مسار الرسالة"),
    "audit": ("Audit chain", "سلسلة التدقيق"),
    "actions": ("Console actions", "إجراءات وحدة التحكم"),
    "login": ("Log in", "تسجيل الدخول"),
    "logout": ("Log out", "تسجيل الخروج"),
    "username": ("User name", "اسم المستخدم"),
    "password": ("Password", "كلمة المرور"),
    "bad_login": ("Wrong user name or password.", "اسم المستخدم أو كلمة المرور غير صحيحة."),
    "throttled_login": ("Too many failed logins: try again in {minutes} minute(s).",
                        "محاولات دخول فاشلة كثيرة: حاول مرة أخرى بعد {minutes} دقيقة."),
    "queues": ("Queues", "الطوابير"),
    "queue": ("Queue", "الطابور"),
    "ready": ("Ready", "جاهزة"),
    "unacked": ("Unacked", "غير مؤكدة"),
    "consumers": ("Consumers", "المستهلكون"),
    "publish_rate": ("Published /s", "المنشورة/ث"),
    "deliver_rate": ("Delivered /s", "المسلّمة/ث"),
    "net_rate": ("Depth change /s", "تغير العمق/ث"),
    "adapters": ("Adapters", "المحولات"),
    "adapter": ("Adapter", "المحول"),
    "last_success": ("Last success", "آخر نجاح"),
    "error_rate": ("Error rate", "معدل الأخطاء"),
    "circuit": ("Circuit", "الدائرة"),
    "received": ("Received", "المستلمة"),
    "refused": ("Refused", "المرفوضة"),
    "applied_by_consumer": ("Applied", "المنفّذة"),
    "failed_at_consumer": ("Failed at consumer", "أخفقت لدى المستهلك"),
    "broker": ("Broker", "الوسيط"),
    "database": ("Database", "قاعدة البيانات"),
    "reachable": ("reachable", "متاح"),
    "unreachable": ("unreachable", "غير متاح"),
    "outbox_backlog": ("Outbox backlog", "المتراكم في صندوق الصادر"),
    "updated": ("Updated", "آخر تحديث"),
    "reason": ("Reason", "السبب"),
    "attempts": ("Attempts", "المحاولات"),
    "message_id": ("Message id", "معرف الرسالة"),
    "original": ("Original payload", "الحمولة الأصلية"),
    "canonical": ("Canonical envelope", "المغلف الموحد"),
    "replay": ("Replay", "إعادة الإرسال"),
    "replay_selected": ("Replay selected", "إعادة إرسال المحدد"),
    "discard": ("Discard", "تجاهل"),
    "none": ("None.", "لا يوجد."),
    "search": ("Search", "بحث"),
    "search_hint": ("Message id, correlation id, civil or passport number, or a worker's name",
                    "معرف الرسالة أو معرف الارتباط أو الرقم المدني أو رقم الجواز أو اسم العامل"),
    "signature": ("Signature", "التوقيع"),
    "valid": ("valid", "صالح"),
    "invalid": ("INVALID", "غير صالح"),
    "archived_in": ("payloads archived in", "المحتوى مؤرشف في"),
    "events": ("Events", "الأحداث"),
    "projections": ("Fields each party was sent", "الحقول المرسلة لكل جهة"),
    "projection_to": ("Sent to", "أرسلت إلى"),
    "projection_sent": ("Fields sent", "الحقول المرسلة"),
    "projection_withheld": ("Fields withheld", "الحقول المحجوبة"),
    "status": ("Status", "الحالة"),
    "correlation": ("Correlation id", "معرف الارتباط"),
    "time": ("Time", "الوقت"),
    "actor": ("By", "بواسطة"),
    "names": ("Names", "الأسماء"),
    "verify_chain": ("Verify the audit chain", "التحقق من سلسلة التدقيق"),
    "chain_ok": ("The audit chain verifies.", "سلسلة التدقيق سليمة."),
    "chain_broken": ("The audit chain is BROKEN.", "سلسلة التدقيق مكسورة."),
    "records": ("Records", "السجلات"),
    "done": ("Done.", "تم."),
    "language": ("العربية", "English"),
    "no_match": ("No message matches", "لا توجد رسالة مطابقة لـ"),
    "searched": ("Searched: message ids, correlation ids, civil and passport numbers, and worker names "
                 "(compared as {normalized}, ignoring diacritics, alef forms and case).",
                 "تم البحث في: معرفات الرسائل ومعرفات الارتباط والأرقام المدنية وأرقام الجوازات وأسماء العمال "
                 "(بصيغة {normalized}، دون اعتبار التشكيل وأشكال الألف وحالة الأحرف)."),
    "certificates": ("Signing certificates", "شهادات التوقيع"),
    "party": ("Party", "الجهة"),
    "serial": ("Serial", "الرقم التسلسلي"),
    "expires": ("Expires", "تنتهي في"),
    "days_left": ("Days left", "الأيام المتبقية"),
    "accepted_until": ("Previous certificate, accepted until", "شهادة سابقة، مقبولة حتى"),
    "cert_ok": ("ok", "سليمة"),
    "cert_expiring": ("expiring", "تنتهي قريبا"),
    "cert_expired": ("EXPIRED", "منتهية"),
}
# values the hub names: v("circuit", "open") reads circuit_open
LABELS.update({
    "role_viewer": ("viewer", "مطّلع"),
    "role_operator": ("operator", "مشغّل"),
    "role_admin": ("admin", "مسؤول"),
    "circuit_closed": ("closed", "مغلقة"),
    "circuit_open": ("OPEN", "مفتوحة"),
    "circuit_half-open": ("half-open", "نصف مفتوحة"),
    "circuit_unknown": ("unknown", "غير معروفة"),
    "circuit_none": ("none", "لا توجد"),
    "status_received": ("received", "مستلمة"),
    "status_published": ("published", "منشورة"),
    "status_delivered": ("delivered", "مسلّمة"),
    "status_retried": ("retried", "أعيدت المحاولة"),
    "status_dead-lettered": ("dead-lettered", "رسالة ميتة"),
    "status_replayed": ("replayed", "أعيد إرسالها"),
    "status_discarded": ("discarded", "متجاهلة"),
    "status_refused": ("refused", "مرفوضة"),
    "status_accepted": ("accepted", "مقبولة"),
    "status_answered": ("answered", "أجيب عنها"),
    "status_projected": ("projected", "أرسلت مقتصرة"),
    "status_applied": ("applied", "نُفّذت"),
    "severity_critical": ("critical", "حرج"),
    "severity_warning": ("warning", "تحذير"),
    "check_broker": ("broker", "الوسيط"),
    "check_database": ("database", "قاعدة البيانات"),
    "check_keys": ("keys", "المفاتيح"),
})
# the alarm band, the history charts and the overview's numbers
LABELS.update({
    "alarms": ("What is wrong now", "ما الخلل الآن"),
    "no_alarms": ("Nothing is wrong.", "لا يوجد خلل."),
    "alarm_RabtNotReady": ("Not ready: {subject} check fails", "غير جاهز: فحص {subject} يفشل"),
    "todo_RabtNotReady": ("Bring {subject} back; /readyz says why.", "أعد {subject} إلى العمل؛ ‏/readyz يبين السبب."),
    "alarm_RabtQueueWithoutConsumer": ("{value} messages wait in {subject} and nothing consumes them",
                                     "{value} رسالة تنتظر في {subject} ولا مستهلك لها"),
    "todo_RabtQueueWithoutConsumer": ("Start the consumer of {subject} (systemctl status rabt-worker, or the "
                                      "licensing system's own consumer for its queue).",
                                      "شغّل مستهلك {subject} (systemctl status rabt-worker، أو مستهلك نظام "
                                      "الترخيص لطابوره)."),
    "alarm_RabtCircuitOpen": ("Circuit to {subject} is open: calls are failing",
                            "الدائرة إلى {subject} مفتوحة: الطلبات تفشل"),
    "todo_RabtCircuitOpen": ("Check that {subject}'s service answers; calls resume by themselves when it does.",
                           "تحقق من أن خدمة {subject} تستجيب؛ تُستأنف الطلبات تلقائيا عندها."),
    "alarm_RabtConsumptionPaused": ("Consumption paused: {subject}'s workers take no messages",
                                    "الاستهلاك موقوف مؤقتًا: عمال {subject} لا يأخذون رسائل"),
    "todo_RabtConsumptionPaused": ("Resume {subject} on the overview once the reason for the pause is gone.",
                                   "استأنف {subject} من النظرة العامة حين يزول سبب الإيقاف."),
    "alarm_RabtCertificateExpired": ("Certificate of {subject} has expired", "انتهت صلاحية شهادة {subject}"),
    "todo_RabtCertificateExpired": ("Register the party's renewed certificate: rabt pki register --replace.",
                                  "سجّل الشهادة المجددة للجهة: rabt pki register --replace."),
    "alarm_RabtOutboxLagging": ("Outbox: the oldest message waits {value} s for the relay",
                              "صندوق الصادر: أقدم رسالة تنتظر {value} ث"),
    "todo_RabtOutboxLagging": ("Check the relay and the broker (rabt relay, /readyz).",
                             "تحقق من المرحّل والوسيط (rabt relay، ‏/readyz)."),
    "alarm_RabtAnchorsUnstamped": ("{subject}: the oldest log anchor has waited {value} s for its timestamp",
                                   "{subject}: أقدم مرساة في السجل تنتظر ختمها الزمني منذ {value} ث"),
    "todo_RabtAnchorsUnstamped": ("Check that the TSA answers (RABT_TSA_URL) and the stamper runs; the anchors "
                                  "missed meanwhile are stamped once it is back.",
                                  "تحقق من أن سلطة الختم الزمني تستجيب (RABT_TSA_URL) وأن دور الختم يعمل؛ "
                                  "تُختم المراسي الفائتة عند عودتها."),
    "alarm_RabtRetentionOverdue": ("{subject}: the newest closed period's archive is {value} s overdue",
                                   "{subject}: أرشيف آخر فترة مغلقة متأخر {value} ث"),
    "todo_RabtRetentionOverdue": ("Check the retention role: its /readyz (check archive) names the failing step, "
                                  "its log says why; if it cannot recover, archive by hand with rabt audit archive.",
                                  "تحقق من دور الاحتفاظ: ‏/readyz لديه (الفحص archive) يسمي الخطوة الفاشلة وسجله "
                                  "يبين السبب؛ وإن لم يتعافَ فأرشف يدويا بالأمر rabt audit archive."),
    "alarm_RabtDeadLettersGrowing": ("Dead letters of {subject} grew by {value} recently",
                                   "الرسائل الميتة في {subject} زادت {value} مؤخرا"),
    "todo_RabtDeadLettersGrowing": ("Read the reasons, fix the cause, then replay.",
                                  "اقرأ الأسباب وأصلح العلة ثم أعد الإرسال."),
    "alarm_RabtDeadLetters": ("{value} dead letters wait in {subject}", "{value} رسالة ميتة في {subject}"),
    "todo_RabtDeadLetters": ("Replay or discard them on the dead-letters page.",
                           "أعد إرسالها أو تجاهلها في صفحة الرسائل الميتة."),
    "alarm_RabtBacklogGrowing": ("Backlog of {subject} has grown by {value} for minutes",
                               "تراكم {subject} يزداد بمقدار {value} منذ دقائق"),
    "todo_RabtBacklogGrowing": ("Consumers are slower than arrivals: add workers or find what slows them.",
                              "المستهلكون أبطأ من الوارد: أضف عمالا أو ابحث عما يبطئهم."),
    "alarm_RabtCertificateExpiring": ("Certificate of {subject} expires in {value} days",
                                    "شهادة {subject} تنتهي خلال {value} يوما"),
    "todo_RabtCertificateExpiring": ("Ask the party for its renewed certificate and register it with an overlap.",
                                   "اطلب من الجهة شهادتها المجددة وسجلها مع فترة تداخل."),
    "alarm_RabtRefusalsSpiking": ("{subject}: {value} refusals in the last minute",
                                "{subject}: {value} رفضا في الدقيقة الأخيرة"),
    "todo_RabtRefusalsSpiking": ("Look at the refusal reasons below; call the agency if it is their side.",
                               "راجع أسباب الرفض أدناه؛ اتصل بالجهة إن كان الخلل لديها."),
    "history": ("History", "السجل الزمني"),
    "last_hour": ("Last hour", "الساعة الأخيرة"),
    "last_day": ("Last day", "اليوم الأخير"),
    "depth": ("Depth", "العمق"),
    "now": ("now", "الآن"),
    "per_second": ("/s", "/ث"),
    "latency": ("Latency", "زمن الاستجابة"),
    "operation": ("Operation", "العملية"),
    "count": ("Count", "العدد"),
    "p50": ("p50 (s)", "الوسيط (ث)"),
    "p99": ("p99 (s)", "المئين 99 (ث)"),
    "target": ("Target p99 (s)", "الهدف (ث)"),
    "slo_met": ("met", "محقق"),
    "slo_missed": ("MISSED", "غير محقق"),
    "refusals_by_reason": ("Refusals by reason (last hour)", "الرفض حسب السبب (الساعة الأخيرة)"),
    "code": ("Reason", "السبب"),
    "seconds_unit": ("s", "ث"),
    "digits": ("Digits", "الأرقام"),
    "digits_latin": ("Latin digits", "أرقام لاتينية"),
    "digits_arabic": ("Arabic-Indic digits", "أرقام هندية"),
    "received_rate": ("Received /s", "المستلمة/ث"),
    "refused_rate": ("Refused /s", "المرفوضة/ث"),
})
ARABIC_INDIC = str.maketrans("0123456789.%", "٠١٢٣٤٥٦٧٨٩٫٪")
DIGIT_STYLES = ("latin", "arabic")


def pick(lang: str | None) -> str:
    """A supported language code (English by default)."""
    return lang if lang in LANGUAGES else "en"


def translator(lang: str):
    """``t(key, **fields)`` for ``lang``; an unknown key shows as itself (visible, not a crash)."""
    index = LANGUAGES.index(pick(lang))

    def t(key: str, **fields) -> str:
        text = LABELS[key][index] if key in LABELS else key
        return text.format(**fields) if fields else text
    return t


def value_translator(lang: str):
    """``v(kind, value)``: the label ``<kind>_<value>`` in ``lang``, or the value itself when there is none."""
    t = translator(lang)
    return lambda kind, value: t(f"{kind}_{value}") if f"{kind}_{value}" in LABELS else str(value)


def action_translator(lang: str):
    """``act(name)``: an action or chained record's name — the label ``action_<name>``, else
    ``status_<name>``, else the name itself."""
    v = value_translator(lang)
    return lambda name: v("action", name) if f"action_{name}" in LABELS else v("status", name)


def with_digits(text: object, style: str) -> str:
    """``text`` with Arabic-Indic digits (and decimal and percent signs) when ``style`` is ``arabic``."""
    return str(text).translate(ARABIC_INDIC) if style == "arabic" else str(text)


def local_time(utc_text: str | None, zone: str, style: str = "latin") -> Markup:
    """``<time>`` showing an ISO UTC time in ``zone`` (``YYYY-MM-DD HH:MM:SS``), the UTC text on hover."""
    if not utc_text:
        return Markup("—")
    try:
        moment = datetime.fromisoformat(str(utc_text).replace("Z", "+00:00"))
    except ValueError:
        return escape(utc_text)  # not a time the hub wrote: shown as it is
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    shown = with_digits(moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S"), style)
    utc = moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup('<time datetime="{0}" title="{1}" dir="ltr">{2}</time>').format(utc_text, utc, shown)


def js_labels(lang: str) -> dict[str, str]:
    """The labels the overview's script needs to redraw values in ``lang`` (values, alarms, units)."""
    t = translator(lang)
    prefixes = ("circuit_", "severity_", "alarm_", "todo_", "check_", "slo_", "cert_")
    wanted = [k for k in LABELS if k.startswith(prefixes)]
    return {key: t(key) for key in wanted + ["no_alarms", "seconds_unit", "now", "per_second", "paused", "paused_by",
                                             "consuming", "pause_button", "resume_button", "accepted_until", "depth"]}


def template_helpers(lang: str, digits: str, zone: str) -> dict:
    """What every template uses to say things in the operator's language, digits and zone."""
    style = digits if digits in DIGIT_STYLES else "latin"
    return {"t": translator(lang), "v": value_translator(lang), "act": action_translator(lang), "digits": style,
            "zone": zone,
            "n": lambda text: with_digits(text, style), "when": lambda utc: local_time(utc, zone, style),
            "js_labels": js_labels(lang)}
