"""The hand-spelled JSON that entry hashes are taken over is byte for byte
:func:`canonical_json`, so entries hashed before and after it match."""

from hypothesis import given
from hypothesis import strategies as st

from accountant.ledger.chain import HASHED_FIELDS, canonical_json, flat_canonical_json

values = st.one_of(st.none(), st.text(), st.integers(min_value=-(2**63), max_value=2**63))


@given(st.fixed_dictionaries({name: values for name in HASHED_FIELDS},
                             optional={"delta_add": st.text()}))
def test_flat_encoding_is_canonical_json(row):
    assert flat_canonical_json(row) == canonical_json(row)


finite = st.floats(allow_nan=False, allow_infinity=False)


@given(st.dictionaries(st.text(), st.one_of(values, finite, st.lists(st.integers()))))
def test_other_values_fall_back_to_json_dumps(row):
    assert flat_canonical_json(row) == canonical_json(row)
