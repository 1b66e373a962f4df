"""Pause and resume a destination's consumers, reset an agency's open circuit: the console's side.

The console cannot reach into a worker process, so it writes a command into
the message log's database (:mod:`hub.messagelog.controls`); the hub's
outbound workers read it within a few seconds wherever they run
(:mod:`hub.outbound.controls`). Each command is also a chained operator
action in the message log (``pause``, ``resume``, ``reset-circuit`` with the
destination and the command's number), so the audit chain says who stopped
what and when; refused attempts go to the console's action log only.

A consumer outside the hub (licensing's reference consumer keeps its own
database) is paused by stopping its process: these commands reach the hub's
own workers.
"""

from __future__ import annotations

from hub.console.actions import ActionLog
from hub.console.users import Principal
from hub.errors import InputError, RabtError
from hub.messagelog import MessageLog
from hub.messagelog.controls import ControlBoard
from hub.messagelog.schema import parse_timestamp
from hub.receipts import HUB
from hub.routing import Routes

#: the chained action's name per command (a chain record's status holds at most 20 characters)
_ACTION = {"pause": "pause", "resume": "resume", "reset": "reset-circuit"}


class ConsumerControls:
    """Commands for the hub's consumers, role-checked by the caller, audited here."""

    def __init__(self, log: MessageLog, actions: ActionLog, routes: Routes) -> None:
        self.log, self.actions, self.routes = log, actions, routes
        self.board = ControlBoard(log.engine)

    def destinations(self) -> list[str]:
        """Names a command may target: the destination of each work queue but the hub's own (its receipts
        role is bookkeeping, not a consumer to pause)."""
        return sorted({q.binding.removesuffix(".#") for q in self.routes.queues} - {HUB})

    def pause(self, destination: str, who: Principal) -> dict:
        """Stop the hub's workers taking messages for ``destination`` (they stay queued)."""
        return self._issue("pause", destination, who)

    def resume(self, destination: str, who: Principal) -> dict:
        """Let the workers of a paused destination consume again."""
        return self._issue("resume", destination, who)

    def reset_circuit(self, agency: str, who: Principal) -> dict:
        """Close ``agency``'s circuit breakers in every worker process (the next call goes through)."""
        return self._issue("reset", agency, who)

    def paused(self) -> list[dict]:
        """Each paused destination with who paused it and since when (ISO-8601 UTC)."""
        queues = {q.binding.removesuffix(".#"): q.name for q in self.routes.queues}
        return [{"destination": name, "queue": queues.get(name, name), "actor": row["actor"],
                 "since": _iso(row["since"]), "seq": row["seq"]} for name, row in self.board.paused().items()]

    def recent(self, limit: int = 50) -> list[dict]:
        """The newest commands with when a worker applied them (resets) — the actions page's table."""
        return [{"seq": r["seq"], "target": r["target"], "command": r["command"], "actor": r["actor"],
                 "issued_at": _iso(parse_timestamp(r["issued_at"])),
                 "done_at": _iso(parse_timestamp(r["done_at"])), "done_by": r["done_by"]}
                for r in self.board.recent(limit)]

    def _issue(self, command: str, target: str, who: Principal) -> dict:
        action = _ACTION[command]
        if target not in self.destinations():
            reason = f"no destination {target!r} (one of {', '.join(self.destinations())})"
            self.actions.record(who.name, who.role, action, str(target)[:200], "refused", reason)
            raise InputError(reason)
        try:
            seq = self.board.issue(command, target, who.name)
            self.log.record_action(action, target, f"command {seq}", who.name)
        except RabtError as exc:
            self.actions.record(who.name, who.role, action, target, "failed", str(exc))
            raise
        self.actions.record(who.name, who.role, action, target, "ok", f"command {seq}")
        return {"destination": target, "command": command, "seq": seq}


def _iso(moment) -> str | None:
    return None if moment is None else moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
