"""Courts: nightly labour-case batches dropped as XML (``labour-case-batch.xsd``).

:func:`read_court_batch` parses a batch with the hub's hardened parser,
validates it against the courts' own schema (every violation reported with
its line), checks the declared record count, and yields one item per
``CaseUpdate``: a one-case batch in the courts' dialect (the batch's court
details kept), which ``mappings/courts/LabourCaseUpdate.xsl`` maps to a
canonical LabourCaseUpdate.

A batch is taken as the courts send it: UTF-8 or UTF-16 (with its byte
order mark, as Windows tools save it), and a plaintiff's nationality as an
alpha-3 code or a country name in English or Arabic, turned into the code
here (:mod:`adapters.courts.nationality`). Every problem quotes the courts'
own line and value, never a line of the hub's canonical message.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from adapters.courts.nationality import country_code
from hub.adapter import AGENCY_SCHEMAS, FileDrop, FileItem
from hub.canonical import SCHEMA_COMPILE_LOCK
from hub.config import XmlLimits
from hub.errors import ConfigError, ParseError
from hub.xmlsafe import parse_xml_file

NS = "urn:om:mjla:labourcourt:batch:2022"
BATCH_SCHEMA = AGENCY_SCHEMAS / "courts" / "labour-case-batch.xsd"
MAX_BATCH_BYTES = 16 * 1024 * 1024
"""A batch holds at most 1000 updates of a few KB each."""
LIMITS = XmlLimits(max_bytes=MAX_BATCH_BYTES, max_depth=16)
_L = f"{{{NS}}}"
_local = threading.local()


def batch_schema() -> etree.XMLSchema:
    """This thread's compiled batch schema (an XMLSchema keeps its error log: one per thread)."""
    schema = getattr(_local, "schema", None)
    if schema is None:
        try:
            parser = etree.XMLParser(no_network=True, resolve_entities=False)
            with SCHEMA_COMPILE_LOCK:
                schema = _local.schema = etree.XMLSchema(etree.parse(str(BATCH_SCHEMA), parser))
        except (OSError, etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
            raise ConfigError(f"court batch schema {BATCH_SCHEMA} does not compile: {exc}", agency="courts") from exc
    return schema


def read_court_batch(path: Path) -> Iterator[FileItem]:
    """Yield one FileItem per case update, or one per problem (schema violations by line)."""
    try:
        batch = parse_xml_file(path, LIMITS, agency="courts")
    except ParseError as exc:
        yield FileItem(exc.line or 0, error=exc.reason)
        return
    problems = list(_problems(batch))
    if problems:
        yield from problems
        return
    for update in batch.iterfind(f"{_L}CaseUpdate"):
        yield FileItem(update.sourceline or 0, payload=_one_case_batch(batch, update), source_id=_source_id(update))


def _problems(batch: etree._Element) -> Iterator[FileItem]:
    schema = batch_schema()
    if not schema.validate(batch):
        for entry in schema.error_log:
            yield FileItem(entry.line, error=f"schema: {entry.message}")
        return
    declared, found = int(batch.get("RecordCount")), len(batch.findall(f"{_L}CaseUpdate"))
    if declared != found:
        yield FileItem(batch.sourceline or 1, error=f"RecordCount is {declared} but the batch holds {found} CaseUpdate(s)")
    yield from _nationalities(batch)


def _nationalities(batch: etree._Element) -> Iterator[FileItem]:
    """Write each plaintiff's nationality as its alpha-3 code; a problem for each one no table row names."""
    for element in batch.iterfind(f"{_L}CaseUpdate/{_L}Plaintiff/{_L}Nationality"):
        code = country_code(element.text or "")
        if code is None:
            yield FileItem(element.sourceline or 0, error=f"Nationality {element.text!r} is neither an ISO 3166 "
                                                          "alpha-3 code nor a country name the hub knows")
        else:
            element.text = code


def _source_id(update: etree._Element) -> str:
    """The courts' own key of an update: case number, event and its date."""
    return "/".join((update.findtext(f"{_L}CaseNo"), update.findtext(f"{_L}StatusCode"),
                     update.findtext(f"{_L}StatusDate")))


def _one_case_batch(batch: etree._Element, update: etree._Element) -> etree._Element:
    """A batch of one: the court's details and this update, still valid against the batch schema."""
    single = etree.Element(batch.tag, dict(batch.attrib, RecordCount="1"), nsmap={"lcb": NS})
    for name in ("CourtNameAr", "CourtNameEn"):
        element = batch.find(f"{_L}{name}")
        if element is not None:
            single.append(copy.deepcopy(element))
    single.append(copy.deepcopy(update))
    return single


BATCH_DROP = FileDrop(pattern="LCB_*.xml", message_type="LabourCaseUpdate", destination="licensing",
                      system="labour-court", reader=read_court_batch, max_bytes=MAX_BATCH_BYTES)

FILE_DROPS = (BATCH_DROP,)
