"""Finding the adapters that declare file drops, and the watcher role of ``rabt serve``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from hub.adapter import Adapter
from hub.config import Settings
from hub.errors import ConfigError, MessageLogUnavailableError
from hub.filedrop.report import Outcome
from hub.outage import Watch
from hub.pipeline import Pipeline
from hub.registry import adapter_names, load_adapter
from hub.roles import settle_garbage_collector

log = logging.getLogger(__name__)


def file_drop_adapters(names: Iterable[str] | None = None) -> list[Adapter]:
    """Installed adapters that declare file drops (all, or the ones named).

    A named adapter that cannot be loaded is an error; when scanning all of
    them, one broken adapter package is logged and skipped so the other
    agencies' files still flow.
    """
    if names is not None:
        adapters = [load_adapter(name) for name in names]
        missing = [a.name for a in adapters if not a.file_drops]
        if missing:
            raise ConfigError(f"adapter {', '.join(missing)} declares no file drops")
        return adapters
    found = []
    for name in adapter_names():
        try:
            adapter = load_adapter(name)
        except (ImportError, AttributeError, ConfigError) as exc:
            log.warning("file drop: adapter %s cannot be loaded, its folder is not watched: %s", name, exc)
            continue
        if getattr(adapter, "file_drops", ()):
            found.append(adapter)
    return found


def watcher_loop(settings: Settings, pipeline: Pipeline, adapters: Iterable[Adapter] | None = None, *,
                 interval: float = 0.5, batch_files: int = 32) -> Callable[[threading.Event], None]:
    """The ``watcher`` role: scan the drop folders of ``adapters`` (default: all with file drops) until stopped.

    ``batch_files`` files are stored per message-log transaction.
    """
    from hub.filedrop.watcher import DropWatcher

    def run(stop: threading.Event) -> None:
        chosen = file_drop_adapters() if adapters is None else adapters
        settle_garbage_collector()
        database = Watch("watcher", "message log")
        try:
            watcher = DropWatcher(settings, chosen, pipeline, batch_files=batch_files,
                                  progress=lambda outcome: _told(outcome, database))
            watcher.run(stop, interval)
        finally:
            database.clear()

    return run


def _told(outcome: Outcome, database: Watch) -> None:
    """Log a file's outcome; a log outage once when it begins and once when it ends, not per file and scan.

    While the log is down the watcher puts every file back in its inbox and
    tries again at the next scan, however long that lasts.
    """
    from hub.filedrop.watcher import LOG_UNAVAILABLE

    if outcome.status == "deferred" and (outcome.reason or "").startswith(LOG_UNAVAILABLE):
        database.failed(MessageLogUnavailableError(outcome.reason[len(LOG_UNAVAILABLE):].lstrip(": ")))
        return
    if outcome.status == "done":
        database.succeeded()
    log.info("file drop: %s", outcome.summary())
