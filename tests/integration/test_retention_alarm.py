"""The console's RabtRetentionOverdue alarm against a real hub: SQLite log and broker, messages through the
real pipeline, archives written by the real retention role. The console's calendar and the role's are one
clock the test moves, so a closed day is overdue whatever the hour the test runs at."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from console_support import accept_arrival, console_users, make_hub

from hub.bootstrap import console_app
from hub.config_roles import RetentionSettings
from hub.console.alarms import BY_NAME
from hub.outage import Outages
from hub.retention import Retention, overdue_seconds
from tests.integration.test_retention_role import TODAY, Clock


@pytest.fixture
def hub(tmp_path, trust_store):
    hub = make_hub(tmp_path, trust_store)
    yield hub
    hub.close()


@pytest.fixture
def viewer():
    users, tokens = console_users()
    return users, {"Authorization": f"Bearer {tokens['viewer']}"}


def app_for(hub, users, **parts):
    return console_app(hub, {"SECRET_KEY": "test", "SAMPLE_HISTORY": False}, users=users, **parts)


def retention_alarms(app, headers) -> list[dict]:
    time.sleep(1.1)  # one evaluation serves the pages of one second
    alarms = app.test_client().get("/api/v1/alarms", headers=headers).json["alarms"]
    return [a for a in alarms if a["name"] == "RabtRetentionOverdue"]


def test_a_closed_day_unarchived_an_hour_past_its_round_is_an_alarm_until_the_role_archives_it(hub, viewer,
                                                                                               tmp_path):
    users, headers = viewer
    settings = RetentionSettings(folder=tmp_path / "archives", period="day", interval=1800)
    clock = Clock(TODAY + timedelta(minutes=30))
    app = app_for(hub, users, retention=settings, now=clock)
    try:
        accept_arrival(hub, "T9000001")
        clock.moment = TODAY + timedelta(days=1, minutes=90)  # today closed 90 minutes ago, its round 60 ago
        assert overdue_seconds(hub.log, settings, clock()) == 3600  # the threshold, not beyond it
        assert retention_alarms(app, headers) == []
        clock.moment += timedelta(minutes=20)
        [alarm] = retention_alarms(app, headers)
        assert (alarm["subject"], alarm["severity"], alarm["value"]) == ("retention", "critical", 4800)
        assert alarm["threshold"] == BY_NAME["RabtRetentionOverdue"].threshold == 3600
        scraped = app.test_client().get("/metrics", headers=headers).get_data(as_text=True)
        assert "rabt_retention_overdue_seconds 4800.0" in scraped
        page = app.test_client().get("/", headers=headers).get_data(as_text=True)
        assert 'data-alarm="RabtRetentionOverdue" data-subject="retention"' in page  # every page has the band
        assert "the newest closed period&#39;s archive is" in page and "rabt audit archive" in page

        Retention(hub.log, hub.signer, settings, outages=Outages(), now=clock).round()
        assert [path.name for path in settings.folder.glob("*.zip")] == [
            f"rabt-archive-{TODAY:%Y-%m-%d}.zip"]
        assert overdue_seconds(hub.log, settings, clock()) == 0
        assert retention_alarms(app, headers) == []
        scraped = app.test_client().get("/metrics", headers=headers).get_data(as_text=True)
        assert "rabt_retention_overdue_seconds 0.0" in scraped
    finally:
        app.extensions["rabt_console"].console.broker.close()


def test_no_alarm_with_an_empty_log_or_without_a_retention_role(hub, viewer, tmp_path):
    users, headers = viewer
    settings = RetentionSettings(folder=tmp_path / "archives", period="day", interval=1800)
    clock = Clock(TODAY + timedelta(days=3, hours=3))  # hours past the round that would archive anything
    configured = app_for(hub, users, retention=settings, now=clock)
    plain = app_for(hub, users, now=clock)
    try:
        assert overdue_seconds(hub.log, settings, clock()) == 0  # nothing logged: nothing to archive
        assert retention_alarms(configured, headers) == []
        accept_arrival(hub, "T9000002")
        assert [a["value"] for a in retention_alarms(configured, headers)] == [3 * 3600 - 1800]
        assert retention_alarms(plain, headers) == []  # the same log, no role configured: no news
    finally:
        for app in (configured, plain):
            app.extensions["rabt_console"].console.broker.close()


def test_the_console_of_a_hub_with_a_retention_folder_watches_it(tmp_path, trust_store, viewer):
    from dataclasses import replace

    from console_support import mappings_dir

    from hub.bootstrap import bootstrap
    from hub.mapping import Mappings

    plain = make_hub(tmp_path, trust_store)
    settings = replace(plain.settings, retention=RetentionSettings(folder=tmp_path / "archives", period="day"))
    plain.close()
    hub = bootstrap(settings, trust_store=trust_store, mappings=Mappings(mappings_dir(tmp_path)))
    app = app_for(hub, viewer[0])
    try:
        accept_arrival(hub, "T9000003")
        console = app.extensions["rabt_console"].console
        assert console.parts.retention == settings.retention
        figure = lambda: overdue_seconds(hub.log, settings.retention, datetime.now(timezone.utc))  # noqa: E731
        earlier = figure()
        shown = console.retention_overdue()  # on the real calendar, which moves on meanwhile
        assert shown is not None and earlier <= shown <= figure()
    finally:
        app.extensions["rabt_console"].console.broker.close()
        hub.close()
