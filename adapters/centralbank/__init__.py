"""Central bank, Wage Protection System: salary information files (SIF) dropped as CSV.

One file per employer payroll per month becomes one canonical SalaryBatch
for licensing (``mappings/centralbank/SalaryBatch.xsl``); the file format is
described in ``schemas/agencies/centralbank/README.md``.
"""

from adapters.centralbank.sif import read_sif, read_sif_content
from hub.adapter import Adapter, FileDrop

SIF_DROP = FileDrop(pattern="SIF_*.csv", message_type="SalaryBatch", destination="licensing",
                    system="wps", reader=read_sif, max_bytes=64 * 1024 * 1024,
                    content_reader=read_sif_content)

ADAPTER = Adapter(
    name="centralbank",
    title="Central Bank of Oman - Wage Protection System (salary information files)",
    file_drops=(SIF_DROP,),
)

__all__ = ["ADAPTER", "SIF_DROP", "read_sif", "read_sif_content"]
