"""Filing files away under names that fit, and backing off the ones that cannot be moved.

The watcher decides what becomes of a file; the :class:`Filer` carries it
out: ``done/``, ``failed/`` or ``quarantine/``, under the file's own name
when every suffix still fits, else under a generated one that the report
names next to the original; a file that cannot be moved is counted by
:class:`~hub.filedrop.retries.Retries`, and set aside when it keeps failing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from hub.filedrop import process
from hub.filedrop.folders import DropFolders
from hub.filedrop.names import filed_name
from hub.filedrop.process import Rejected
from hub.filedrop.report import Outcome, receipt_head, report_json, report_text
from hub.filedrop.retries import Retries
from hub.pipeline import Pipeline

log = logging.getLogger(__name__)


class Filer:
    """File moves and their failures for the watcher; ``tell(outcome)`` reports each file handled."""

    def __init__(self, folders: dict[str, DropFolders], retries: Retries, pipeline: Pipeline,
                 tell: Callable[[Outcome], None]) -> None:
        self.folders = folders
        self.retries = retries
        self.pipeline = pipeline
        self.tell = tell

    def file_away(self, path: Path, folder: str, outcome: Outcome, sidecars: dict[str, bytes] | None = None) -> Path:
        """``folders.finish`` under the file's own name, or a generated one the report names."""
        safe = filed_name(outcome.name)
        outcome.filed_as = None if safe == outcome.name else safe
        return self.folders[outcome.agency].finish(path, folder, sidecars or report_files(outcome), safe)

    def reject_unread(self, agency: str, name: str, reason: str) -> Outcome:
        """Move a refused entry (a symlink, a wrong name…) to ``failed/`` without opening it.

        OSError when it cannot be moved: the caller backs it off, and no
        refusal is recorded for a try that changed nothing.
        """
        folders = self.folders[agency]
        outcome = Outcome(agency, name, "failed", reason=reason)
        try:
            outcome.path = self.file_away(folders.inbox / name, "failed", outcome)
        except FileNotFoundError:
            outcome.reason += " (it disappeared before it could be moved)"
        process.keep_refusal(self.pipeline, outcome, None)
        self.retries.forget(agency, name)
        self.tell(outcome)
        return outcome

    def trouble(self, agency: str, name: str, reason: str) -> Outcome:
        """A file that could not be opened or moved (it is in the inbox): back off, or set it aside."""
        tries = self.retries.failed(agency, name)
        outcome = Outcome(agency, name, "deferred", tries=tries,
                          reason=f"{reason}; try {tries} of {self.retries.max_tries}")
        if self.retries.exhausted(tries):
            outcome.status = "quarantined"
            try:
                outcome.path = self.file_away(self.folders[agency].inbox / name, "quarantine", outcome)
            except OSError as exc:
                log.error("file drop: could not quarantine %s/%s: %s", agency, filed_name(name), exc)
                outcome.status = "deferred"  # tried again, at the longest back-off
            else:
                self.retries.forget(agency, name, quarantined=True)
                process.keep_refusal(self.pipeline, outcome, None)
        log.warning("file drop: %s", outcome.summary())
        self.tell(outcome)
        return outcome

    def refuse_reused_name(self, outcome: Outcome) -> None:
        """A name accepted before for other content is refused: the same content is a repeat, receipted as one.

        Taking it as a new file would send a second version under the name the
        agency and the licensing side already know for the first.
        """
        earlier = receipt_head(self.folders[outcome.agency].head("done", outcome.name + ".receipt.json") or b"")
        if earlier is not None and earlier[0] != outcome.sha256:
            raise Rejected(f"conflict: a file named {outcome.name} with other content (SHA-256 {earlier[0]}) "
                           f"was accepted before as hub message {earlier[1]} and more (done/{outcome.name}); "
                           "drop a new file under a new name")


def report_files(outcome: Outcome) -> dict[str, bytes]:
    """The sidecars of a rejected (or quarantined) file."""
    return {".report.json": report_json(outcome), ".report.txt": report_text(outcome)}
