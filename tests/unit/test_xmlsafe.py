"""Every hostile document is refused with its reason, fast; good XML still parses."""

from __future__ import annotations

import time

import pytest

from hub.config import XmlLimits
from hub.errors import ParseError
from hub.xmlsafe import parse_xml, parse_xml_file

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<lolz>&lol9;</lolz>"""

HOSTILE = {
    "xxe-local-file": (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        "DOCTYPE is not allowed",
    ),
    "xxe-network": (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:9/secret">]><r>&x;</r>',
        "DOCTYPE is not allowed",
    ),
    "billion-laughs": (BILLION_LAUGHS, "DOCTYPE is not allowed"),
    "quadratic-blowup": (
        b'<!DOCTYPE r [<!ENTITY a "' + b"A" * 50_000 + b'">]><r>' + b"&a;" * 50_000 + b"</r>",
        "DOCTYPE is not allowed",
    ),
    "external-dtd": (
        b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd"><r/>',
        "DOCTYPE is not allowed",
    ),
    "parameter-entity": (
        b'<!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><r/>',
        "DOCTYPE is not allowed",
    ),
    "undeclared-entity": (b"<r>&secret;</r>", "entities are refused"),
    "deep-nesting": (b"<a>" * 5000 + b"</a>" * 5000, "nest"),
    "very-deep-nesting": (b"<a>" * 1_000_000 + b"</a>" * 1_000_000, "nest"),
    "not-well-formed": (b"<a><b></a>", "not well-formed"),
    "truncated": (b"<a><b>text", "not well-formed"),
    "binary": (bytes(range(256)) * 8, "not well-formed"),
    "empty": (b"   ", "empty"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_document_is_refused_quickly_with_its_reason(name):
    document, reason = HOSTILE[name]
    started = time.perf_counter()
    with pytest.raises(ParseError) as refused:
        parse_xml(document, XmlLimits(max_bytes=16 * 1024 * 1024))
    elapsed = time.perf_counter() - started
    assert reason in str(refused.value)
    assert elapsed < 0.5, f"{name} took {elapsed:.3f}s"


def test_oversize_document_is_refused_before_parsing():
    big = b"<r>" + b"x" * (2 * 1024 * 1024) + b"</r>"
    with pytest.raises(ParseError, match=f"document is {len(big)} bytes, over the limit of 1048576"):
        parse_xml(big, XmlLimits(max_bytes=1024 * 1024))  # the size check's reason: refused unparsed


def test_oversize_file_is_not_read_whole(tmp_path):
    path = tmp_path / "big.xml"
    with path.open("wb") as stream:
        stream.write(b"<r>")
        stream.seek(50 * 1024 * 1024)
        stream.write(b"</r>")
    with pytest.raises(ParseError, match="over the limit"):
        parse_xml_file(path, XmlLimits(max_bytes=1024 * 1024))


def test_depth_limit_is_ours_and_names_the_line():
    nested = b"<a>\n" * 20 + b"</a>" * 20
    with pytest.raises(ParseError) as refused:
        parse_xml(nested, XmlLimits(max_depth=10))
    assert refused.value.line == 11
    assert "deeper than 10" in str(refused.value)


def test_nesting_exactly_at_the_limit_parses():
    nested = b"<a>" * 10 + b"</a>" * 10
    assert parse_xml(nested, XmlLimits(max_depth=10)).tag == "a"
    with pytest.raises(ParseError, match="deeper than 9"):
        parse_xml(nested, XmlLimits(max_depth=9))


@pytest.mark.parametrize("levels", [16, 17, 29, 30])
def test_nesting_beyond_the_first_probe_is_checked_against_the_limit(levels):
    nested = b"<a>\n" * levels + b"</a>" * levels  # the shallow path finds elements from 17 levels on
    assert parse_xml(nested, XmlLimits(max_depth=30)).tag == "a"
    assert parse_xml(nested).tag == "a"
    with pytest.raises(ParseError, match="deeper than 15") as refused:
        parse_xml(nested, XmlLimits(max_depth=15))
    assert refused.value.line == 16
    nested = b"<a>\n" * (levels + 32) + b"</a>" * (levels + 32)
    with pytest.raises(ParseError, match="deeper than 30") as refused:
        parse_xml(nested, XmlLimits(max_depth=30))
    assert refused.value.line == 31


def test_xxe_never_reads_the_file():
    document = b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/hostname">]><r>&x;</r>'
    with pytest.raises(ParseError):
        parse_xml(document)


def test_good_document_parses_and_drops_comments_and_pis():
    root = parse_xml('<?xml version="1.0" encoding="UTF-8"?><a xmlns="urn:x"><!--c--><?pi x?><b xml:lang="ar">سالم</b></a>'.encode())
    assert [child.text for child in root] == ["سالم"]


def test_text_instead_of_bytes_is_refused():
    with pytest.raises(ParseError, match="bytes"):
        parse_xml("<a/>")


def test_large_but_allowed_document_parses():
    document = b"<r>" + b"<item>x</item>" * 100_000 + b"</r>"
    assert len(parse_xml(document)) == 100_000
