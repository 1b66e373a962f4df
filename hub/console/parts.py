"""The hub's parts the console is handed by whoever wires the hub (:func:`hub.bootstrap.console_app`).

Separate from the service that uses them (:mod:`hub.console.service`,
:mod:`hub.console.overview`) because it is the console's contract with the
wiring: each field says what the console reads or acts on, and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from hub.adapter import Adapter
from hub.config_roles import RetentionSettings
from hub.console.users import Users
from hub.ledger import DisclosureLedger
from hub.messagelog import MessageLog
from hub.routing import Routes
from hub.signing import Verifier
from hub.transports.base import Transport


@dataclass(frozen=True)
class ConsoleParts:
    """The hub's parts the console reads and acts on, handed in by whoever wires the hub.

    The console never builds or looks up a part itself, so a test can hand it
    fakes and the wiring stays in one place.
    """

    #: statuses, payloads, events and the audit chain
    log: MessageLog
    #: re-checks a stored envelope's signature for the trail
    verifier: Verifier
    #: the work queues whose depths the overview shows
    routes: Routes
    #: opens a new transport; the console keeps one behind a lock (see BrokerView)
    open_transport: Callable[[], Transport]
    #: the broker's kind as the overview names it ("amqp", "sqlite")
    broker_kind: str
    #: every installed adapter by name, loaded on first use (entry points may fail)
    adapters: Callable[[], Mapping[str, Adapter]]
    #: whether the hub's signing key is loaded (a readiness check)
    signing_key_loaded: bool
    #: who may sign in and which API tokens are valid
    users: Users
    #: the console's own append-only action log (JSON lines)
    actions_file: Path
    #: the server-side login sessions, shared by every console process on this home
    sessions_file: Path
    #: RabbitMQ's management API ``http://user:pass@host:15672/``; None: figures from the transport
    management_url: str | None = None
    #: agency → circuit state of this process's outbound workers (default: hub.outbound's)
    breaker_states: Callable[[], dict[str, str]] | None = None
    #: the console's own history of rates and depths (see hub.console.history); None keeps it in memory
    history_file: Path | None = None
    #: seconds between two history points (the sampler thread's period)
    sample_seconds: float = 10.0
    #: workers' signed disclosure reports (the ledger page and API); None: they answer 503
    ledger: DisclosureLedger | None = None
    #: whether a TSA stamps the log's anchors (RABT_TSA_URL): only then is an unstamped anchor news
    timestamps_expected: bool = False
    #: the file ``users`` came from, re-read when it changes (None: ``users`` stay as given)
    users_file: Path | None = None
    #: the retention role's settings where one is configured (``[retention] folder``): only then is a closed
    #: period without its archive news
    retention: RetentionSettings | None = None
    #: the calendar the retention periods are counted on (tests move it, as the retention role's own)
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
