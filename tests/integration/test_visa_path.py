"""The visa check's log writes: one shared commit per group of checks, durable before the police hear the answer.

A visa check logs three records — the police's question, licensing's signed
answer and the hub's signed reply — in one write through the group
committer, after licensing answered and before the reply goes back. Here:

* concurrent checks share that commit (the log counts its write calls, and
  holds the first until the others are queued behind it);
* a gateway process killed with SIGKILL right after it answered leaves every
  answer it gave in the log, byte for byte, with its question and licensing's answer.

Real HTTP on 127.0.0.1, the embedded broker, licensing played by a thread
that answers each question signed with the licensing key.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import pytest
import requests
import sqlalchemy as sa
from werkzeug.serving import make_server

from hub import lifeline
from hub.bootstrap import bootstrap, gateway_app
from hub.config import Settings
from hub.messagelog import open_message_log
from hub.messagelog.db import make_engine
from hub.signing import Verifier
from hub.transports.testing import isolated_routes
from hub.xmlsafe import parse_xml
from simulators.demo.ports import free_port
from simulators.police.client import PoliceClient, police_signer
from tests.integration.test_gateway_police import Gateway, LicensingResponder, licensing_signer
from tests.integration.sent_statements import SentStatements
from tests.unit.test_group_commit import CountingLog

pytestmark = pytest.mark.timeout(120)
CHECKS = 6


def visa_checks(pki, count: int) -> list[bytes]:
    """``count`` signed CheckVisaEligibility requests, built by the police simulator's own client."""
    police = PoliceClient("http://unused", police_signer(pki))
    return [police.prepare(police.messages.visa_check(f"PL-{n}", "IND", "911101")) for n in range(count)]


def post(url: str, body: bytes) -> requests.Response:
    return requests.post(url, data=body, headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30)


def hub_message_id(reply: requests.Response) -> str:
    assert reply.status_code == 200, reply.text
    return parse_xml(reply.content).findtext(".//{*}HubMessageId").strip()


def record_commits(engine, request) -> list[int]:
    """The chain records each commit on ``engine`` wrote (commits that wrote none are left out), in order.

    The records are counted in what the driver sent (:mod:`tests.integration.sent_statements`),
    each connection's apart: the rows of its ``INSERT INTO audit_chain`` statements since its last commit.
    """
    sent = SentStatements(engine)
    request.addfinalizer(sent.close)
    written: dict[int, int] = {}
    commits: list[int] = []

    def commit(conn) -> None:
        for statement in sent.take():
            if (statement.text or "").lstrip().upper().startswith("INSERT INTO AUDIT_CHAIN"):
                written[statement.connection] = written.get(statement.connection, 0) + statement.rows
        if records := written.pop(id(conn.connection.dbapi_connection), 0):
            commits.append(records)

    sa.event.listen(engine, "commit", commit)
    request.addfinalizer(lambda: sa.event.remove(engine, "commit", commit))
    return commits


