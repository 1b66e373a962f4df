"""Which employer owns which workers: contiguous ranges of worker indexes.

Employers are grouped in blocks of :data:`BLOCK` with a fixed share of the
workers; inside a block the sizes are skewed (a few large payrolls, many
small ones) and computed from the block's own seed, so either direction of
the mapping costs one block computation, cached.
"""

from __future__ import annotations

import bisect
from functools import lru_cache
from itertools import accumulate

from simulators.population.draw import Draw
from simulators.population.model import PopulationSpec

BLOCK = 32
"""Employers per partition block (a block's workers are split among them)."""


class WorkerPartition:
    """The employer / worker partition of one :class:`PopulationSpec`, a block computed on use."""

    def __init__(self, spec: PopulationSpec) -> None:
        self.spec = spec
        self._blocks = lru_cache(maxsize=256)(self._block_starts)

    def employer_of_worker(self, i: int) -> int:
        """Index of the employer whose range holds worker ``i``."""
        spec = self.spec
        block = i * spec.employers // (spec.workers * BLOCK)
        while self._block_first_worker(block + 1) <= i:
            block += 1
        while self._block_first_worker(block) > i:
            block -= 1
        starts = self._blocks(block)
        return block * BLOCK + bisect.bisect_right(starts, i) - 1

    def workers_of_employer(self, i: int) -> tuple[int, int]:
        """First worker index and worker count of employer ``i`` (both 0 in a population without workers)."""
        if not self.spec.workers:
            return 0, 0
        starts = self._blocks(i // BLOCK)
        return starts[i % BLOCK], starts[i % BLOCK + 1] - starts[i % BLOCK]

    def _block_first_worker(self, block: int) -> int:
        spec = self.spec
        return spec.workers * min(block * BLOCK, spec.employers) // spec.employers

    def _block_starts(self, block: int) -> tuple[int, ...]:
        """First worker index of each employer of ``block``, plus the block's end."""
        first, end = self._block_first_worker(block), self._block_first_worker(block + 1)
        size = min(BLOCK, self.spec.employers - block * BLOCK)
        draw, n = Draw(self.spec.seed, "block", block), end - first
        base = 1 if n >= size else 0
        weights = [(1 + draw.int(64)) ** 3 for _ in range(size)]  # skewed: a few big payrolls
        spare, total = n - base * size, sum(weights)
        counts = [base + spare * w // total for w in weights]
        for k in range(n - sum(counts)):  # rounding leftovers, one each
            counts[k % size] += 1
        return tuple(accumulate(counts, initial=first))
