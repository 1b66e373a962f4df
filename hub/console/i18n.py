"""Console labels in English and Arabic; ``?lang=ar`` switches (and is remembered).

Arabic pages are ``dir="rtl"``. Data (names, reasons, payloads) is shown in
``<bdi>`` / ``dir="auto"`` elements, so an Arabic name reads right-to-left on
an English page and a Latin id reads left-to-right on an Arabic one.
"""

from __future__ import annotations

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
    "events": ("Events", "الأحداث"),
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


def pick(lang: str | None) -> str:
    """A supported language code (English by default)."""
    return lang if lang in LANGUAGES else "en"


def translator(lang: str):
    """``t(key)`` for ``lang``; an unknown key shows as itself (visible, not a crash)."""
    index = LANGUAGES.index(pick(lang))
    return lambda key: LABELS[key][index] if key in LABELS else key
