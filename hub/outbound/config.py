"""Settings of the outbound SOAP workers: part of the one settings tree (:mod:`hub.config`).

Endpoint URLs are named by each :class:`~hub.adapter.OutboundService`
(``endpoint_setting``) and read with the rest of the settings, never at
import time; ``Settings.outbound.for_adapters(adapters)`` narrows them to the
workers being built, and tests build an ``OutboundSettings`` directly.
"""

from hub.config import OutboundSettings

__all__ = ["OutboundSettings"]
