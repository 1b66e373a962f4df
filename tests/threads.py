"""Running one piece of test code in several threads at once, for the races a test sets up."""

from __future__ import annotations

import threading
from collections.abc import Callable


def failures_in_threads(work: Callable[[], object], count: int, *, timeout: float = 30.0) -> list[BaseException]:
    """Run ``work`` in ``count`` threads started together; what any of them raised (empty: none did)."""
    start, failures = threading.Barrier(count), []

    def run() -> None:
        start.wait()
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test's assertion
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), f"a thread still runs after {timeout} s"
    return failures
