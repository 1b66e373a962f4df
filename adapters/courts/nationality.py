"""Nationalities as the courts write them: ISO 3166 alpha-3 codes or country names, English or Arabic.

The courts' batch schema types ``Nationality`` as free text, and clerks
write ``IND``, ``India``, ``Indian`` or ``هندي``; the canonical message
carries the ISO 3166-1 alpha-3 code. The names are data
(``countries.csv`` beside this module: code, English name and nationality,
Arabic name and nationality), so a clerk's new spelling is a new row, not
new code. Names are compared the way people misspell them: case, spacing,
Arabic diacritics and tatweel, alef and yaa forms and taa marbuta do not
count.
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from importlib import resources

_ARABIC_MARKS = re.compile("[\u064b-\u0652\u0670\u0640]")  # harakat, dagger alef, tatweel
_ARABIC_FORMS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})
_CODE = re.compile(r"^[A-Z]{3}$")


def name_key(text: str) -> str:
    """A name as compared: ``" Sri  lankan "`` and ``"sri lankan"`` are one key, as are ``إندونيسي`` and ``اندونيسي``."""
    text = _ARABIC_MARKS.sub("", text).translate(_ARABIC_FORMS)
    return " ".join(text.split()).casefold()


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    """Every known name and nationality (as :func:`name_key`) → its alpha-3 code."""
    table = resources.files(__package__).joinpath("countries.csv").read_text(encoding="utf-8")
    names: dict[str, str] = {}
    for row in csv.DictReader(table.splitlines()):
        code = row.pop("alpha3")
        names[code.casefold()] = code
        for name in row.values():
            names[name_key(name)] = code
    return names


def country_code(text: str) -> str | None:
    """The ISO 3166-1 alpha-3 code ``text`` names, or None when it names no country the table knows."""
    code = _names().get(name_key(text))
    if code is None and _CODE.match(text.strip()):
        return text.strip()  # an alpha-3 code not in the table is still a code: licensing knows them all
    return code
