"""The message log's writes of visa checks from several gateway processes at once: latency, commits, CPU.

    python benchmarks/visa_log_processes.py                       # 2 processes, 200 checks/s, 10 s, SQLite
    python benchmarks/visa_log_processes.py --processes 1 --rate 100
    python benchmarks/visa_log_processes.py --work-ms 0          # the writes alone
    python benchmarks/visa_log_processes.py --wal-pages 4096     # a checkpoint every 16 MB of WAL: more of them

Each process opens the same SQLite log with a group committer, as ``rabt
serve`` gives each gateway process one, and writes the three records of a
visa check (:func:`visa_log_write.exchange`) from its own threads (8, as the
gateway's bulkhead admits) at its share of ``--rate``, each after ``--work-ms`` of CPU in Python (the
rest of a check: parse, verify, map, sign; the GIL held, as there), open loop: check ``i``
is due at ``start + i / rate`` and its latency counts from then, so a write
held up behind another process's commit shows. Reported: the write's latency
(p50, p99, max), commits per check, the processes' CPU per check, how long
each turn at the file's writer lock lasted (the wait it makes for the other
writers; it includes a checkpoint SQLite runs inside a commit); and
the WAL: the largest ``-wal`` file seen and how many times it started over
(each time after a completed checkpoint; read from its header's checkpoint
sequence number every 5 ms), with the checkpoints the processes ran
themselves (:mod:`hub.messagelog.checkpoints`; none where SQLite's automatic
checkpoint runs them inside a commit).
Nothing else runs (no broker, no signatures): what differs between two runs
of the same options is how the log's writers wait for each other.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy
from visa_log_write import exchange

from hub import lifeline

THREADS = 8


def busy(milliseconds: float) -> None:
    """Spend ``milliseconds`` of this thread's CPU in the interpreter."""
    until = time.thread_time() + milliseconds / 1000
    while time.thread_time() < until:
        sum(range(100))


def child(url: str, rate: float, seconds: float, start: float, work_ms: float, wal_pages: int = 0) -> dict:
    """One gateway process's writes: ``rate`` checks a second for ``seconds`` from the wall-clock ``start``."""
    from hub.messagelog import GroupCommitter, open_message_log

    if wal_pages:
        checkpoint_every(wal_pages)
    turns = timed_writer_turns()
    log = open_message_log(url)
    committer = GroupCommitter(log)
    count = int(rate * seconds)
    records = [exchange() for _ in range(count)]
    jobs, latencies = queue.SimpleQueue(), []

    def writer() -> None:
        while (job := jobs.get()) is not None:
            index, due = job
            busy(work_ms)
            committer.store_sent(records[index])
            latencies.append(time.time() - due)

    threads = [threading.Thread(target=writer) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, start - time.time()))
    cpu = time.process_time()
    for index in range(count):
        due = start + index / rate
        time.sleep(max(0.0, due - time.time()))
        jobs.put((index, due))
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join()
    used = time.process_time() - cpu
    committer.close()
    checkpoints = _checkpoints_run(log.engine)
    log.close()
    return {"latencies": latencies, "cpu": used, "commits": committer.groups, "checks": count,
            "checkpoints": checkpoints, "turns": turns}


