"""Shared by the file-drop integration tests: a pipeline as the hub ships it, logging to a SQLite file."""

from __future__ import annotations

from hub.access import AccessRights
from hub.mapping import Mappings
from hub.messagelog import open_message_log
from hub.pipeline import Pipeline
from hub.signing import Signer, TrustStore, Verifier


def shipped_pipeline(trust_store: TrustStore, url: str) -> Pipeline:
    """The shipped mappings and access rights, the trust store's hub key, the message log at ``url``."""
    return Pipeline(mappings=Mappings(), signer=Signer(trust_store.hub), verifier=Verifier(trust_store),
                    log=open_message_log(url), may_send=AccessRights.load())
