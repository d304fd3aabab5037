"""Exceptions of the incentive package; the CLI turns each into one line and exit code 2."""


class IncentiveError(Exception):
    """Base class: bad input or an unreachable service on the incentive side."""
