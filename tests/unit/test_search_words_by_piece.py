"""A text's search words, normalized piece by piece (and kept per piece), are those of the whole text normalized.

:func:`hub.messagelog.search.words` normalizes each whitespace-free piece of a
text on its own and caches it; the terms indexed and searched must stay the
words of :func:`~hub.messagelog.search.normalize` over the whole text, also
where Unicode normalization could reach across a space: combining marks after
one, compatibility spaces, characters whose compatibility form holds spaces.
"""

from __future__ import annotations

import random
import unicodedata
from pathlib import Path

import pytest

from hub.messagelog import search
from hub.xmlsafe import parse_xml


def whole_text_words(text: str) -> list[str]:
    """The words as the whole text normalized at once gives them."""
    return list(dict.fromkeys(word[:search.TERM_LENGTH] for word in search.normalize(text).split()))


SPACES = [chr(c) for c in range(0x3100) if chr(c).isspace()] + ["\u3000"]
#: characters whose compatibility form holds a space (¨ is " ̈", ﷺ is several words)
SPACED = [chr(c) for c in range(0x10000) if not chr(c).isspace()
          and any(part.isspace() for part in unicodedata.normalize("NFKC", chr(c)))]
MARKS = [chr(c) for c in range(0x300, 0x370)] + [chr(c) for c in range(0x610, 0x6F0)]
LETTERS = list("aZéİßΩ") + ["\u0627", "\u0623", "\u0649", "\u0629", "\u0640", "\ufb01", "\uac00", "\u1100", "\u1161"]


@pytest.mark.parametrize("text", [
    "  Rājesh  KUMAR ", "أحْمَد  احمد", "راجيش\u00a0كومار", "e \u0301a", "\u0627 \u064b\u0628", "a\u3000\u0301b",
    "x\u00a8y z", "\ufdfa", "NAME " * 3 + "x" * 70, "", " \t\n",
])
def test_named_texts(text):
    assert search.words(text) == whole_text_words(text)


def test_random_texts_of_spaces_marks_and_letters():
    pool, chance = SPACES + SPACED + MARKS + LETTERS, random.Random(2026)
    assert SPACED and len(SPACES) > 20  # the pool holds what could make the two differ
    for _ in range(20000):
        text = "".join(chance.choice(pool) for _ in range(chance.randint(0, 10)))
        assert search.words(text) == whole_text_words(text), repr(text)


def test_a_repeated_piece_gives_its_words_again():
    first = search.words("فيجاي مينون")
    assert search.words("فيجاي مينون") == first == ["فيجاي", "مينون"]


def texts_of(message_type: str, body) -> list[str]:
    """The texts the search-terms table's paths find in ``body`` (an empty type: none)."""
    path = search._paths().get(message_type)
    return [node.text for node in path(body) if node.text] if path is not None else []


SAMPLES = sorted(p for p in (Path(__file__).parents[1] / "samples" / "canonical").glob("*.xml")
                 if not p.name.startswith("envelope-") and p.stem != "Fault")


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_a_bodys_terms_are_its_texts_words_in_turn(path):
    body = parse_xml(path.read_bytes())
    expected = tuple(dict.fromkeys(word for text in texts_of(path.stem, body) for word in whole_text_words(text)))
    assert search.terms_in(path.stem, body) == expected


def test_non_ascii_texts_give_their_words_in_turn_without_repeats():
    body = parse_xml((Path(__file__).parents[1] / "samples" / "canonical" / "WorkerArrival.xml").read_bytes())
    texts = texts_of("WorkerArrival", body)
    assert not " ".join(texts).isascii() and len(texts) > 1  # the branch that normalizes piece by piece
    assert search.terms_in("WorkerArrival", body) == tuple(dict.fromkeys(
        word for text in texts for word in whole_text_words(text)))