def checkpoint_every(pages: int) -> None:
    """Checkpoint at about ``pages`` of WAL instead of the hub's own figure: the writers' checkpoints, or SQLite's."""
    from hub.messagelog import db

    try:
        from hub.messagelog import checkpoints
    except ImportError:  # before the writers checkpointed: SQLite's automatic checkpoint, set on every connection
        make_engine = db.make_engine

        def with_threshold(url):
            engine = make_engine(url)
            sqlalchemy.event.listen(engine, "connect", lambda connection, _record: connection.execute(
                f"PRAGMA wal_autocheckpoint = {pages}"))
            return engine

        db.make_engine = with_threshold
        return
    checkpoints.WAL_PAGES = pages
    if hasattr(checkpoints, "COMMITS_PER_CHECKPOINT"):  # older code: each process counted its own commits
        checkpoints.COMMITS_PER_CHECKPOINT = max(1, pages // 30)


def timed_writer_turns() -> list[float]:
    """How long each turn at the file's writer lock lasted (seconds), from now on: what the other writers wait for.

    A commit that runs SQLite's automatic checkpoint holds the turn meanwhile.
    """
    from hub.messagelog.writer_lock import WriterLock

    turns, held = [], WriterLock.held

    @contextmanager
    def timed(lock):
        outermost, started = not lock._local.__dict__.get("holding", False), time.perf_counter()
        with held(lock):
            yield
        if outermost:
            turns.append(time.perf_counter() - started)

    WriterLock.held = timed
    return turns


def _checkpoints_run(engine) -> int:
    """The checkpoints this process ran after its writes; 0 before the hub ran any itself."""
    try:
        from hub.messagelog import checkpoints
    except ImportError:
        return 0
    found = checkpoints.budget(engine)
    return found.checkpoints if found else 0


def watch_wal(path: Path, stop: threading.Event, seen: dict) -> None:
    """Every 5 ms until ``stop``: the WAL file's largest size and the checkpoint sequence numbers in its header."""
    while not stop.wait(0.005):
        try:
            with open(path, "rb") as wal:
                header = wal.read(16)
                size = os.fstat(wal.fileno()).st_size
        except OSError:
            continue
        seen["bytes"] = max(seen.get("bytes", 0), size)
        if len(header) == 16:  # offset 12: the checkpoint sequence number, big-endian (sqlite.org/fileformat2)
            seen.setdefault("sequences", set()).add(int.from_bytes(header[12:16], "big"))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rate", type=float, default=200.0, help="checks per second, all processes together")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--work-ms", type=float, default=3.0, help="CPU per check before its write")
    parser.add_argument("--wal-pages", type=int, default=0,
                        help="checkpoint at about this many WAL pages (4 KB) instead of the hub's own figure")
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        url, rate, seconds, start, work_ms, wal_pages = args.child
        print(json.dumps(child(url, float(rate), float(seconds), float(start), float(work_ms), int(wal_pages))))
        return 0
    folder = Path(tempfile.mkdtemp(prefix="rabt-visa-log-processes-"))
    try:
        from hub.messagelog import open_message_log

        url = f"sqlite:///{folder / 'log.sqlite3'}"
        open_message_log(url).close()
        start = time.time() + 3.0  # every child started and its records built
        share = args.rate / args.processes
        children = [lifeline.popen([sys.executable, __file__, "--child", url, str(share), str(args.seconds),
                                    str(start), str(args.work_ms), str(args.wal_pages)],
                                   stdout=subprocess.PIPE, text=True)
                    for _ in range(args.processes)]
        stop, wal = threading.Event(), {}
        watcher = threading.Thread(target=watch_wal, args=(folder / "log.sqlite3-wal", stop, wal))
        watcher.start()
        try:
            results = [json.loads(process.communicate()[0].strip().splitlines()[-1]) for process in children]
        finally:
            stop.set()
            watcher.join()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    latencies = [value * 1000 for result in results for value in result["latencies"]]
    checks = sum(result["checks"] for result in results)
    turns = [value * 1000 for result in results for value in result["turns"]]
    print(f"{args.processes} process(es), {args.rate:g} checks/s, {args.work_ms:g} ms work each, {args.seconds:g} s: "
          f"latency ms "
          f"p50 {percentile(latencies, 0.5):.1f}, p99 {percentile(latencies, 0.99):.1f}, max {max(latencies):.1f}; "
          f"checks per commit {checks / sum(result['commits'] for result in results):.2f}; "
          f"CPU per check {sum(result['cpu'] for result in results) * 1000 / checks:.3f} ms; "
          f"writer turns ms p99 {percentile(turns, 0.99):.1f}, p99.9 {percentile(turns, 0.999):.1f}, "
          f"max {max(turns):.1f}, over 20 ms {sum(turn > 20 for turn in turns)}; "
          f"WAL up to {wal.get('bytes', 0) / 1e6:.1f} MB, started over {max(0, len(wal.get('sequences', ())) - 1)} "
          f"times, checkpoints run by the writers {sum(result.get('checkpoints', 0) for result in results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
