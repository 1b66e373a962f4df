"""A salary information file's lines as the CSV reader takes them, and its problems as the report lists them.

:class:`Lines` decodes the file line by line (a line that is not UTF-8 is
named, not fatal); :func:`tracked` keeps the line a CSV row began on, so an
unclosed quote is named where it starts; :func:`plain_rows` splits a text with
no quote in it as the CSV reader would, in C string methods; :func:`csv_problem`
says Python's csv messages in the words of the bank that wrote the file. :class:`Problems`
keeps the first problems by line, as many as the rejection report lists, and
counts the rest, so a file of bad lines does not grow the memory.
"""

from __future__ import annotations

import csv
import heapq
from collections.abc import Iterator

from hub.adapter import FileItem
from hub.filedrop.report import MAX_LISTED

#: the reason yielded for each problem beyond those kept: counted by the report, never listed
NOT_LISTED = "further problem (not listed: the report lists the first ones by line)"


class Lines:
    """Decoded lines of a binary stream, remembering undecodable lines and a missing final line end."""

    def __init__(self, stream) -> None:
        self.stream, self.number, self.bad_encoding, self.unterminated = stream, 0, [], False
        self.record_start = 1

    def __iter__(self) -> Iterator[str]:
        for raw in self.stream:
            self.number += 1
            self.unterminated = not raw.endswith(b"\n")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.bad_encoding.append((self.number, f"not UTF-8 text (byte {exc.start + 1} of the line)"))
                text = raw.decode("utf-8", "replace")
            yield text.lstrip("\ufeff") if self.number == 1 else text


class Problems:
    """The problems of one file: the first ``keep`` by line, and how many more there were."""

    def __init__(self, keep: int = MAX_LISTED) -> None:
        self.keep, self.count, self.after_header = keep, 0, 0
        self._kept: list[tuple[int, int, str]] = []  # (-line, -order, reason): a max-heap on the line

    def __bool__(self) -> bool:
        return self.count > 0

    def add(self, line: int, reason: str) -> None:
        self.count += 1
        self.after_header += line > 3
        item = (-line, -self.count, reason)
        if len(self._kept) < self.keep:
            heapq.heappush(self._kept, item)
        elif item > self._kept[0]:  # earlier than the latest kept: it takes that one's place
            heapq.heapreplace(self._kept, item)

    def items(self) -> Iterator[FileItem]:
        """The kept problems in line order, then one bare item per problem not kept (so all are counted)."""
        for line, _, reason in sorted(self._kept, reverse=True):
            yield FileItem(-line, error=reason)
        for _ in range(self.count - len(self._kept)):
            yield FileItem(0, error=NOT_LISTED)


#: Python's csv messages, in the words of the bank that wrote the file (the first is a hint for programmers)
_CSV_PROBLEMS = {
    "new-line character seen in unquoted field": "a carriage return (CR) inside the line, outside quotes; "
                                                 "lines end in CRLF or LF",
    "unexpected end of data": "a quoted value is not closed: it runs from this line to the end of the file",
    "',' expected after '\"'": "a quote inside a quoted value must be doubled (\"\")",
}


def tracked(reader, lines: Lines) -> Iterator[list[str]]:
    """The CSV reader's rows, keeping ``lines.record_start`` at the line the row being read begins."""
    while True:
        lines.record_start = lines.number + 1
        row = next(reader, None)
        if row is None:
            return
        yield row


def plain_rows(text: str) -> list[list[str]] | None:
    """The rows ``csv.reader(io.StringIO(text, newline="\\n"), strict=True)`` gives, when commas are all it splits on.

    None for a text the CSV reader must read itself: one holding a quote, a
    CR anywhere but before an LF, or a field that could reach the reader's
    field size limit. Else each line (ended by LF alone) is one row, a CR LF
    ending counts as LF, and an empty line is the reader's empty row. The CSV
    reader steps its state machine once per character and copies each field
    through a UCS-4 buffer; ``str.split`` finds the separators with memchr.
    """
    if '"' in text or len(text) > csv.field_size_limit():
        return None
    if "\r" in text:
        if text.count("\r") != text.count("\r\n"):
            return None
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if not lines[-1]:  # the text ends with its last line's end (or is empty): no row after it
        lines.pop()
    return [line.split(",") if line else [] for line in lines]


def csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    return next((plain for known, plain in _CSV_PROBLEMS.items() if text.startswith(known)), text)
