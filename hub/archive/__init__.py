"""Evidence archives of the message log that verify offline, and what retention does with them.

An archive is one ZIP (in the spirit of ETSI ASiC-E): every chain record,
payload, envelope and anchor up to the anchor that covers the period, with a
manifest listing every entry's SHA-256, signed by the hub (XML-DSig) and its
certificate beside it. :func:`write_archive` streams it out of the log;
:func:`verify_archive` checks it with no database and no network.
See ``docs/evidence.md``.
"""

from hub.archive.reader import ArchiveReport, verify_archive
from hub.archive.writer import ArchiveWritten, write_archive

__all__ = ["ArchiveReport", "ArchiveWritten", "verify_archive", "write_archive"]
