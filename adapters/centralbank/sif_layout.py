"""Which known SIF layout a label row spells, whatever its case and spacing.

Two header layouts (payer ``Payer Account Number`` or ``Payer IBAN``) and two
employee layouts (with or without ``Reference Number``) are in use; a label
row spelling none of them is named with what differs
(:func:`adapters.centralbank.sif_checks.layout_problem`).
"""

from __future__ import annotations

from functools import lru_cache

from adapters.centralbank.sif_checks import (
    EMPLOYEE_LABELS, EMPLOYEE_LABELS_NO_REFERENCE, HEADER_LABELS, HEADER_LABELS_IBAN, label_key, layout_problem,
)

_LAYOUT_KEYS = {tuple(map(label_key, labels)): labels
                for labels in (HEADER_LABELS, HEADER_LABELS_IBAN, EMPLOYEE_LABELS, EMPLOYEE_LABELS_NO_REFERENCE)}


def layout(labels: list[str]) -> tuple[str, ...] | None:
    """The known layout ``labels`` spell, whatever their case and spacing; trailing empty cells ignored.

    Nearly every file spells its labels as the files before it did, so the
    answer is remembered: normalizing 24 labels per file cost more than
    checking the dozen rows of a typical file. Only label rows of a sane
    length are remembered, and only the last few spellings, so hostile files
    cannot make the memory grow.
    """
    labels = tuple(labels)
    if sum(map(len, labels)) > _REMEMBERED_LABELS_CHARS:
        return _layout_of(labels)
    return _remembered_layout(labels)


def _layout_of(labels: tuple[str, ...]) -> tuple[str, ...] | None:
    while labels and not labels[-1].strip():
        labels = labels[:-1]
    return _LAYOUT_KEYS.get(tuple(map(label_key, labels)))


_REMEMBERED_LABELS_CHARS = 1024
_remembered_layout = lru_cache(maxsize=32)(_layout_of)


def payer_kind(labels: list[str]) -> tuple[str | None, str | None]:
    """``("account" or "iban", None)`` for a known header label row (line 1), else ``(None, what is wrong)``."""
    found = layout(labels)
    if found in (HEADER_LABELS, HEADER_LABELS_IBAN):
        return ("account" if found == HEADER_LABELS else "iban"), None
    return None, layout_problem(1, [label.strip() for label in labels], (HEADER_LABELS, HEADER_LABELS_IBAN),
                                {"Payer IBAN": "Payer Account Number"})


def employee_layout(labels: list[str]) -> tuple[tuple[str, ...] | None, str | None]:
    """``(layout, None)`` for a known employee label row (line 3), else ``(None, what is wrong)``."""
    found = layout(labels)
    if found in (EMPLOYEE_LABELS, EMPLOYEE_LABELS_NO_REFERENCE):
        return found, None
    return None, layout_problem(3, [label.strip() for label in labels],
                                (EMPLOYEE_LABELS, EMPLOYEE_LABELS_NO_REFERENCE), {})
