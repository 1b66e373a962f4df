"""Shared by the console tests: a real hub (SQLite log + SQLite broker) fed through the
real pipeline with signed envelopes, users for every role, and dead letters made by a
real consumer whose handler refuses."""

from __future__ import annotations

import base64
import shutil
import threading
from pathlib import Path

from hub.bootstrap import Hub, bootstrap
from hub.config import Settings
from hub.console.users import Users, new_token
from hub.errors import InputError
from hub.mapping import Mappings
from hub.outbox import OutboxRelay
from hub.pipeline_types import Inbound
from hub.transports.base import Delivery, Transport
from hub.xmlsafe import parse_xml
from werkzeug.security import generate_password_hash

FIXTURE_MAPPINGS = Path(__file__).parent / "fixtures" / "mappings"
ARRIVAL = """<b:Arrival xmlns:b="urn:test:border"><b:Passport>{passport}</b:Passport>
<b:NameEn>{name_en}</b:NameEn><b:NameAr>{name_ar}</b:NameAr>
<b:Nationality>IND</b:Nationality><b:Born>1991-03-14</b:Born><b:At>2026-11-22T03:41:07Z</b:At></b:Arrival>"""
RENEWAL = """<r:Renewal xmlns:r="urn:test:renewal"><r:Civil>{civil}</r:Civil><r:Passport>{passport}</r:Passport>
<r:NameEn>{name_en}</r:NameEn><r:NameAr>{name_ar}</r:NameAr></r:Renewal>"""
#: test-only mapping: a minimal residence renewal notice to canonical ResidenceRenewal
RENEWAL_XSL = """<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:r="urn:test:renewal" xmlns:rabt="urn:rabt:canonical:v1" exclude-result-prefixes="r">
  <xsl:template match="/r:Renewal">
    <rabt:ResidenceRenewal>
      <rabt:Worker>
        <rabt:CivilNumber><xsl:value-of select="r:Civil"/></rabt:CivilNumber>
        <rabt:PassportNumber><xsl:value-of select="r:Passport"/></rabt:PassportNumber>
        <rabt:Name xml:lang="en"><xsl:value-of select="r:NameEn"/></rabt:Name>
        <rabt:Name xml:lang="ar"><xsl:value-of select="r:NameAr"/></rabt:Name>
        <rabt:Nationality>PAK</rabt:Nationality>
        <rabt:DateOfBirth>1989-08-19</rabt:DateOfBirth>
      </rabt:Worker>
      <rabt:ResidenceCard>
        <rabt:Number><xsl:value-of select="r:Civil"/></rabt:Number>
        <rabt:IssueDate>2024-04-28</rabt:IssueDate>
        <rabt:ExpiryDate>2026-04-27</rabt:ExpiryDate>
      </rabt:ResidenceCard>
      <rabt:PreviousExpiryDate>2024-05-02</rabt:PreviousExpiryDate>
      <rabt:EmployerCR>1254903</rabt:EmployerCR>
      <rabt:Profession>
        <rabt:Code>711201</rabt:Code>
        <rabt:Title xml:lang="en">Mason</rabt:Title>
        <rabt:Title xml:lang="ar">بنّاء</rabt:Title>
      </rabt:Profession>
      <rabt:RenewedAt>2024-04-28T06:22:13Z</rabt:RenewedAt>
    </rabt:ResidenceRenewal>
  </xsl:template>
</xsl:stylesheet>
"""
PASSWORD = "correct horse battery staple"


def mappings_dir(root: Path) -> Path:
    """The fixture mappings plus the test-only renewal mapping, under ``root``."""
    target = root / "mappings"
    shutil.copytree(FIXTURE_MAPPINGS, target, dirs_exist_ok=True)
    (target / "police" / "ResidenceRenewal.xsl").write_text(RENEWAL_XSL, encoding="utf-8")
    return target


def make_hub(root: Path, trust_store, routes=None, broker_url: str | None = None,
             database_url: str | None = None) -> Hub:
    """A hub whose state lives under ``root`` (SQLite broker and log unless URLs are given)."""
    settings = Settings(home=root / "home", broker_url=broker_url or f"sqlite:///{root / 'broker.sqlite3'}",
                        database_url=database_url or "")
    parts = {"routes": routes} if routes is not None else {}
    return bootstrap(settings, trust_store=trust_store, mappings=Mappings(mappings_dir(root)), **parts)


