"""The HTML pages: the same data as the API, rendered server-side (the overview
refreshes itself from ``/api/v1/overview`` with a few lines of plain JS)."""

from __future__ import annotations

import math
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for

from hub.console import operation_labels, value_labels  # noqa: F401 - add the action pages' labels
from hub.console.bidi import agency, payload, reveal_controls
from hub.console.auth import checked_password, current_principal, end_session, require, start_session
from hub.console.ledger import disclosure_report
from hub.console.filters import chained_actions, letter_filter
from hub.errors import InputError, RabtError
from hub.jws import payload_of

pages = Blueprint("pages", __name__)
# every template isolates agency text through these (see hub.console.bidi)
pages.add_app_template_filter(agency, "agency")
pages.add_app_template_filter(payload, "payload")
pages.add_app_template_filter(reveal_controls, "reveal_controls")


def console():
    return current_app.extensions["rabt_console"].console


@pages.get("/")
@require("viewer", page=True)
def overview():
    data = console().overview()
    try:
        numbers = console().numbers()
    except RabtError:
        numbers = {"latency": [], "refusals": []}  # the database being down is on the band and the badges
    return render_template("overview.html", data=data, numbers=numbers, destinations=console().controls.destinations(),
                           refresh_ms=int(current_app.config.get("REFRESH_SECONDS", 2.0) * 1000))


#: where each alarm's page is, and which of its arguments the page takes (see hub.console.alarms)
_ALARM_PAGES = {"overview": ("pages.overview", ()), "dead_letters": ("pages.dead_letters", ("queue",)),
                "trail": ("pages.overview", ()), "readyz": ("health.readyz", ())}
_ANCHORS = {"queue": "queues", "agency": "adapters", "party": "certificates"}


def with_links(alarms: list[dict]) -> list[dict]:
    """Each alarm with ``href``: the page that shows its trouble, at the table that holds it."""
    linked = []
    for alarm in alarms:
        endpoint, takes = _ALARM_PAGES[alarm["page"]]
        args = {k: v for k, v in alarm["args"].items() if k in takes}
        anchor = next((_ANCHORS[k] for k in alarm["args"] if k in _ANCHORS and not args), None)
        if alarm["page"] == "trail":
            anchor = "refusals"
        linked.append({**alarm, "href": url_for(endpoint, **args) + (f"#{anchor}" if anchor else "")})
    return linked


@pages.get("/dead-letters")
@require("viewer", page=True)
def dead_letters():
    error, queues = None, [q.name for q in console().parts.routes.queues]
    try:
        which = letter_filter(request.args)
        letters = console().dead_letters(which.queue, 200, which)
    except RabtError as exc:
        letters, error = [], str(exc)
    return render_template("dead_letters.html", letters=letters, error=error, queues=queues, given=request.args)


@pages.post("/dead-letters/replay-matching")
@require("operator", page=True)
def replay_matching():
    try:
        _flash_results(console().operations.replay_matching(letter_filter(request.form), current_principal()))
    except InputError as exc:
        flash(exc.reason, "error")
    return redirect(url_for("pages.dead_letters"))


@pages.post("/dead-letters/purge")
@require("operator", page=True)
def purge():
    try:
        done = console().operations.purge(request.form.get("queue", ""), request.form.get("confirm", ""),
                                          current_principal())
        flash(f"{done['queue']}: {done['purged']} dead letter(s) purged", "ok")
    except RabtError as exc:
        flash(getattr(exc, "reason", str(exc)), "error")
    return redirect(url_for("pages.dead_letters"))


@pages.get("/queues/<queue>/peek")
@require("viewer", page=True)
def peek(queue: str):
    error, result = None, {"queue": queue, "depth": 0, "messages": []}
    try:
        result = console().operations.peek(queue, 50)
    except RabtError as exc:
        error = getattr(exc, "reason", str(exc))
    return render_template("peek.html", peek=result, error=error)


#: the console's buttons → the command each writes for the workers (see hub.console.controls)
_CONTROLS = {"pause": "pause", "resume": "resume", "reset-circuit": "reset_circuit"}


