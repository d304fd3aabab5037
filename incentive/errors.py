"""Exceptions of the incentive package; the CLI turns each into one line and exit code 2."""


class IncentiveError(Exception):
    """Base class: bad input or an unreachable service on the incentive side."""


class ScorerError(IncentiveError):
    """A contribution scorer was misconfigured or given participants or utilities it cannot score."""


class FixedPointError(IncentiveError):
    """A value cannot be written as the ledger's int256 fixed point (not finite, or out of range)."""
