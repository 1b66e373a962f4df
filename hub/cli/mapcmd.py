"""``rabt map AGENCY TYPE FILE``: one mapping on one file, for the engineer writing it.

The file is read the way the hub reads it from that agency: when the adapter
declares a file drop for TYPE, its own reader turns the flat file into rows
(a SIF CSV, a court batch split into cases); otherwise FILE is XML, parsed by
the hardened parser, and a SOAP 1.1 envelope saved from the wire is unwrapped
to its body element. Each document goes through
``mappings/<agency>/<TYPE>.xsl`` and the result is printed (several items:
one document after another, each under a comment naming its line).

``--validate`` re-reads what was printed and checks it against the canonical
XSDs (or, for an outbound mapping, against the agency's own contract), so a
schema error's line is a line of the output.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
from lxml import etree

from hub import canonical
from hub.adapter import Adapter, FileDrop
from hub.config import Settings, XmlLimits
from hub.contracts import AgencyContracts
from hub.errors import ConfigError, InputError, MappingError, ParseError, SchemaError
from hub.mapping import Mappings
from hub.registry import load_adapter
from hub.soap import SOAP_ENV
from hub.xmlsafe import parse_xml, parse_xml_file

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@dataclass(frozen=True)
class Mapped:
    """One mapped document and where its input came from (None: the whole file)."""

    label: str | None
    data: bytes


@click.command("map")
@click.argument("agency")
@click.argument("message_type", metavar="TYPE")
@click.argument("file", type=_FILE)
@click.option("--validate", is_flag=True,
              help="Check the result against the canonical XSDs (or the agency's contract for outbound mappings).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the result here instead of standard output (several items: OUT-001.xml, ...).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="XSLT parameter passed to the mapping (repeatable), e.g. hub_message_id=...")
@click.pass_obj
def map_file(settings: Settings, agency: str, message_type: str, file: Path, validate: bool,
             output: Path | None, params: tuple[str, ...]) -> None:
    """Run mappings/AGENCY/TYPE.xsl on FILE and print the result."""
    adapter = load_adapter(agency)
    mappings = Mappings()
    _check_type(mappings, agency, message_type)
    parameters = _parameters(params)
    results = [_mapped(mappings, adapter, message_type, label, document, parameters, validate, settings.xml_limits)
               for label, document in _documents(adapter, message_type, file, settings.xml_limits)]
    _write(results, output)


def _check_type(mappings: Mappings, agency: str, message_type: str) -> None:
    known = mappings.available(agency)
    if message_type in known:
        return
    close = difflib.get_close_matches(message_type, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"{agency} has no mapping {message_type!r} (known: {', '.join(known) or 'none'}){hint}",
                      agency=agency)


def _parameters(params: tuple[str, ...]) -> dict[str, str]:
    parameters = {}
    for item in params:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--param {item!r} is not NAME=VALUE")
        parameters[name.strip()] = value
    return parameters


def drop_for(adapter: Adapter, message_type: str) -> FileDrop | None:
    """The adapter's file drop producing ``message_type``, if it reads such files."""
    return next((drop for drop in adapter.file_drops if drop.message_type == message_type), None)


def _documents(adapter: Adapter, message_type: str, file: Path,
               limits: XmlLimits) -> Iterator[tuple[str | None, etree._Element]]:
    drop = drop_for(adapter, message_type)
    if drop is not None:
        yield from _read_with(drop, file, adapter.name)
        return
    try:
        root = parse_xml_file(file, limits, agency=adapter.name)
    except ParseError as exc:
        raise ParseError(f"{file.name}: {exc.reason}", agency=adapter.name) from exc
    yield None, _soap_body(root, file) if root.tag == f"{{{SOAP_ENV}}}Envelope" else root


def _soap_body(root: etree._Element, file: Path) -> etree._Element:
    # A request or answer saved from the wire: the mapping reads what is in the Body.
    body = root.find(f"{{{SOAP_ENV}}}Body")
    children = [child for child in body if isinstance(child.tag, str)] if body is not None else []
    if len(children) != 1:
        raise InputError(f"{file.name}: SOAP Body must hold exactly one element, found {len(children)}")
    return children[0]


def _read_with(drop: FileDrop, file: Path, agency: str) -> Iterator[tuple[str, etree._Element]]:
    """The items the adapter's reader makes of ``file``; any bad record refuses the whole file."""
    size = file.stat().st_size
    if size > drop.max_bytes:
        raise InputError(f"{file.name} is {size} bytes, over the {agency} drop limit of {drop.max_bytes}")
    try:
        items = list(drop.reader(file))
    except (OSError, UnicodeError, ValueError) as exc:
        raise InputError(f"{file.name} could not be read: {exc}", agency=agency) from exc
    errors = [item for item in items if item.error is not None or item.payload is None]
    if errors:
        first = errors[0]
        reason = first.error or "record could not be read"
        # line 0 is the file as a whole; a parse error's reason names its line already
        where = f"line {first.line}: " if first.line and not reason.startswith(f"line {first.line}:") else ""
        more = f" ({len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise InputError(f"{file.name}: {where}{reason}{more}", agency=agency)
    if not items:
        raise InputError(f"{file.name} holds no records", agency=agency)
    for item in items:
        source = f", source id {item.source_id}" if item.source_id else ""
        yield f"line {item.line}{source}", item.payload


def _mapped(mappings: Mappings, adapter: Adapter, message_type: str, label: str | None,
            document: etree._Element, parameters: dict[str, str], validate: bool, limits: XmlLimits) -> Mapped:
    where = f" ({label})" if label else ""
    try:
        result = mappings.transform(adapter.name, message_type, document, **parameters)
    except MappingError as exc:
        raise MappingError(f"{adapter.name}/{message_type}{where}: {exc.reason}", agency=adapter.name) from exc
    etree.indent(result)
    data = etree.tostring(result, xml_declaration=True, encoding="UTF-8") + b"\n"
    if validate:
        _validate(adapter, parse_xml(data, limits), f"{adapter.name}/{message_type}{where}")
    return Mapped(label, data)


def _validate(adapter: Adapter, result: etree._Element, what: str) -> None:
    """Canonical schemas for canonical output, the agency's contract for its own dialect."""
    namespace = etree.QName(result).namespace
    try:
        if namespace == canonical.NAMESPACE:
            canonical.validate(result)
            schema = "canonical schema"
        else:
            contracts = AgencyContracts(adapter.schema_dir, adapter.name)
            if not contracts.covers(result):
                raise SchemaError(f"no schema under {adapter.schema_dir} has the namespace {namespace!r}")
            contracts.validate(result)
            schema = f"{adapter.name} contract"
    except SchemaError as exc:
        raise SchemaError(f"output of {what}, {exc.reason}", line=exc.line, rule=exc.rule,
                          agency=adapter.name) from exc
    click.echo(f"valid: {etree.QName(result).localname} ({schema}, {namespace})", err=True)


def _write(results: list[Mapped], output: Path | None) -> None:
    if output is None:
        stream = click.get_binary_stream("stdout")
        for number, result in enumerate(results, 1):
            if len(results) > 1:
                stream.write(f"<!-- item {number} of {len(results)}: {result.label} -->\n".encode())
            stream.write(result.data)
        return
    targets = [output] if len(results) == 1 else [
        output.with_name(f"{output.stem}-{number:03d}{output.suffix or '.xml'}") for number in range(1, len(results) + 1)]
    for target, result in zip(targets, results, strict=True):
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_bytes(result.data)
        temporary.replace(target)
    click.echo(f"wrote {', '.join(str(t) for t in targets)}", err=True)
