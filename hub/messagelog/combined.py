"""Several write statements of one transaction as one statement: data-modifying ``WITH`` parts on PostgreSQL.

A push's writes were seven statements after its reads (the chain records,
the lane's head, the header rows, the payloads, the search terms, the
outbox row, the COMMIT). psycopg's pipeline sends each statement as soon as
it is executed, so the server woke up, started an executor, ran and ended
it for each (perf of the backends under benchmarks/log_write_instructions.py:
waiting for and reading the next message about 12% of their CPU samples,
starting executors about 10%). Written as one statement,

    WITH w1 AS (INSERT INTO audit_chain …), w2 AS (UPDATE lanes …), …
    INSERT INTO outbox …

the parts run once each, to completion, whatever the last one returns, as
PostgreSQL documents for data-modifying statements in ``WITH``. They share
one snapshot, so no part may need to see another's rows: the write path
only inserts rows and moves its lane's head, and no foreign key checks one
table's rows against another's in the same statement (revision 0011).

The parts keep their own texts (:mod:`hub.messagelog.prepared` keeps those
to a few shapes), so a push's statement has one text whatever its values.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

#: parameters of one combined statement at most (the protocol allows 65,535); a larger write takes several
MAX_PARAMETERS = 30_000


def statements(parts: Sequence[tuple[str, tuple]]) -> Iterator[tuple[str, tuple]]:
    """``parts`` (statement with ``?`` marks, its parameters), in order, as few statements as the limit allows."""
    group: list[tuple[str, tuple]] = []
    count = 0
    for sql, params in parts:
        if group and count + len(params) > MAX_PARAMETERS:
            yield joined(group)
            group, count = [], 0
        group.append((sql, params))
        count += len(params)
    if group:
        yield joined(group)


def joined(parts: Sequence[tuple[str, tuple]]) -> tuple[str, tuple]:
    """One statement running every part in order: the last as the statement, those before it as ``WITH`` parts."""
    if len(parts) == 1:
        return parts[0]
    texts = ", ".join(f"w{number} AS ({sql})" for number, (sql, _) in enumerate(parts[:-1], 1))
    return f"WITH {texts} {parts[-1][0]}", tuple(value for _, params in parts for value in params)
