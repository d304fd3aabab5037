"""The ledger's number format: int256 fixed point scaled by 1e6, and the one rounding rule into it.

Scores and metrics go on chain as integers ``round(x * 10**6)``. Every writer (ledger client,
reward mirror, audit) converts with :func:`to_fixed` so off-chain records and on-chain values
agree to the unit.

Rounding rule: round half to even of the *exact* value of ``x * 10**6`` (the float is taken as
the binary fraction it is, with no intermediate float multiplication). The error is at most
0.5e-6, below the 1e-6 tolerance the audit allows when it recomputes a score.
"""

from __future__ import annotations

import numbers
from fractions import Fraction

from incentive.errors import FixedPointError

SCALE = 10**6
INT256_MIN = -(2**255)
INT256_MAX = 2**255 - 1


def to_fixed(x: float | int) -> int:
    """Convert a score or metric to the ledger's fixed point.

    Parameters
    ----------
    x : float | int
        The value in natural units (e.g. accuracy 0.9734 or a Shapley value -0.0121).

    Returns
    -------
    int
        ``x * 10**6`` rounded half to even, within int256.

    Raises
    ------
    FixedPointError
        When ``x`` is NaN, infinite, or out of int256 range once scaled.
    """
    exact = Fraction(x) if isinstance(x, int) else _exact_float(x)
    fixed = round(exact * SCALE)  # Fraction.__round__ rounds half to even
    if not INT256_MIN <= fixed <= INT256_MAX:
        raise FixedPointError(f"value {x!r} is out of int256 range once scaled by 1e6")
    return fixed


def from_fixed(value: int) -> float:
    """Convert a ledger fixed-point integer back to a float (``value / 10**6``, correctly rounded)."""
    return value / SCALE


def _exact_float(x: float) -> Fraction:
    if not isinstance(x, numbers.Real):
        raise FixedPointError(f"value {x!r} cannot go on the ledger: not a number")
    try:
        return Fraction(float(x))
    except (OverflowError, ValueError):
        raise FixedPointError(f"value {x!r} cannot go on the ledger: not a finite number") from None
