"""The file-drop watcher role waits out a message-log outage: files go back to the inbox, one line each way."""

from __future__ import annotations

import logging
import threading
import time

from hub.errors import MessageLogUnavailableError
from hub.filedrop import watcher_loop
from hub.outage import OUTAGES
from tests.unit.test_filedrop_watcher import ARRIVALS, arrivals, drop, listing, make_pipeline


def test_the_watcher_role_waits_out_a_log_outage_and_says_so_once_each_way(tmp_path, trust_store, caplog):
    root, pipeline = tmp_path / "drop", make_pipeline(trust_store, f"sqlite:///{tmp_path / 'log.sqlite3'}")
    store = pipeline.log.accept_many
    down = threading.Event()
    down.set()
    refused = []

    def accept_many(*args, **kwargs):
        if down.is_set():
            refused.append(1)
            raise MessageLogUnavailableError("message log could not store: connection refused")
        return store(*args, **kwargs)

    pipeline.log.accept_many = accept_many
    stop = threading.Event()
    role = threading.Thread(target=watcher_loop(root, pipeline, [ARRIVALS], interval=0.05), args=(stop,))
    with caplog.at_level(logging.DEBUG):
        drop(root, "ARR_during.txt", arrivals(2))
        role.start()
        deadline = time.monotonic() + 30  # several scans meet the outage (counted, not timed: a loaded machine is slow)
        while len(refused) < 5:
            assert time.monotonic() < deadline, f"{len(refused)} scans met the outage"
            time.sleep(0.01)
        # a scan may hold the file in processing/ at any moment: between two it is back in the inbox
        deadline = time.monotonic() + 10
        while listing(root, "inbox") != ["ARR_during.txt"]:
            assert time.monotonic() < deadline, listing(root, "processing")
            time.sleep(0.005)
        assert not (root / "police" / "done").exists() or listing(root, "done") == []
        assert OUTAGES.current()["message log"].startswith("watcher: message log unreachable")
        down.clear()
        deadline = time.monotonic() + 10
        while listing(root, "done") == [] and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        role.join(5)
    assert [name for name in listing(root, "done") if name.startswith("ARR_during")] != []
    assert len(pipeline.log.unpublished()) == 2 and "message log" not in OUTAGES.current()
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO and r.name.startswith("hub")]
    began, ended = [line for line in said if "message log" in line]  # two lines in all, not one per scan
    assert began == ("watcher: message log unreachable: message log could not store: connection refused; "
                     "retrying until it is back")
    assert ended.startswith("watcher: message log reachable again after ")
    pipeline.log.close()
