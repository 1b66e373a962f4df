"""The console's overview lists every signing certificate the hub accepts, with its expiry."""

from __future__ import annotations

import datetime as dt

from console_support import console_users, make_hub
from hub.bootstrap import console_app
from hub.pki import PkiPaths, cert_pem, init_pki, issue_certificate, load_certificate, load_private_key, new_private_key
from hub.pki import register_agency_certificate
from hub.signing import TrustStore


def test_overview_shows_days_left_and_marks_the_soon_expiring(tmp_path):
    pki = tmp_path / "pki"
    init_pki(pki, ["police", "courts"])
    paths = PkiPaths(pki)
    ca, ca_key = load_certificate(paths.ca_cert), load_private_key(paths.ca_key)
    short = issue_certificate("courts", new_private_key("ec"), ca, ca_key, days=10)
    register_agency_certificate(pki, "courts", cert_pem(short), replace=True,
                                overlap_until=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3))
    hub = make_hub(tmp_path, TrustStore.load(pki))
    users, tokens = console_users()
    app = console_app(hub, {"SECRET_KEY": "test"}, users=users, breaker_states=dict)
    client, headers = app.test_client(), {"Authorization": f"Bearer {tokens['viewer']}"}
    try:
        rows = client.get("/api/v1/overview", headers=headers).json["certificates"]
        page = client.get("/", headers=headers).get_data(as_text=True)
    finally:
        app.extensions["rabt_console"].console.broker.close()
        hub.close()
    by_serial = {row["serial"]: row for row in rows}
    courts = by_serial[format(short.serial_number, "x")]
    assert (courts["party"], courts["days_left"], courts["state"], courts["current"]) == ("courts", 9, "expiring", True)
    previous = [row for row in rows if row["party"] == "courts" and not row["current"]]
    assert len(previous) == 1 and previous[0]["state"] == "ok" and previous[0]["accepted_until"]
    assert {row["party"] for row in rows} == {"hub", "police", "courts"}
    assert rows[0] == courts  # soonest expiry first
    assert f'class="certificate expiring" data-party="courts" data-serial="{courts["serial"]}"' in page
