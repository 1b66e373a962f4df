"""How the console writes a moment: ISO-8601 in UTC to the millisecond, ``Z`` for the zone.

One function shared by the overview (:mod:`hub.console.overview`) and the
rest of the service (:mod:`hub.console.service`), so every time the API
gives reads the same.
"""

from __future__ import annotations

from datetime import datetime, timezone


def iso(moment: datetime | float | None) -> str | None:
    """ISO-8601 UTC text for a datetime or unix time (None stays None)."""
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
