"""Numbers as people read them: tokens and ETH with decimals, scores as fractions, UTC times, short hashes.

Each function returns text only; the templates put the exact on-chain value beside it (a
``title`` and a ``data-value`` attribute), so nothing is lost to rounding.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from incentive.fixedpoint import SCALE

WEI_PER_ETH = 10**18
TOKEN_DECIMALS = 18


def _decimal(value: int, decimals: int, places: int) -> str:
    """``value / 10**decimals`` with thousands separators and exactly ``places`` decimals (so columns align)."""
    return f"{Decimal(value).scaleb(-decimals):,.{places}f}"


def tokens(units: int, symbol: str = "FRW") -> str:
    """Reward-token units (18 decimals) as ``"38.181812 FRW"`` (six decimals)."""
    return f"{_decimal(units, TOKEN_DECIMALS, 6)} {symbol}"


def eth(wei: int) -> str:
    """Wei as ``"0.750000 ETH"`` (six decimals)."""
    return f"{_decimal(wei, 18, 6)} ETH"


def fraction(fixed: int) -> str:
    """A ledger fixed-point value (1e6) as a fraction with its six exact decimals: ``"0.912281"``."""
    return f"{Decimal(fixed) / SCALE:.6f}"


def percent(fixed: int) -> str:
    """A fixed-point fraction as a percentage with two decimals: ``"91.23 %"``."""
    return f"{Decimal(fixed) * 100 / SCALE:.2f} %"


def utc(timestamp: int | None) -> str:
    """Unix seconds as ``"2026-11-29 00:40:12 UTC"`` (an em dash for none)."""
    if not timestamp:
        return "—"
    return datetime.fromtimestamp(int(timestamp), tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def short(value: str, keep: int = 6) -> str:
    """``0x`` hex shortened to its first and last ``keep`` digits: ``"0x5FbDB2…180aa3"``."""
    if not isinstance(value, str) or len(value) <= 2 + 2 * keep + 1:
        return str(value)
    return f"{value[: 2 + keep]}…{value[-keep:]}"


def integer(value: int) -> str:
    """An integer with thousands separators."""
    return f"{int(value):,}"
