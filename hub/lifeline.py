"""Child processes that do not outlive their parent, however the parent dies.

Every long-running process the hub, ``rabt demo``, the tests and the benchmarks
start goes through :func:`popen` (or :func:`run`, or :func:`die_with` for a
:mod:`multiprocessing` child). A plain shell or test runner that is killed
outright (SIGKILL, a timeout, a crash) runs no ``finally``: without this its
children — ``rabt serve`` masters and their gateway and watcher processes,
simulators, the licensing system — would keep their ports, queues and CPU.
(systemd kills a unit's whole cgroup; nothing else does.)

On Linux the child asks the kernel, between fork and exec, for SIGTERM when its
parent dies (``prctl(PR_SET_PDEATHSIG)``). SIGTERM is the roles' graceful stop:
a ``rabt serve`` master that gets it drains and stops its own children in turn.
Two details make it exact:

- the kernel signals when the *thread* that forked the child ends, not the
  process. The main thread lives as long as the process; from any other thread
  :func:`popen` has the fork done by one thread kept for the process's life,
  so a child does not die with a short-lived thread that happened to start it.
- the parent may die between fork and prctl: the child then no longer has the
  parent's pid as its parent (``getppid()``) and exits at once.

Elsewhere (no prctl) children are started plainly; the gateway and watcher
children of ``rabt serve`` watch their master themselves besides
(:func:`hub.prefork.parent_watch`, on the pid :func:`parent` gives them).
"""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable

#: <linux/prctl.h>
PR_SET_PDEATHSIG = 1
#: in a child's environment: the pid of the process that started it (read by :func:`parent`)
PARENT_VARIABLE = "RABT_LIFELINE_PARENT"


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()
#: whether children are tied to their parent here (Linux), or started plainly
SUPPORTED = _PRCTL is not None


def die_with(parent: int, signum: int = signal.SIGTERM) -> None:
    """Have this process get ``signum`` when ``parent`` dies; exit now if it already has.

    For a child started other than by :func:`popen` (a :mod:`multiprocessing`
    target calls it first, with ``multiprocessing.parent_process().pid``).
    """
    if _PRCTL is None:
        return
    if _PRCTL(PR_SET_PDEATHSIG, ctypes.c_ulong(signum)) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"prctl(PR_SET_PDEATHSIG): {os.strerror(error)}")
    if os.getppid() != parent:  # died before the prctl: no signal will come
        os._exit(128 + signum)


def _tie_to(parent: int, signum: int) -> Callable[[], None]:
    def tie() -> None:  # in the child between fork and exec
        if callable(signal.getsignal(signum)):
            # the parent's Python handler, inherited until exec, would swallow the signal in this window
            signal.signal(signum, signal.SIG_DFL)
        die_with(parent, signum)

    return tie


def tie_options(signum: int = signal.SIGTERM) -> dict:
    """Popen keyword arguments that tie the child to this process (none where prctl is missing)."""
    return {"preexec_fn": _tie_to(os.getpid(), signum)} if SUPPORTED else {}


def parent() -> int:
    """The pid of the process that started this one through :func:`popen` or :func:`run`, else ``getppid()``.

    Read at any time, unlike ``getppid()``: that is already 1 (or a subreaper)
    when the parent died while this process was still starting.
    """
    return int(os.environ.get(PARENT_VARIABLE) or os.getppid())


def _tied(kwargs: dict) -> dict:
    environment = os.environ if kwargs.get("env") is None else kwargs["env"]
    return {**kwargs, **tie_options(), "env": {**environment, PARENT_VARIABLE: str(os.getpid())}}


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    """:func:`subprocess.run`, the child tied to this process.

    The calling thread waits for the child, so it outlives it: no forking thread needed.
    """
    return subprocess.run(*args, **_tied(kwargs))


def popen(*args, **kwargs) -> subprocess.Popen:
    """:class:`subprocess.Popen`, the child tied to this process (not to the calling thread)."""
    kwargs = _tied(kwargs)
    if not SUPPORTED or threading.current_thread() is threading.main_thread():
        return subprocess.Popen(*args, **kwargs)
    return _FORKER.call(subprocess.Popen, *args, **kwargs)


class _Forker:
    """One thread kept for the life of the process, forking the children other threads ask for."""

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def call(self, function: Callable, *args, **kwargs):
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                # a daemon: it blocks only in get() and must not keep a finished process alive
                self._thread = threading.Thread(target=self._serve, name="rabt-lifeline", daemon=True)
                self._thread.start()
        answer: queue.SimpleQueue = queue.SimpleQueue()
        self._requests.put((answer, function, args, kwargs))
        failure, result = answer.get()
        if failure is not None:
            raise failure
        return result

    def _serve(self) -> None:
        while True:
            answer, function, args, kwargs = self._requests.get()
            try:
                answer.put((None, function(*args, **kwargs)))
            except BaseException as exc:  # the caller's to handle, in its own thread
                answer.put((exc, None))

    def after_fork(self) -> None:
        """In a forked child: the thread did not come along, and the lock may have been held."""
        self.__init__()


_FORKER = _Forker()
os.register_at_fork(after_in_child=_FORKER.after_fork)
