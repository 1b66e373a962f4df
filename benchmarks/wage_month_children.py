"""The child processes of ``wage_month_through_file_adapter.py``: writers, watchers and the consumer.

Each is forked (``multiprocessing``'s "fork" context), dies with the benchmark
should it be killed, and hands what it did and what it used back on a queue:
the simulator's writers fill the inbox with a share of the month each, the
watchers claim files from it until it is empty, and with ``--consume`` the
receiving agency's consumer takes the licensing queue.
"""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from adapters.centralbank import ADAPTER
from hub import lifeline
from hub.bootstrap import bootstrap
from hub.config import Settings
from hub.filedrop import DropWatcher
from hub.roles import settle_garbage_collector
from hub.transports import open_transport
from simulators.centralbank.sif import write_month
from simulators.population import Population, PopulationSpec
from wage_month_usage import Usage


def collect(procs: list, queue) -> list:
    """What each of ``procs`` put on ``queue``, once they all have ended."""
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    return results


def _generate(workers: int, seed: int, year: int, month: int, inbox: str, part: int, parts: int, queue) -> None:
    lifeline.die_with(multiprocessing.parent_process().pid)  # not left running should the benchmark be killed
    population = Population(PopulationSpec.scaled(workers, seed=seed))
    employers = range(part, population.spec.employers, parts)
    summary = write_month(population, year, month, Path(inbox), employers=employers)
    queue.put((summary.files, summary.lines))


def generate(args, inbox: Path) -> tuple[int, int, float]:
    """Write the month with one process per core; (files, lines, seconds)."""
    started = time.perf_counter()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    procs = [context.Process(target=_generate, args=(args.workers, args.seed, args.year, args.month, str(inbox),
                                                     i, args.processes, queue)) for i in range(args.processes)]
    for proc in procs:
        proc.start()
    results = collect(procs, queue)
    return sum(f for f, _ in results), sum(n for _, n in results), time.perf_counter() - started


def _watch(settings: Settings, batch_files: int, queue) -> None:
    """One watcher process: claim files until the inbox is empty."""
    lifeline.die_with(multiprocessing.parent_process().pid)  # not left running should the benchmark be killed
    start = Usage.now()
    hub = bootstrap(settings)
    watcher = DropWatcher(settings, [ADAPTER], hub.pipeline, batch_files=batch_files)
    settle_garbage_collector()  # as the watcher role does
    done = failed = 0
    while outcomes := watcher.scan_once(limit=2000):
        done += sum(o.status == "done" for o in outcomes)
        failed += sum(o.status != "done" for o in outcomes)
    hub.close()
    queue.put((done, failed, Usage.now().since(start)))


def start_watchers(settings: Settings, args, context, queue) -> list:
    """``args.processes`` watcher processes, started; each puts (done, failed, Usage) on ``queue`` at the end."""
    procs = [context.Process(target=_watch, args=(settings, args.batch_files, queue)) for _ in range(args.processes)]
    for proc in procs:
        proc.start()
    return procs


def _consume(url: str, routes, queue_name: str, stop, queue, received) -> None:
    """The receiving agency's consumer (``--consume``): take and ack every delivery until told to stop,
    counting them in ``received`` (shared with the parent)."""
    lifeline.die_with(multiprocessing.parent_process().pid)  # not left running should the benchmark be killed
    start = Usage.now()

    def count(_delivery) -> None:
        with received.get_lock():
            received.value += 1

    with open_transport(url, routes=routes) as transport:
        taken = transport.consume(queue_name, count, prefetch=256, stop=stop)
    queue.put(("consumer", taken, Usage.now().since(start)))


class LicensingConsumer:
    """The receiving agency's consumer (``--consume``) in a child process, taking the licensing queue."""

    def __init__(self, settings: Settings, routes, context) -> None:
        self.queue_name = routes.queue_for("licensing")  # by destination: on a shared broker the name has a prefix
        self._stop, self._results, self._received = context.Event(), context.Queue(), context.Value("q", 0)
        self._process = context.Process(target=_consume, args=(settings.effective_broker_url, routes, self.queue_name,
                                                               self._stop, self._results, self._received))
        self._process.start()

    def finish(self, published: int) -> Usage:
        """Once it has taken all ``published`` messages: stop it (it acks what it took first); what it used.

        Counted by the consumer itself: RabbitMQ's queue depth does not say how many are taken but unacked.
        """
        while self._received.value < published:
            if not self._process.is_alive():  # it failed (its traceback is on stderr): nothing more will come
                raise SystemExit(f"the consumer stopped after {self._received.value} of {published} messages")
            time.sleep(0.05)
        self._stop.set()
        usage = self._results.get()[2]
        self._process.join()
        return usage
