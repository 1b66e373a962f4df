"""A chain record's detail is json.dumps with sorted keys (the hashes depend on it): pinned here for any later rewrite."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from hub.messagelog.chain import HEADER_FIELDS, fields_detail

NAMES = st.lists(st.text(max_size=12), max_size=8)
VALUES = st.one_of(st.none(), st.text(), st.integers(), st.booleans(), st.floats(allow_nan=False))


def encoded(values: dict, names) -> str:
    """The detail as the chain has always written it."""
    return json.dumps({n: values.get(n) for n in names}, sort_keys=True, ensure_ascii=False)


@given(NAMES, st.dictionaries(st.text(max_size=12), VALUES, max_size=10))
def test_detail_is_the_sorted_json_of_the_named_values(names, values):
    values.update({name: values.get(name) for name in names[::2]})  # some named values present, some missing
    assert fields_detail(values, names) == encoded(values, names)


@given(st.dictionaries(st.sampled_from(HEADER_FIELDS), st.one_of(st.none(), st.text())))
def test_header_fields_of_any_text_read_as_before(values):
    # quotes, backslashes, control characters and any Unicode: the encoder's escaping
    assert fields_detail(values, HEADER_FIELDS) == encoded(values, HEADER_FIELDS)


def test_known_header_detail():
    row = {"message_type": "WorkerArrived", "source_agency": "police", "correlation_id": None,
           "destination": 'li"c\\ensing\n', "routing_key": "راشد"}
    assert fields_detail(row, HEADER_FIELDS) == (
        '{"correlation_id": null, "created_at": null, "destination": "li\\"c\\\\ensing\\n", '
        '"message_type": "WorkerArrived", "received_at": null, "routing_key": "راشد", '
        '"source_agency": "police", "source_message_id": null, "source_system": null}')
    assert fields_detail({}, ()) == "{}"
