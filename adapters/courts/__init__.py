"""Courts: labour cases. Nightly case-update batches are dropped as XML files.

The file part lives in :mod:`adapters.courts.files`; SOAP parts (case
lookup, complaint referral) plug in next to it and extend ``ADAPTER``.
"""

from adapters.courts.files import FILE_DROPS, read_court_batch
from adapters.courts.soap import OUTBOUND
from hub.adapter import Adapter

ADAPTER = Adapter(
    name="courts",
    title="Ministry of Justice and Legal Affairs - labour courts",
    file_drops=FILE_DROPS,
    outbound=OUTBOUND,
)

__all__ = ["ADAPTER", "FILE_DROPS", "OUTBOUND", "read_court_batch"]
