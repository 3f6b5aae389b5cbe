"""Property-based tests of the requests' parsers and free-text inputs (#13): a typed request number and any text
a reporter, an assessor or a handler sends."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows import requests
from flows.errors import Invalid


@given(year=st.integers(min_value=2000, max_value=2999), number=st.integers(min_value=1, max_value=999_999))
def test_item1_a_number_people_see_reads_back(year: int, number: int) -> None:
    shown = requests.code(year, number)
    assert requests.parse_code(shown) == (year, number)
    assert requests.parse_code(f"  #{shown.lower()} ") == (year, number)
    assert requests.parse_code(str(number)) == (None, number)


@given(st.text(max_size=40))
def test_item1_any_typed_number_parses_or_is_refused_never_raises(text: str) -> None:
    parsed = requests.parse_code(text)
    if parsed is not None:
        year, number = parsed
        assert number >= 0 and (year is None or year >= 0)


@given(field=st.sampled_from(sorted(requests.LIMITS)), text=st.text(max_size=700))
def test_item2_free_text_is_kept_within_its_limit_or_refused(field: str, text: str) -> None:
    try:
        kept = requests.clean(field, text)
    except Invalid as err:
        assert err.field == field and err.reason in ("empty", "too_long")
        return
    assert 0 < len(kept) <= requests.LIMITS[field] and kept == kept.strip()
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs") and c != "\n" for c in kept)


@pytest.mark.parametrize("text", ["R-2027-", "R--12", "2027-12-3", "²", "12²", "", "#"])
def test_item1_malformed_numbers_are_refused(text: str) -> None:
    assert requests.parse_code(text) is None


def test_item1_full_width_digits_are_read() -> None:
    assert requests.parse_code("Ｒ-２０２７-１２".replace("Ｒ", "R")) == (2027, 12)
