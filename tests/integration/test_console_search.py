"""The console finds messages by a worker's name, as operators type it, and by civil or passport number.

Messages go through the real pipeline (mapping, schema, signature, message
log) on SQLite and PostgreSQL; the API is called with a viewer's token.
Names are typed with other alef forms, diacritics, case and word order than
the agency sent them.
"""

from __future__ import annotations

import time
import uuid
from urllib.parse import quote

import pytest

from console_support import accept_arrival, accept_renewal, console_users, make_hub
from hub.bootstrap import console_app
from hub.messagelog import Accepted
from hub.messagelog.search import normalize

R = "urn:rabt:canonical:v1"


@pytest.fixture
def env(tmp_path, trust_store, database_url):
    hub = make_hub(tmp_path, trust_store, database_url=database_url)
    ids = {"rajesh": accept_arrival(hub, "T1000001"),
           "imran": accept_renewal(hub, "120339847"),
           "ahmed": accept_arrival(hub, "T1000003", name_ar="أحمد بن سالم الحارثي", name_en="Ahmed bin Salim Al-Harthi")}
    users, tokens = console_users()
    app = console_app(hub, {"SECRET_KEY": "test"}, users=users, breaker_states=dict)
    yield app.test_client(), hub, tokens["viewer"], ids
    app.extensions["rabt_console"].console.broker.close()
    hub.close()


def search(client, token, term: str) -> dict:
    response = client.get(f"/api/v1/messages?q={quote(term)}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.data
    return response.json


@pytest.mark.parametrize("typed,who", [
    ("عمران خان افريدي", "imran"),       # آ typed as ا
    ("عِمْرَان", "imran"),                # with tashkeel
    ("افريدى عمران", "imran"),           # other word order, ى for ي
    ("IMRAN  khan", "imran"),            # case and spacing
    ("احمد الحارثى", "ahmed"),           # أ sent, ا typed
    ("أَحْمَد", "ahmed"),
    ("ahmed al-harthi", "ahmed"),
    ("راجـيـش", "rajesh"),               # tatweel
    ("Rajesh Nai", "rajesh"),            # the start of a word
    ("120339847", "imran"), ("AB7712046", "imran"), ("t1000003", "ahmed"),
])
def test_a_worker_is_found_by_name_or_number_as_typed(env, typed, who):
    client, _hub, token, ids = env
    data = search(client, token, typed)
    assert [m["message_id"] for m in data["messages"]] == [ids[who]]
    assert data["normalized"] == normalize(typed)


def test_no_match_says_what_was_searched(env):
    client, _hub, token, _ids = env
    data = search(client, token, "زيد  الراشدي")
    assert data["messages"] == []
    assert data["normalized"] == "زيد الراشدي"
    assert data["searched"] == ["message id", "correlation id", "civil number", "passport number", "worker name"]
    assert search(client, token, "Rajesh Smith")["messages"] == []  # every word must match


def test_the_page_names_the_term_and_what_was_searched(env):
    client, _hub, token, ids = env
    headers = {"Authorization": f"Bearer {token}"}
    page = client.get("/trail?q=" + quote("إفريدي"), headers=headers).get_data(as_text=True)
    assert 'id="no-match"' not in page and ids["imran"] in page
    page = client.get("/trail?q=" + quote("زَيد"), headers=headers).get_data(as_text=True)
    assert 'id="no-match"' in page and "زَيد" in page and "worker names" in page and ">زيد<" in page


def envelope(message_id: str, name: str, passport: str) -> bytes:
    return (f'<rabt:Envelope xmlns:rabt="{R}"><rabt:Body><rabt:WorkerArrival><rabt:Worker>'
            f"<rabt:PassportNumber>{passport}</rabt:PassportNumber><rabt:Name xml:lang=\"en\">{name}</rabt:Name>"
            f"</rabt:Worker></rabt:WorkerArrival></rabt:Body></rabt:Envelope>").encode()


def test_a_name_is_found_by_index_among_many_messages(env):
    client, hub, token, _ids = env
    first = ["Arun", "Bilal", "Chen", "Dev", "Eko", "Farid", "Gopal", "Hamza", "Ivan", "Jose"]
    for batch in range(4):
        records = []
        for i in range(batch * 2500, (batch + 1) * 2500):
            mid = str(uuid.uuid4())
            records.append(Accepted(mid, "WorkerArrival", "police", "licensing", "licensing.WorkerArrival.police",
                                    b"<raw/>", envelope(mid, f"{first[i % 10]} Worker{i}", f"P{i:07d}")))
        hub.log.accept_many(records, enqueue=False)
    started = time.perf_counter()
    data = search(client, token, "worker7776 gopal")
    assert time.perf_counter() - started < 1.0
    assert len(data["messages"]) == 1 and "Gopal Worker7776" in data["messages"][0]["canonical"]
    assert len(search(client, token, "P0009999")["messages"]) == 1
