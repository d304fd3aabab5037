"""Exceptions of the incentive package; the CLI turns each into one line and exit code 2."""


class IncentiveError(Exception):
    """Base class: bad input or an unreachable service on the incentive side."""


class ScorerError(IncentiveError):
    """A contribution scorer was misconfigured or given participants or utilities it cannot score."""


class FixedPointError(IncentiveError):
    """A value cannot be written as the ledger's int256 fixed point (not finite, or out of range)."""


class CompileError(IncentiveError):
    """The Solidity sources, the offline compiler or its npm packages are missing, or compilation failed."""


class ChainError(IncentiveError):
    """A chain backend is unreachable, is the wrong chain, or could not be started."""


class KeyFileError(IncentiveError):
    """A private-key file is missing or malformed."""


class LedgerNotFound(IncentiveError):
    """An address holds no FederationLedger code."""


class LedgerTransactionError(IncentiveError):
    """A ledger transaction failed without a decodable revert (e.g. out of gas)."""


class LedgerRevert(IncentiveError):
    """The ledger (or its token) rejected a call with a named custom error.

    Attributes
    ----------
    error_name : str
        The Solidity error's name, e.g. ``"NotMember"``.
    args : tuple
        The error's decoded arguments, in declaration order.
    named : dict[str, object]
        The same arguments by parameter name.
    """

    def __init__(self, error_name: str, named: dict[str, object] | None = None):
        self.error_name = error_name
        self.named = dict(named or {})
        super().__init__(*self.named.values())

    def __str__(self) -> str:
        inner = ", ".join(f"{key}={_show(value)}" for key, value in self.named.items())
        return f"{self.error_name}({inner})"

    def __repr__(self) -> str:
        return f"LedgerRevert({self})"

    def __reduce__(self):
        return (type(self), (self.error_name, self.named))


def _show(value: object) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)
