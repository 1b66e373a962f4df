"""Flask app of the licensing reference system: one HTML page and a JSON API.

    POST /api/applications          submit and decide (201, the application + decision)
    GET  /api/applications/<number> an application with its latest decision
    GET  /api/licences/<number>     a licence with vacancies granted / used / free
    GET  /api/visa-eligibility      the visa check the police ask through the hub, asked directly
                                    (?licence_number=&profession_code=&nationality=[&licence_type=])
    GET  /api/decisions             latest decisions first
    GET  /api/events                canonical messages applied (?type=WorkerArrival)
    POST /api/referrals             refer a complaint to the labour court (202, hub message id)
    POST /api/transfers             a worker's transfer to another licence: asked of the police,
                                    decided, recorded, the police notified (201; see transfers)
    GET  /api/transfers/<id>        a transfer with its decision, vacancy and notice
    POST /api/transfers/<id>/notify send the police the notice of a completed transfer again (202)
    POST /api/workers/<civil number>/corrections  correct a worker's name, civil or passport number or
                                    nationality; every agency subscribed to WorkerDataCorrected told (201)
    GET  /api/corrections/<id>      a correction: before, after, the hub message sent to each subscriber
    POST /api/corrections/<id>/notify  send the subscribers still untold their copy (202)
    GET  /api/cases/<case number>   a labour case's status, asked of the court through the hub
                                    (404 no such case, 503 court or hub unavailable; see court_cases)
    GET  /healthz                   database reachable

``create_app`` wires production defaults (database from the config, ``ask``
through the hub when a broker URL is set) and lets tests pass their own
``state``, ``ask`` and ``now``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from lxml import etree
from flask import Blueprint, Flask, current_app, jsonify, redirect, render_template_string, request, url_for

from hub.errors import InputError, RabtError
from simulators.licensing import court_cases
from simulators.licensing import decider as decider_module
from simulators.licensing import rules
from simulators.licensing.corrections import Corrections, correction_api
from simulators.licensing.config import HubAsk, LicensingConfig, no_hub, no_hub_notify, no_hub_refer
from simulators.licensing.pages import INDEX, text_lang
from simulators.licensing.referrals import referral_body
from simulators.licensing.state import ApplicationRequest, LicensingState
from simulators.licensing.transfers import Notify, Transfers, transfer_api

_PATTERNS = {
    "applicant_civil_number": re.compile(r"[0-9]{8,9}"),
    "employer_cr": re.compile(r"[0-9]{7,10}"),
    "profession_code": re.compile(r"[0-9]{4,8}"),
    "nationality": re.compile(r"[A-Z]{3}"),
}
_MAX_VACANCIES = 500
_LICENCE_NUMBER = re.compile(r"(PL|CL)-[0-9A-Za-z-]{1,40}")
#: the police mapping's rule (mappings/police/_police.xsl, licence-type): the number says the type
_TYPE_BY_PREFIX = {"PL": rules.PRIVATE, "CL": rules.COMMERCIAL}


def _checked(field: str, value) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not _PATTERNS[field].fullmatch(value):
        raise InputError(f"{field} {value!r} is malformed (expected {_PATTERNS[field].pattern})")
    return value


def _vacancy(item) -> tuple[str, str | None, int]:
    if not isinstance(item, dict):
        raise InputError("each vacancy is an object {profession_code, nationality?, count}")
    count = item.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= _MAX_VACANCIES:
        raise InputError(f"vacancy count must be an integer from 1 to {_MAX_VACANCIES}, got {count!r}")
    profession = _checked("profession_code", item.get("profession_code"))
    if profession is None:
        raise InputError("each vacancy needs a profession_code")
    return profession, _checked("nationality", item.get("nationality")), count


def application_request(data) -> ApplicationRequest:
    """An ApplicationRequest from submitted JSON; InputError naming the bad field."""
    if not isinstance(data, dict):
        raise InputError("the request body must be a JSON object")
    items = data.get("vacancies")
    if not isinstance(items, list) or not items:
        raise InputError("vacancies must be a non-empty list")
    name = data.get("applicant_name")
    if name is not None and (not isinstance(name, str) or len(name) > 200):
        raise InputError("applicant_name must be text of at most 200 characters")
    return ApplicationRequest(
        licence_type=str(data.get("licence_type", "")), vacancies=tuple(_vacancy(v) for v in items),
        applicant_civil_number=_checked("applicant_civil_number", data.get("applicant_civil_number")),
        employer_cr=_checked("employer_cr", data.get("employer_cr")), applicant_name=name or None)


def _form_request(form) -> ApplicationRequest:
    try:
        count = int(form.get("count", "1"))
    except ValueError:
        raise InputError(f"vacancies {form.get('count')!r} is not a number") from None
    vacancy = {"profession_code": form.get("profession_code", "").strip(),
               "nationality": form.get("nationality", "").strip() or None, "count": count}
    data = {k: form.get(k, "").strip() or None for k in ("licence_type", "applicant_civil_number",
                                                         "employer_cr", "applicant_name")}
    return application_request(data | {"vacancies": [vacancy]})


def create_app(config: LicensingConfig | Mapping | None = None, *, state: LicensingState | None = None,
               ask: decider_module.Ask | None = None, now: Callable[[], datetime] | None = None,
               publish: decider_module.Publish | None = None,
               refer: Callable[[etree._Element], str] | None = None, notify: Notify | None = None,
               subscribers: tuple[str, ...] | None = None) -> Flask:
    """The licensing web app; tests pass ``state``/``ask``/``now``, production passes a config."""
    if config is None or isinstance(config, Mapping):
        config = LicensingConfig.from_mapping(config or {})
    state = state or LicensingState(config.effective_database_url)
    if ask is None:
        ask = HubAsk(config) if config.broker_url else no_hub
    if refer is None:
        refer = ask.refer if isinstance(ask, HubAsk) else no_hub_refer
    if notify is None:
        notify = ask.notify if isinstance(ask, HubAsk) else no_hub_notify
    decider = decider_module.Decider(state, ask, policy=config.policy, publish=publish,
                                     **({"now": now} if now else {}))
    app = Flask(__name__)
    app.json.ensure_ascii = False  # Arabic names stay readable in the API
    app.extensions["licensing"] = Wiring(state, decider, config, refer)
    app.extensions["licensing_transfers"] = Transfers(state, decider, notify)
    app.extensions["licensing_corrections"] = Corrections(state, notify, _subscribers(config, subscribers),
                                                          decider.now)
    app.register_blueprint(api)
    app.register_blueprint(transfer_api)
    app.register_blueprint(correction_api)
    app.register_blueprint(page)
    return app


def _subscribers(config: LicensingConfig, given: tuple[str, ...] | None) -> tuple[str, ...]:
    """Who is told of a worker's corrected data: the hub's routes say, not licensing."""
    if given is not None:
        return given
    from hub.routing import load_routes
    from simulators.licensing.corrections import MESSAGE_TYPE

    return load_routes(config.routes_file).subscribers(MESSAGE_TYPE)


@dataclass(frozen=True)
class Wiring:
    """What the views use, stored on the app (``app.extensions["licensing"]``)."""

    state: LicensingState
    decider: decider_module.Decider
    config: LicensingConfig
    refer: Callable[[etree._Element], str]


def _wiring() -> Wiring:
    return current_app.extensions["licensing"]


def _submit(submitted: ApplicationRequest) -> dict:
    wiring = _wiring()
    number = wiring.state.create_application(submitted, wiring.decider.now())
    wiring.decider.decide(number)
    return wiring.state.application(number)


api = Blueprint("api", __name__)
page = Blueprint("page", __name__)


@api.app_errorhandler(InputError)
def input_error(exc: InputError):
    return jsonify(error=exc.code, reason=exc.reason), 400


@api.app_errorhandler(RabtError)
def hub_error(exc: RabtError):
    return jsonify(error=exc.code, reason=exc.reason), 503


@api.post("/api/applications")
def post_application():
    application = _submit(application_request(request.get_json(silent=True)))
    return jsonify(application), 201, {"Location": url_for("api.get_application", number=application["number"])}


@api.post("/api/referrals")
def post_referral():
    """Refer an unsettled complaint to the labour court (published through the hub)."""
    wiring = _wiring()
    body = referral_body(request.get_json(silent=True), wiring.decider.now().date())
    return jsonify(message_id=wiring.refer(body)), 202


@api.get("/api/cases/<path:case_number>")
def get_case(case_number: str):
    """Where a labour case stands, asked of the labour court through the hub; nothing recorded."""
    body, status = court_cases.look_up(_wiring().decider.ask, case_number)
    return jsonify(body), status


@api.get("/api/applications/<number>")
def get_application(number: str):
    application = _wiring().state.application(number)
    if application is None:
        return jsonify(error="not-found", reason=f"no application {number}"), 404
    return jsonify(application)


@api.get("/api/licences/<number>")
def get_licence(number: str):
    licence = _wiring().state.licence(number)
    if licence is None:
        return jsonify(error="not-found", reason=f"no licence {number}"), 404
    return jsonify(licence)


@api.get("/api/visa-eligibility")
def get_visa_eligibility():
    """Read-only: the same rule the consumer answers a VisaEligibilityQuery with; nothing recorded."""
    args = request.args
    number = args.get("licence_number", "")
    if not _LICENCE_NUMBER.fullmatch(number):
        raise InputError(f"licence_number {number!r} is not a licence number (PL-... or CL-...)")
    profession = _checked("profession_code", args.get("profession_code"))
    if profession is None:
        raise InputError("profession_code is required")
    licence_type = args.get("licence_type") or _TYPE_BY_PREFIX[number[:2]]
    if licence_type not in _TYPE_BY_PREFIX.values():
        raise InputError(f"licence_type must be private or commercial, got {licence_type!r}")
    wiring = _wiring()
    verdict = rules.check_visa(wiring.state.visa_view(number, profession), licence_type, profession,
                               _checked("nationality", args.get("nationality")),
                               rules.local_today(wiring.decider.now()))
    return jsonify(licence_number=number, eligible=verdict.eligible, remaining=verdict.remaining,
                   reason={"code": verdict.reason.code, "text": verdict.reason.text})


@api.get("/api/decisions")
def get_decisions():
    return jsonify(decisions=_wiring().state.decisions(_limit()))


@api.get("/api/events")
def get_events():
    return jsonify(events=_wiring().state.events(_limit(), request.args.get("type") or None))


@api.get("/healthz")
def healthz():
    try:
        with _wiring().state.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        return jsonify(status="down", database=str(getattr(exc, "orig", None) or exc)), 503
    return jsonify(status="ok", database="ok")


def _limit() -> int:
    raw = request.args.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise InputError(f"limit must be an integer from 1 to 1000, got {raw!r}")
    return int(raw)


def _event_names(event: dict) -> dict:
    worker = event["summary"].get("worker") if isinstance(event["summary"], dict) else None
    return (worker or {}).get("names", {})


def _page(error: str | None = None, status: int = 200):
    state = _wiring().state
    events = [e | {"names": _event_names(e)} for e in state.events(50)]
    html = render_template_string(INDEX, decisions=state.decisions(50), events=events,
                                  error=error, text_lang=text_lang)
    return html, status


@page.get("/")
def index():
    return _page()


@page.post("/applications")
def submit_form():
    try:
        _submit(_form_request(request.form))
    except InputError as exc:
        return _page(exc.reason, 400)
    return redirect(url_for("page.index"), code=303)
