"""``rabt_certificate_expiry_timestamp_seconds``: every signing certificate the watched trust stores accept now.

A collector read at scrape time, separate from the message flow's counters
because its values come from the trust stores, not from events.
"""

from __future__ import annotations

import weakref

from prometheus_client.core import GaugeMetricFamily

from hub.metrics.registry import REGISTRY, label


class _CertificateExpiry:
    """``rabt_certificate_expiry_timestamp_seconds``, read at scrape time from the watched trust stores.

    Read, not set: a store reloads when a partner's certificate is renewed, and
    a certificate whose overlap has ended must leave the gauge with it.
    """

    def __init__(self) -> None:
        self.stores: weakref.WeakSet = weakref.WeakSet()

    def describe(self):
        return [self._family()]

    def collect(self):
        family, seen = self._family(), set()
        for store in list(self.stores):
            for party, pinned in store.pinned():
                labels = (label(party), format(pinned.certificate.serial_number, "x"))
                if labels not in seen:
                    seen.add(labels)
                    family.add_metric(list(labels), pinned.certificate.not_valid_after_utc.timestamp())
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily("rabt_certificate_expiry_timestamp_seconds",
                                 "Unix time a pinned signing certificate expires (every certificate accepted now, "
                                 "an earlier one during its overlap too).", labels=("party", "serial"))


_CERTIFICATES = _CertificateExpiry()
REGISTRY.register(_CERTIFICATES)


def watch_certificates(store) -> None:
    """Report the certificates of ``store`` (a :class:`~hub.truststore.TrustStore`, held weakly) at each scrape."""
    _CERTIFICATES.stores.add(store)
