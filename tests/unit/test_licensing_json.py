"""Licensing's JSON text (event summaries, worker details): one encoder, the text json.dumps gave."""

from __future__ import annotations

import json
import threading
from datetime import date
from decimal import Decimal

from simulators.licensing.state import to_json

VALUES = [
    {"licence_number": "PL-2026-000001", "eligible": True, "reason": "vacancy-available", "passport_number": None},
    {"name": "فاطمة", "valid_until": date(2027, 1, 31), "total": Decimal("1250.500"), "lines": [1, 2.5]},
    ["one", {"nested": {"deeper": ("a", "b")}}],
]


def test_the_text_is_json_dumps_with_non_ascii_kept_and_anything_else_as_its_str():
    for value in VALUES:
        assert to_json(value) == json.dumps(value, ensure_ascii=False, default=str)
    assert to_json(VALUES[1]) == ('{"name": "فاطمة", "valid_until": "2027-01-31", "total": "1250.500",'
                                  ' "lines": [1, 2.5]}')


def test_threads_encoding_at_once_each_get_their_own_text():
    results: dict[int, set[str]] = {n: set() for n in range(4)}

    def encode(n: int) -> None:
        for _ in range(500):
            results[n].add(to_json({"thread": n, "values": VALUES}))

    threads = [threading.Thread(target=encode, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(texts == {json.dumps({"thread": n, "values": VALUES}, ensure_ascii=False, default=str)}
               for n, texts in results.items())