@pages.post("/controls/<command>")
@require("operator", page=True)
def control(command: str):
    if command not in _CONTROLS:
        flash(f"no command {command!r}", "error")
        return redirect(url_for("pages.overview"))
    try:
        done = getattr(console().controls, _CONTROLS[command])(request.form.get("destination", ""),
                                                               current_principal())
        flash(f"{command} {done['destination']}: command {done['seq']} written", "ok")
    except RabtError as exc:
        flash(getattr(exc, "reason", str(exc)), "error")
    return redirect(url_for("pages.overview") + "#consumption")


def _selected() -> list[str]:
    # a row's own button sends "one"; the buttons under the table send the ticked boxes
    one = request.form.get("one")
    return [one] if one else [i for i in request.form.getlist("ids") if i]


@pages.post("/dead-letters/replay")
@require("operator", page=True)
def replay():
    _flash_results(console().replay(_selected(), current_principal()))
    return redirect(url_for("pages.dead_letters"))


@pages.post("/dead-letters/discard")
@require("operator", page=True)
def discard():
    _flash_results(console().discard(_selected(), current_principal(), request.form.get("reason", "")[:500]))
    return redirect(url_for("pages.dead_letters"))


def _flash_results(results: list[dict]) -> None:
    if not results:
        flash("nothing selected", "error")
    for result in results:
        if result["ok"]:
            flash(f"{result['id']}: ok ({result['message_id']}) {result.get('note') or ''}".strip(), "ok")
        else:
            flash(f"{result['id']}: {result['error']}", "error")


@pages.get("/trail")
@require("viewer", page=True)
def trail():
    term, result, error = request.args.get("q", "").strip(), {}, None
    if term:
        try:
            result = console().trail(term)
        except RabtError as exc:
            error = str(exc)
    return render_template("trail.html", term=term, found=result.get("messages"), error=error,
                           normalized=result.get("normalized", ""))


@pages.get("/ledger")
@require("operator", page=True)
def ledger():
    civil, report, error = request.args.get("civil", "").strip(), None, None
    if civil:
        try:
            report = payload_of(disclosure_report(console().parts.ledger, civil, request.args, current_principal()))
        except RabtError as exc:
            error = str(exc)
    period = {key: request.args[key] for key in ("from", "until") if request.args.get(key)}
    more = report["page"]["next_after"] if report else None
    links = {"signed": url_for("api.ledger", civil_number=civil, **period) if report else None,
             "next": url_for("pages.ledger", civil=civil, after=more, **period) if more else None}
    return render_template("ledger.html", civil=civil, report=report, error=error, links=links)


@pages.route("/audit", methods=["GET", "POST"])
@require("viewer", page=True)
def audit():
    report = None
    if request.method == "POST":
        who = current_principal()
        if not who.may("operator"):
            flash(f"{who.name} is {who.role}; checking the chain needs operator", "error")
        else:
            report = console().verify_chain(who)
    return render_template("audit.html", report=report)


@pages.get("/actions")
@require("admin", page=True)
def actions():
    return render_template("actions.html", actions=console().actions.recent(200),
                           chained=chained_actions(console().log, 200), commands=console().controls.recent(50))


@pages.route("/login", methods=["GET", "POST"])
def login():
    failed = False
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        principal = None
        if sent and sent == session.get("csrf"):
            principal = checked_password(request.form.get("username", ""), request.form.get("password", ""))
        if g.get("throttled"):
            minutes = math.ceil(g.throttled / 60)
            return render_template("login.html", throttled=minutes), 429, {"Retry-After": str(math.ceil(g.throttled))}
        if principal is not None:
            start_session(principal)
            return redirect(_local(request.args.get("next")))
        failed = True
    return render_template("login.html", failed=failed), 401 if failed else 200


@pages.post("/logout")
@require("viewer", page=True)
def logout():
    end_session()
    return redirect(url_for("pages.login"))


def _local(target: str | None) -> str:
    # only same-site paths: a login link must not bounce the operator elsewhere
    parts = urlsplit(target or "")
    if parts.scheme or parts.netloc or not (target or "").startswith("/") or target.startswith("//"):
        return url_for("pages.overview")
    return target
