"""What a scenario can reach: the running stack's URLs, the population, the users' clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import requests

from hub.config import Settings
from hub.deadletters import DeadLetterDesk, DeadLetterStore, LetterFilter
from hub.messagelog import MessageLog
from hub.routing import load_routes
from hub.transports import DeadLetter, open_transport
from simulators.demo.expectations import ScenarioFailed
from simulators.demo.stack import Stack
from simulators.police.client import PoliceClient, police_signer
from simulators.population import Population


@dataclass
class DemoContext:
    """Shared by the scenarios of one run; ``remember``/``recall`` pass results along."""

    stack: Stack
    settings: Settings
    population: Population
    log: MessageLog
    wage_employers: int = 300
    http: requests.Session = field(default_factory=requests.Session)
    notes: dict[str, str] = field(default_factory=dict)
    stop_codes: dict[str, int] = field(default_factory=dict)
    """Exit code of every process of the stack, once it was stopped."""

    def __post_init__(self) -> None:
        self.police = PoliceClient(f"{self.urls['gateway']}/soap/police", police_signer(self.settings.pki_dir),
                                   timeout=30)

    @property
    def urls(self) -> dict[str, str]:
        return self.stack.urls

    @property
    def home(self) -> Path:
        return self.settings.home

    def remember(self, key: str, value: str) -> None:
        self.notes[key] = value

    def recall(self, key: str) -> str:
        if key not in self.notes:
            raise ScenarioFailed(f"needs {key.replace('_', ' ')} from an earlier scenario, which failed")
        return self.notes[key]

    def _transport(self):
        return open_transport(self.settings.effective_broker_url, routes=load_routes(self.settings.routes_file))

    def _on_broker(self, work):
        with self._transport() as transport:
            return work(transport)

    @property
    def desk(self) -> DeadLetterDesk:
        """The operator's dead-letter desk: the hub's relay moves letters off the broker into the
        message log as it finds them, so the broker alone may no longer hold a letter."""
        return DeadLetterDesk(DeadLetterStore(self.log.engine), self.log, self._on_broker)

    def dead_letters(self, destination: str) -> list[DeadLetter]:
        """The operator's view of a destination's dead letters."""
        queue = load_routes(self.settings.routes_file).queue_for(destination)
        return self.desk.letters(LetterFilter(queue=queue))

    def dead_letters_everywhere(self) -> list[DeadLetter]:
        """Every dead letter of every queue."""
        return self.desk.letters(limit=100_000)

    def replay(self, dead_letter_id: str) -> None:
        """What the operator's replay button does: back on its queue, chained with the operator's name."""
        self.desk.replay(dead_letter_id, actor="demo-operator")

    def close(self) -> None:
        self.police.close()
        self.http.close()
        self.log.close()
