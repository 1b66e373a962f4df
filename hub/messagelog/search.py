"""Search terms: worker names and civil / passport numbers of each stored message, indexed.

The log stores envelopes as bytes; finding "راجيش كومار" among millions of
them by scanning would read every payload. Instead, when a message is
stored, the names and numbers of its canonical body are written to
``search_terms`` as (term, message id) rows in the same transaction, one
per distinct term: each word of a name, normalized (:func:`normalize`), and
each number as written. They are read out of the envelopes before the write
lock is taken (:func:`terms_for`), so other writers never wait for the
parsing. A search is then an index range scan per word.

Which elements hold them is data, not code: ``search-terms.toml`` beside
the canonical schemas, XPaths per canonical message type. A type not listed there
indexes nothing; messages stored before the table existed are not indexed
(the console's scan of recent payloads still finds their numbers).
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from itertools import compress
from operator import not_

import sqlalchemy as sa
from lxml import etree
from sqlalchemy.engine import Connection

from hub.errors import RabtError
from hub.messagelog import prepared
from hub.messagelog.records import Accepted
from hub.messagelog.schema import metadata
from hub.resources import canonical_schemas
from hub.xmlsafe import parse_xml

#: longest term kept (a name word or a number); longer ones are cut, so a search by their start still finds them
TERM_LENGTH = 64
#: words of one search, at most
MAX_WORDS = 8
_NAMESPACES = {"rabt": "urn:rabt:canonical:v1"}
# Arabic harakat, superscript alef and tatweel; Latin accents go by NFKD + combining marks
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_FORMS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})
# C collation on PostgreSQL: a prefix is then a plain byte range, whatever the database's locale
_TERM = sa.String(TERM_LENGTH).with_variant(sa.String(TERM_LENGTH, collation="C"), "postgresql")

# WITHOUT ROWID on SQLite (revision 0010): the key's b-tree holds the rows, so a term is written once, not
# to a rowid table and again to the key's index
search_terms = sa.Table(
    "search_terms", metadata,
    sa.Column("term", _TERM, primary_key=True),
    sa.Column("message_id", sa.String(64), primary_key=True),  # no foreign key, as payloads (revision 0011)
    sqlite_with_rowid=False,
)

_INSERT = prepared.insert_sql(search_terms, ("term", "message_id"))


def normalize(text: str) -> str:
    """Text as it is indexed and searched: no diacritics or tatweel, one alef, ي for ى, ه for ة, case-folded.

    ``"  Rājesh  KUMAR "`` → ``"rajesh kumar"``; ``"أحْمَد"`` and ``"احمد"`` are one name.
    """
    if text.isascii():  # every step below leaves ASCII as it is but the case (a wage month: 2.3 million names)
        return " ".join(text.lower().split())
    text = _ARABIC_MARKS.sub("", unicodedata.normalize("NFKC", text)).translate(_ARABIC_FORMS)
    decomposed = unicodedata.normalize("NFKD", text)  # combining marks left out, character by character in C:
    text = "".join(compress(decomposed, map(not_, map(unicodedata.combining, decomposed))))
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def words(text: str) -> list[str]:
    """The distinct normalized words of ``text``, in order, each at most :data:`TERM_LENGTH` characters."""
    return list(dict.fromkeys(_normalized_words(text)))


def _normalized_words(text: str) -> list[str]:
    """Every normalized word of ``text``, in order, repeats kept (a loop: a generator cost more than the words)."""
    found: list[str] = []
    for piece in text.split():
        found += _piece_words(piece)
    return found


@lru_cache(maxsize=8192)
def _piece_words(piece: str) -> tuple[str, ...]:
    """The words of one whitespace-free piece of a text, normalized and cut: a text's are its pieces' in turn.

    Normalizing never joins across whitespace (no character composes with one before it that is a space,
    and the marks that may follow one are dropped), so a piece is normalized alone. Kept per piece, as names
    repeat their words: an Arabic name's normalization cost more than the rest of a push's search terms.
    """
    return tuple(word[:TERM_LENGTH] for word in normalize(piece).split())


@lru_cache(maxsize=1)
def _paths() -> dict[str, etree.XPath]:
    """Message type → one compiled XPath selecting every name and number element of its body."""
    table = tomllib.loads((canonical_schemas() / "search-terms.toml").read_text(encoding="utf-8"))
    return {message_type: etree.XPath(" | ".join(paths["elements"]), namespaces=_NAMESPACES)
            for message_type, paths in table.items()}


def terms_of(message_type: str, envelope: bytes) -> list[str]:
    """The search terms of one stored envelope (empty for a type the table does not list, or unreadable XML)."""
    if message_type not in _paths():
        return []
    try:
        return list(terms_in(message_type, parse_xml(envelope)))
    except RabtError:
        return []  # indexing never refuses a message the pipeline accepted


def terms_in(message_type: str, document: etree._Element) -> tuple[str, ...]:
    """The search terms of a canonical message already parsed: its envelope, or its body as a document of its own.

    The table's paths search the whole document (``//…``) for elements of the
    body, so the body's own tree finds what its envelope would (not a body
    still inside a larger tree: the paths would search all of that).
    """
    path = _paths().get(message_type)
    if path is None:
        return ()
    try:
        found = path(document)
    except etree.XPathError:
        return ()  # indexing never refuses a message the pipeline accepted
    texts = [node.text for node in found if node.text]
    joined = " ".join(texts)
    if joined.isascii():  # the words of all the texts at once, as words() finds them text by text
        return tuple(dict.fromkeys(word[:TERM_LENGTH] for word in joined.lower().split()))
    return tuple(dict.fromkeys(_normalized_words(joined)))  # the texts' pieces are the joined text's


def terms_for(records: Iterable[Accepted]) -> dict[str, list[str]]:
    """Message id → its search terms, for every record whose type the table lists.

    Terms the pipeline found in the body it had parsed are taken as they are;
    only the other records' envelopes are parsed for them.
    """
    found = {}
    for record in records:
        terms = (record.search_terms if record.search_terms is not None
                 else terms_of(record.message_type, bytes(record.envelope)))
        if terms:
            found[record.message_id] = list(terms)
    return found


def index_messages(conn: Connection, stored: Sequence[Accepted], terms: Mapping[str, list[str]]) -> None:
    """Write the terms of the records just ``stored`` (inside the storing transaction; duplicates left out)."""
    # Straight to the driver's executemany: SQLAlchemy's processing of each row's parameters cost
    # more than the inserts (a wage file has ~30 terms, a month 5 million).
    prepared.execute_many(conn, _INSERT, [(term, record.message_id) for record in stored
                                          for term in terms.get(record.message_id, ())])


def matching(query: str) -> sa.Subquery | None:
    """Message ids having a term that begins with each word of ``query`` (None: no word to search)."""
    wanted = words(query)[:MAX_WORDS]
    if not wanted:
        return None
    selects = [sa.select(search_terms.c.message_id).where(search_terms.c.term >= word,
                                                          search_terms.c.term < word + "\U0010ffff")
               for word in wanted]
    found = selects[0] if len(selects) == 1 else sa.intersect(*selects)
    return found.subquery()
