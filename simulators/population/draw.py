"""Deterministic randomness for the population, and the account numbers drawn with it.

:class:`Draw` turns ``(seed, kind, index)`` into one BLAKE2b digest (never
``hash()``, which changes with ``PYTHONHASHSEED``), read as a 256-bit integer
(the hungriest entity uses ~180 bits) and consumed with ``divmod`` — cheaper
than seeding a ``random.Random`` per entity, and identical in every process.
:func:`iban` and :func:`bank_account` make valid Omani accounts from draws.
"""

from __future__ import annotations

import bisect
import hashlib
from decimal import Decimal
from itertools import accumulate

from simulators import names as N

_BANK_CUM = tuple(accumulate(N.BANK_WEIGHTS))


class Draw:
    """Deterministic draws from one entity's digest: ``divmod`` off a 256-bit integer."""

    __slots__ = ("x",)

    def __init__(self, seed: int, kind: str, index: int) -> None:
        digest = hashlib.blake2b(f"{seed}:{kind}:{index}".encode(), digest_size=32).digest()
        self.x = int.from_bytes(digest, "little")

    def int(self, n: int) -> int:
        """A number in ``range(n)``."""
        self.x, r = divmod(self.x, n)
        return r

    def pick(self, seq):
        return seq[self.int(len(seq))]

    def weighted(self, cumulative: tuple[int, ...]) -> int:
        """Index drawn with the weights whose running sums are ``cumulative``."""
        return bisect.bisect_right(cumulative, self.int(cumulative[-1]))

    def chance(self, per_mille: int) -> bool:
        return self.int(1000) < per_mille


def iban(bank_code3: str, account: str) -> str:
    """An Omani IBAN with real ISO 13616 mod-97 check digits (account: 16 digits)."""
    # "OM00" moved to the end reads as 24 22 00 (O=24, M=22)
    check = 98 - int(f"{bank_code3}{account}242200") % 97
    return f"OM{check:02d}{bank_code3}{account}"


def bank_account(draw: Draw) -> tuple[str, str]:
    """(BIC, IBAN) of a fresh account at a bank drawn by market share."""
    bic, _, code3 = N.BANKS[draw.weighted(_BANK_CUM)]
    return bic, iban(code3, f"{draw.int(10**16):016d}")


def money(baisas: int) -> Decimal:
    """An amount in OMR (three decimals) from a whole number of baisas."""
    return Decimal(baisas).scaleb(-3)
