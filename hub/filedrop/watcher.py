"""The drop-folder watcher: claim, read, accept through the pipeline, file away.

    watcher = DropWatcher(settings, adapters, pipeline)
    watcher.scan_once()            # one pass over every inbox -> [Outcome]
    watcher.run(stop_event)        # keep scanning until stop is set

Several watchers (threads or processes, on one machine) may share the drop
folders: a file is claimed by an atomic rename, and a file in
``processing/`` is locked by the watcher working on it, so no file is
processed twice. Files left in ``processing/`` by a crash are resumed on
start; the item ids derive from the file content, so a resumed file adds
only what is missing. No exception escapes for a bad file: it ends in
``failed/`` with a report, under a generated name when its own cannot be used.
A file that cannot be opened or moved goes back to the inbox, is tried again
after a back-off, and is set aside in ``quarantine/`` when it keeps failing
(:mod:`hub.filedrop.retries`); it never holds up the other files of the scan.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from itertools import islice
from pathlib import Path

from hub.adapter import Adapter, FileDrop
from hub.config import Settings
from hub.errors import ConflictingMessageError, MessageLogError, RabtError
from hub.filedrop import process
from hub.filedrop.filing import Filer
from hub.filedrop.folders import Claim, DropFolders
from hub.filedrop.names import (
    DONE_MARKER,
    Action,
    decide,
    filed_name,
    in_flight,
    matching_drop,
)
from hub.filedrop.process import Prepared, Rejected
from hub.filedrop.report import Outcome, receipt_json
from hub.filedrop.retries import Retries
from hub.outage import Watch
from hub.pipeline import Pipeline

log = logging.getLogger(__name__)

#: how a deferred outcome's reason begins when the message log could not store the file
LOG_UNAVAILABLE = "message log unavailable"

#: ``progress(outcome)`` after every file
Progress = Callable[[Outcome], None]
#: files claimed per scan by :meth:`DropWatcher.run` (it goes on where the last slice stopped)
SCAN_SLICE = 1000
#: inbox names a watcher keeps from one listing
BACKLOG = 20_000


class DropWatcher:
    """Processes the drop folders of every adapter that declares file drops.

    ``batch_files`` files are stored per message-log transaction (one commit
    for many small files); ``keep_items`` bounds how many items of one file
    are held in memory before the file is streamed twice instead.
    """

    def __init__(self, settings: Settings | Path, adapters: Iterable[Adapter], pipeline: Pipeline, *,
                 require_done_marker: bool = False, batch_files: int = 32, keep_items: int = 500,
                 progress: Progress | None = None, retries: Retries | None = None) -> None:
        root = settings.drop_dir if isinstance(settings, Settings) else Path(settings)
        self.adapters = {a.name: a for a in adapters if a.file_drops}
        self.folders = {name: DropFolders.create(root, name) for name in self.adapters}
        self.pipeline = pipeline
        self.require_done_marker = require_done_marker
        self.batch_files = max(1, batch_files)
        self.keep_items = max(1, keep_items)
        self.progress = progress
        self.retries = retries or Retries()
        self.filer = Filer(self.folders, self.retries, pipeline, self._tell)
        self._resumed: set[str] = set()
        self._listings: dict[str, tuple[deque[str], set[str]]] = {}
        # folder trouble is logged when it starts and ends, not on every scan (twice a second); the log's
        # outages are the role's to tell (hub.filedrop.wiring)
        self.folder_state = Watch(None, "file drop: folders", logger=log)

    def scan_once(self, agencies: Iterable[str] | None = None, *, limit: int | None = None) -> list[Outcome]:
        """One pass over the inboxes (all, or ``agencies``); the outcome of each file handled."""
        outcomes: list[Outcome] = []
        for agency in self._selected(agencies):
            if agency not in self._resumed:
                self._resumed.add(agency)
                outcomes += self._run_batches(agency, self._held_in_processing(agency))
            outcomes += self._run_batches(agency, self._claimed_from_inbox(agency, outcomes, limit))
        return outcomes

    def run(self, stop: threading.Event, interval: float = 0.5) -> None:
        """Scan until ``stop`` is set, pausing ``interval`` seconds when the inboxes are empty."""
        while not stop.is_set():
            try:
                # in slices: a month of files dropped at once must not pile up 100,000s of outcomes
                handled = self.scan_once(limit=SCAN_SLICE)
                self.folder_state.succeeded()
            except (OSError, RabtError) as exc:  # the folders themselves are unusable: keep trying
                self.folder_state.failed(exc)
                handled = []
            # the log being down puts every file back: scanning again at once would only spin
            if all(outcome.status == "deferred" for outcome in handled):
                stop.wait(interval)

    def _selected(self, agencies: Iterable[str] | None) -> list[str]:
        if agencies is None:
            return sorted(self.adapters)
        unknown = sorted(set(agencies) - set(self.adapters))
        if unknown:
            raise RabtError(f"no file drops declared for {', '.join(unknown)} "
                            f"(known: {', '.join(sorted(self.adapters)) or 'none'})")
        return sorted(set(agencies))

    def _held_in_processing(self, agency: str) -> Iterable[tuple[Claim, FileDrop]]:
        """Files a crashed watcher left in ``processing/`` that nobody holds now."""
        folders, drops = self.folders[agency], self.adapters[agency].file_drops
        for entry in folders.entries("processing"):
            drop = matching_drop(entry.name, drops)
            claim = folders.hold(entry.name) if drop and entry.kind == "file" else None
            if claim is not None:
                log.info("file drop: resuming %s/%s", agency, entry.name)
                yield claim, drop

    def _claimed_from_inbox(self, agency: str, outcomes: list[Outcome],
                            limit: int | None) -> Iterable[tuple[Claim, FileDrop]]:
        tried: set[str] = set()  # a file put back (log down) is not taken again in the same scan
        taken = 0
        while limit is None or taken < limit:
            names, markers = self._backlog(agency, tried)
            if not names:
                return  # nothing in the inbox this scan has not tried
            name = names.popleft()
            tried.add(name)
            if in_flight(name) or not self.retries.due(agency, name):
                continue  # being written, or backing off after failing
            try:
                claimed = self._claim_one(agency, name, markers, outcomes)
            except OSError as exc:  # this file cannot be opened or moved; the others go on
                outcomes.append(self.filer.trouble(agency, name, f"could not open or move the file: {exc.strerror or exc}"))
                continue
            if claimed is not None:
                taken += 1
                yield claimed

    def _claim_one(self, agency: str, name: str, markers: set[str],
                   outcomes: list[Outcome]) -> tuple[Claim, FileDrop] | None:
        """Decide on one inbox name and claim it if it is to be read; OSError when it cannot be."""
        folders, drops = self.folders[agency], self.adapters[agency].file_drops
        entry = folders.entry("inbox", name)
        if entry is None:
            return None  # taken by another watcher meanwhile
            # A same-named file still in processing/ is caught by the claim itself (the
            # rename never replaces), so ``busy`` costs no extra look-up per file here.
        decision = decide(entry, drops, marker=name + DONE_MARKER in markers, require_marker=self.require_done_marker)
        if decision.action is Action.REJECT:
            outcomes.append(self.filer.reject_unread(agency, name, decision.reason))
        elif decision.action is Action.CLAIM:
            claim = folders.claim(name)
            if claim is not None:
                self.retries.forget(agency, name)
                return claim, decision.drop
        return None

    def _backlog(self, agency: str, tried: set[str]) -> tuple[deque[str], set[str]]:
        """Inbox names not tried yet from the last listing, listing again once they are used up.

        A scan with a ``limit`` goes on where the last one stopped instead of
        listing (and sorting) a folder of 100,000s of names for every slice;
        only the first :data:`BACKLOG` names are kept, the rest wait for the
        next listing: without markers to match, the listing itself never holds
        more (a month of files in the inbox, listed whole, left each watcher
        ~20 MB larger for the rest of its life). A backlog used up mid-scan is
        listed again at once: with several watchers on one inbox, another may
        have taken every name this one kept, and the scan must not end while files wait.
        """
        names, markers = self._listings.get(agency, (None, set()))
        if not names:
            folders = self.folders[agency]
            if self.require_done_marker:
                listed = folders.names("inbox")
                names, markers = deque([name for name in listed if name not in tried][:BACKLOG]), set(listed)
            else:
                names = deque(folders.first_names("inbox", BACKLOG, skip=tried))
            self._listings[agency] = names, markers
        return names, markers

    def _run_batches(self, agency: str, claims: Iterable[tuple[Claim, FileDrop]]) -> list[Outcome]:
        """Claimed files in slices of ``batch_files``, each slice stage by stage.

        Reading every file of a slice, then checking each, then storing them
        all, rather than one file after the other, keeps each stage's code
        and tables (reader, mapping, schema, signing key) in the CPU cache:
        about a third less time per small file.
        """
        outcomes: list[Outcome] = []
        claims = iter(claims)
        while claimed := list(islice(claims, self.batch_files)):
            files = [self._attempt(Prepared.start(agency, claim, drop), self._read) for claim, drop in claimed]
            files = [self._attempt(p, self._check) if isinstance(p, Prepared) else p for p in files]
            outcomes += [p for p in files if isinstance(p, Outcome)]
            batch = [p for p in files if isinstance(p, Prepared)]
            if batch:
                outcomes += self._store(agency, batch)
        return outcomes

    def _attempt(self, prepared: Prepared, step: Callable[[Prepared], None]) -> Prepared | Outcome:
        """Run one stage on a file; a refusal or a reader/mapping bug fails that file, never the watcher."""
        try:
            step(prepared)
            return prepared
        except Rejected as rejected:
            return self._fail(prepared, rejected)
        except Exception as exc:
            log.exception("file drop: unexpected error on %s/%s", prepared.outcome.agency, prepared.claim.path.name)
            return self._fail(prepared, Rejected(f"internal error while reading the file: {exc!r}"))

    def _read(self, prepared: Prepared) -> None:
        claim, drop, outcome = prepared.claim, prepared.drop, prepared.outcome
        prepared.data = process.inspect(claim, drop, outcome)
        self.filer.refuse_reused_name(prepared.outcome)
        prepared.items = process.read_items(claim, drop, outcome, self.keep_items, prepared.data)
        if prepared.items is not None and len(prepared.items) == 1 and prepared.data is None:
            prepared.data = claim.path.read_bytes()

    def _check(self, prepared: Prepared) -> None:
        items, prepared.items = prepared.items, None
        if items is None:  # too many items to hold: check them all now, store later in chunks
            process.canonicalize_all(self.pipeline, prepared, self._reread(prepared), False, keep=False)
        else:
            prepared.records = process.canonicalize_all(self.pipeline, prepared, items, len(items) == 1, keep=True)

    def _reread(self, prepared: Prepared):
        return (item for item in process._guarded(prepared.drop, prepared.claim) if item.payload is not None)

    def _store(self, agency: str, batch: list[Prepared]) -> list[Outcome]:
        small = [p for p in batch if p.records is not None]
        outcomes = self._stored(small, lambda: process.commit(self.pipeline, small)) if small else []
        for prepared in (p for p in batch if p.records is None):
            outcomes += self._stored([prepared], lambda p=prepared: process.commit_streamed(
                self.pipeline, p, self.keep_items))
        return outcomes

    def _stored(self, files: list[Prepared], store: Callable[[], None]) -> list[Outcome]:
        """Run ``store`` for ``files``; then each goes to done/ — or back to the inbox if the log is down."""
        try:
            store()
        except MessageLogError as exc:  # said once per outage by the role's watch (hub.filedrop.wiring)
            log.debug("file drop: message log unavailable, %d file(s) put back: %s", len(files), exc)
            return [self._defer(p, f"{LOG_UNAVAILABLE}: {exc.reason}") for p in files]
        except Rejected as rejected:  # a big file that read differently the second time
            return [self._fail(p, rejected) for p in files]
        except ConflictingMessageError as exc:  # nothing stored: find the file it belongs to
            if len(files) > 1:
                return [o for p in files for o in self._stored([p], lambda p=p: process.commit(self.pipeline, [p]))]
            return [self._fail(files[0], Rejected(f"{exc.code}: {exc.reason}"))]
        except Exception:  # a bug must not strand the files in processing/ nor stop the watcher
            log.exception("file drop: unexpected error storing %d file(s)", len(files))
            return [self._defer(p, "internal error while storing; tried again later") for p in files]
        return [self._done(p) for p in files]

    def _done(self, prepared: Prepared) -> Outcome:
        outcome = prepared.outcome
        outcome.status = "done"
        try:
            outcome.path = self.filer.file_away(prepared.claim.path, "done", outcome,
                                           {".receipt.json": receipt_json(outcome)})
        except OSError as exc:  # stored, but not filed: back to the inbox, where the repeat gets its receipt
            return self._defer(prepared, f"could not move the file to done/: {exc.strerror or exc}", trouble=True)
        finally:
            prepared.claim.release()
        self._tell(outcome)
        return outcome

    def _fail(self, prepared: Prepared, rejected: Rejected) -> Outcome:
        outcome = prepared.outcome
        outcome.status, outcome.reason = "failed", rejected.reason
        if rejected.line and not outcome.errors:
            outcome.add_error(rejected.line, rejected.reason)
        try:
            outcome.path = self.filer.file_away(prepared.claim.path, "failed", outcome)
        except OSError as exc:
            return self._defer(prepared, f"could not move the file to failed/: {exc.strerror or exc}", trouble=True)
        finally:
            prepared.claim.release()
        process.keep_refusal(self.pipeline, outcome, prepared.data)
        self._tell(outcome)
        return outcome

    def _defer(self, prepared: Prepared, reason: str, *, trouble: bool = False) -> Outcome:
        """Put a claimed file back in the inbox; with ``trouble`` it counts as a failed try (back-off)."""
        outcome = prepared.outcome
        try:
            self.folders[outcome.agency].back_to_inbox(prepared.claim.path)
        except OSError as exc:  # left in processing/: the next start resumes it
            log.error("file drop: could not put %s back in the inbox: %s", filed_name(outcome.name), exc)
        finally:
            prepared.claim.release()
        if trouble:
            return self.filer.trouble(outcome.agency, outcome.name, reason)
        outcome.status, outcome.reason, outcome.items = "deferred", reason, []
        self._tell(outcome)
        return outcome

    def _tell(self, outcome: Outcome) -> None:
        if self.progress is not None:
            try:
                self.progress(outcome)
            except Exception:  # a broken progress display must not lose files
                log.exception("file drop: progress callback failed")