def accept_arrival(hub: Hub, passport: str, name_ar: str = "راجيش كومار ناير",
                   name_en: str = "Rajesh Kumar Nair") -> str:
    raw = ARRIVAL.format(passport=passport, name_en=name_en, name_ar=name_ar).encode()
    inbound = Inbound(agency="police", system="border", message_type="WorkerArrival", destination="licensing",
                      raw=raw, source_message_id=f"ROP-{passport}")
    return hub.pipeline.accept(inbound, parse_xml(raw)).message_id


def accept_renewal(hub: Hub, civil: str, name_ar: str = "عمران خان آفريدي",
                   name_en: str = "Imran Khan Afridi", passport: str = "AB7712046") -> str:
    raw = RENEWAL.format(civil=civil, passport=passport, name_en=name_en, name_ar=name_ar).encode()
    inbound = Inbound(agency="police", system="civil-registry", message_type="ResidenceRenewal",
                      destination="licensing", raw=raw, source_message_id=f"REN-{civil}")
    return hub.pipeline.accept(inbound, parse_xml(raw)).message_id


def relay(hub: Hub, transport: Transport) -> int:
    """Publish everything in the outbox."""
    return OutboxRelay(hub.log, transport).drain()


def dead_letter_all(hub: Hub, transport: Transport, queue: str, reason: str = "licensing refused the record") -> int:
    """Consume ``queue`` with a handler that refuses every message (an InputError dead-letters at once).

    The consumer records nothing: the hub chains the ``dead-lettered`` hop itself when
    it moves the letter off the broker (hub.deadletters).
    """
    def refuse(delivery: Delivery) -> None:
        raise InputError(reason, message_id=delivery.message.message_id)

    return transport.consume(queue, refuse, idle_timeout=0.3)


def deliver_all(hub: Hub, transport: Transport, queue: str, seen: list | None = None,
                stop: threading.Event | None = None, idle_timeout: float | None = 0.3) -> int:
    """Consume ``queue`` successfully, recording ``delivered`` in the log."""
    def handle(delivery: Delivery) -> None:
        hub.log.record_event(delivery.message.message_id, "delivered", f"consumed from {queue}")
        if seen is not None:
            seen.append(delivery.message.message_id)

    return transport.consume(queue, handle, idle_timeout=idle_timeout, stop=stop)


def apply_at_licensing(hub: Hub, transport: Transport, home: Path, pki: Path) -> int:
    """The real licensing consumer applies ``licensing``'s queue until idle and sends its receipts; the
    hub's receipts desk then takes them into the log (``applied`` / ``failed`` hops). How many applied."""
    from hub.receipts import HUB, ReceiptDesk
    from simulators.licensing.cli import build_consumer
    from simulators.licensing.config import LicensingConfig
    from simulators.licensing.hub_link import licensing_seal
    from simulators.licensing.receipts import ReceiptSender
    from simulators.licensing.state import LicensingState

    home.mkdir(parents=True, exist_ok=True)
    if not (home / "pki").exists():
        (home / "pki").symlink_to(pki)
    config = LicensingConfig(home=home)
    state = LicensingState(config.effective_database_url)
    sender = ReceiptSender(hub.open_transport, licensing_seal(pki)).start()
    state.windows.on_settled = sender.window_committed
    handled = transport.consume(hub.routes.queue_for("licensing"), build_consumer(config, transport, state, sender).handle,
                                idle_timeout=0.5)
    sender.close()
    assert not sender.unsent and not sender.waiting, "licensing's receipts were not all sent"
    transport.consume(hub.routes.queue_for(HUB), ReceiptDesk(hub.pipeline).handle, idle_timeout=0.5)
    return handled


def console_users() -> tuple[Users, dict[str, str]]:
    """A user and a token for every role (a token only for ``ledger``); returns (users, {role: token})."""
    tokens, digests = {}, {}
    for role in ("viewer", "operator", "admin", "ledger"):
        tokens[role], digest = new_token()
        digests[digest] = (f"{role}-token", role)
    # a cheap hash method keeps the test suite fast; production uses werkzeug's default (scrypt)
    passwords = {role: (generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"), role)
                 for role in ("viewer", "operator", "admin")}
    passwords["أمل"] = (generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"), "operator")
    return Users(passwords, digests), tokens


def basic(user: str, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
