"""The ledger's 1e6 fixed point: exact round-half-even, range and bad values."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incentive.errors import FixedPointError, IncentiveError
from incentive.fixedpoint import INT256_MAX, SCALE, from_fixed, to_fixed


def test_scale_is_one_million():
    assert SCALE == 10**6
    assert to_fixed(1) == 1_000_000
    assert to_fixed(-0.25) == -250_000


def test_exact_ties_round_half_to_even():
    # 2**-7 = 0.0078125 exactly, so x * 1e6 ends in exactly .5: 7812.5 and 23437.5.
    assert to_fixed(2**-7) == 7812
    assert to_fixed(3 * 2**-7) == 23438
    assert to_fixed(-(2**-7)) == -7812


def test_rounding_uses_the_floats_exact_value_not_a_rounded_product():
    # Find floats whose product with 1e6 in floating point rounds differently than the exact value.
    xs = np.random.default_rng(0).integers(0, 10**7, size=20_000) / 10**7
    differing = [float(x) for x in xs if round(float(x) * 1e6) != round(Fraction(float(x)) * SCALE)]
    assert differing, "expected some floats where the float product misrounds"
    for x in differing[:50]:
        assert to_fixed(x) == round(Fraction(x) * SCALE)
        assert abs(Fraction(to_fixed(x)) - Fraction(x) * SCALE) <= Fraction(1, 2)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False))
def test_to_fixed_is_within_half_a_unit_and_ties_go_to_even(x):
    fixed = to_fixed(x)
    error = abs(Fraction(fixed) - Fraction(x) * SCALE)
    assert error <= Fraction(1, 2)
    if error == Fraction(1, 2):
        assert fixed % 2 == 0
    assert abs(from_fixed(fixed) - x) <= 0.5e-6 * (1 + 1e-9) + abs(x) * 1e-15


def test_numpy_floats_convert_like_python_floats():
    assert to_fixed(np.float64(0.123456789)) == to_fixed(0.123456789) == 123457
    assert to_fixed(np.float32(0.5)) == 500_000


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), "0.5", None])
def test_non_numbers_are_refused(bad):
    with pytest.raises(FixedPointError, match="cannot go on the ledger"):
        to_fixed(bad)  # type: ignore[arg-type]
    assert issubclass(FixedPointError, IncentiveError)


def test_values_beyond_int256_are_refused():
    assert to_fixed(INT256_MAX // SCALE) == (INT256_MAX // SCALE) * SCALE
    with pytest.raises(FixedPointError, match="out of int256 range"):
        to_fixed(INT256_MAX // SCALE + 1)
    with pytest.raises(FixedPointError, match="out of int256 range"):
        to_fixed(1e77)