def test_concurrent_visa_checks_share_one_commit_and_nothing_else(tmp_path, trust_store, pki_dir, request):
    log = CountingLog(make_engine(f"sqlite:///{tmp_path / 'messages.sqlite3'}"), hold=True)
    open_message_log(str(log.engine.url)).close()  # tables and chain head
    commits = record_commits(log.engine, request)
    hub = bootstrap(Settings(home=tmp_path, broker_url=f"sqlite:///{tmp_path / 'broker.sqlite3'}"),
                    trust_store=trust_store, routes=isolated_routes(), log=log)
    with hub.open_transport() as admin:
        admin.declare(hub.routes)
    server = make_server("127.0.0.1", 0, gateway_app(hub, {"MAX_WAITING_REPLIES": CHECKS}), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/soap/police"
    gateway = Gateway("sqlite", hub, url.removesuffix("/soap/police"), Verifier(trust_store), None)
    try:
        with LicensingResponder(gateway, licensing_signer(pki_dir)), ThreadPoolExecutor(CHECKS) as pool:
            first = pool.submit(post, url, visa_checks(pki_dir, 1)[0])
            assert log.held.wait(30), "the first check never reached its commit"
            rest = [pool.submit(post, url, body) for body in visa_checks(pki_dir, CHECKS - 1)]
            deadline = time.monotonic() + 30
            while hub.committer.waiting < CHECKS:  # the held one and the rest queued behind it
                assert time.monotonic() < deadline, f"only {hub.committer.waiting} checks reached the committer"
                time.sleep(0.01)
            log.release.set()
            ids = [hub_message_id(future.result()) for future in [first, *rest]]
    finally:
        server.shutdown()
        hub.close()
    # Each check wrote once (question, answer, reply); the five queued behind the first shared one commit.
    assert log.sent == [3, 3 * (CHECKS - 1)]
    # ...and the database saw exactly that: two commits, each chaining received + published per record
    assert commits == [2 * 3, 2 * 3 * (CHECKS - 1)]
    assert log.batches == [] and log.published == []
    with open_message_log(str(log.engine.url), create=False) as reread:
        for question_id in ids:
            logged = reread.find(correlation_id=question_id)
            assert sorted(m.source_agency for m in logged) == ["hub", "licensing", "police"]
            assert {m.status for m in logged} == {"published"}
        assert reread.verify_chain().records == 2 * 3 * CHECKS


@pytest.fixture
def gateway_process(tmp_path):
    """``rabt serve --role gateway`` as its own process, and a hub in this one on the same home and broker."""
    env = {**os.environ, "RABT_HOME": str(tmp_path), "RABT_BROKER_URL": f"sqlite:///{tmp_path / 'broker.sqlite3'}"}
    subprocess.run([sys.executable, "-m", "hub", "pki", "init", "--agency", "police", "--agency", "licensing"],
                   env=env, check=True, capture_output=True)
    settings = Settings(home=tmp_path, broker_url=env["RABT_BROKER_URL"])
    hub = bootstrap(settings)
    trust = hub.trust_store
    with hub.open_transport() as admin:
        admin.declare(hub.routes)
    port = free_port()
    with open(tmp_path / "gateway.log", "wb") as out:
        process = lifeline.popen([sys.executable, "-m", "hub", "serve", "--role", "gateway", "--processes", "1",
                                  "--gateway-port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _up(base):
            assert process.poll() is None, (tmp_path / "gateway.log").read_text()
            assert time.monotonic() < deadline, "the gateway did not come up"
            time.sleep(0.2)
        yield process, Gateway("sqlite", hub, base, Verifier(trust), None), tmp_path
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        hub.close()


def _up(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=2).ok
    except requests.RequestException:
        return False


def test_answers_given_before_a_sigkill_are_in_the_log_with_their_questions(gateway_process):
    process, gateway, home = gateway_process
    bodies = visa_checks(home / "pki", CHECKS)
    with LicensingResponder(gateway, licensing_signer(home / "pki")), ThreadPoolExecutor(CHECKS) as pool:
        calls = [pool.submit(post, gateway.url, body) for body in bodies]
        done, _ = wait(calls, timeout=60, return_when=FIRST_COMPLETED)
        os.kill(process.pid, signal.SIGKILL)  # the moment the first answer is back; others are mid-way
        process.wait(10)
        wait(calls, timeout=60)
    answered = [call.result() for call in calls if call.exception() is None]
    assert done and answered, "no visa check was answered before the kill"
    with open_message_log(f"sqlite:///{home / 'messages.sqlite3'}", create=False) as log:
        for reply in answered:
            question_id = hub_message_id(reply)
            logged = {m.source_agency: m for m in log.find(correlation_id=question_id)}
            assert logged.keys() == {"police", "licensing", "hub"}
            assert logged["police"].message_id == question_id
            assert logged["police"].message_type == "VisaEligibilityQuery"
            assert logged["licensing"].message_type == "VisaEligibilityResult"
            assert logged["hub"].raw == reply.content  # exactly what the police were told
            assert {m.status for m in logged.values()} == {"published"}
        log.verify_chain()
