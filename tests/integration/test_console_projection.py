"""The console shows which projection each destination got: the trail page and ``GET /messages/{id}``.

A police arrival goes through the real pipeline with access rights that keep
the worker's birth date and gender from licensing, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from console_support import accept_arrival, console_users, mappings_dir
from hub.access import AccessRights
from hub.bootstrap import bootstrap, console_app
from hub.config import Settings
from hub.mapping import Mappings
from tests.integration.test_projection_routes import ACCESS


def test_the_trail_names_the_destination_the_fields_sent_and_the_fields_withheld(tmp_path, trust_store, database_url):
    access = tmp_path / "access.toml"
    access.write_text(ACCESS, encoding="utf-8")
    settings = Settings(home=tmp_path / "home", broker_url=f"sqlite:///{tmp_path / 'broker.sqlite3'}",
                        database_url=database_url)
    hub = bootstrap(settings, trust_store=trust_store, mappings=Mappings(mappings_dir(tmp_path)),
                    access=AccessRights.load(access))
    users, tokens = console_users()
    app = console_app(hub, {"SECRET_KEY": "test"}, users=users, breaker_states=dict)
    try:
        message_id = accept_arrival(hub, "T2000001")
        client, headers = app.test_client(), {"Authorization": f"Bearer {tokens['viewer']}"}
        shown = client.get(f"/api/v1/messages/{message_id}", headers=headers).json
        assert shown["projections"] == [{"party": "licensing", "message_type": "WorkerArrival",
                                         "sent": shown["projections"][0]["sent"],
                                         "withheld": ["Worker/DateOfBirth", "Worker/Gender"]}]
        assert "Worker/Name" in shown["projections"][0]["sent"]
        assert "projected" in [e["status"] for e in shown["events"]]
        page = client.get(f"/trail?q={message_id}", headers=headers).get_data(as_text=True)
        row = page[page.index('class="projection" data-party="licensing"'):]
        row = row[:row.index("</tr>")]
        assert "Worker/DateOfBirth, Worker/Gender" in row and "Worker/PassportNumber" in row
    finally:
        app.extensions["rabt_console"].console.broker.close()
        hub.close()
