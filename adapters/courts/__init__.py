"""Courts: labour cases. Nightly case-update batches are dropped as XML files;
the hub calls the labour court's SOAP service to refer complaints and to look
up a case's status.

The file part lives in :mod:`adapters.courts.files`, the SOAP part (complaint
referral, case-status look-up) in :mod:`adapters.courts.soap`.
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
