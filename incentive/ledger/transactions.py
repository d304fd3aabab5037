"""Sending the ledger's transactions: fixed gas limits, signing, and reverts turned into errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_account.signers.local import LocalAccount
from web3.exceptions import Web3Exception
from web3.types import TxReceipt

from incentive.chain import Chain
from incentive.errors import ChainError, IncentiveError, LedgerTransactionError
from incentive.ledger.records import to_hex
from incentive.ledger.reverts import RevertDecoder
from incentive.solidity import ContractArtifact

#: Fixed gas limits of the ledger's transactions on development chains (measured with margin).
GAS = {
    "join": 300_000,
    "requestMembership": 250_000,
    "approveMember": 80_000,
    "requestLeave": 80_000,
    "withdrawStake": 120_000,
    "topUp": 80_000,
    "setUnbondingPeriod": 60_000,
    "slash": 120_000,
    "withdrawSlashed": 100_000,
    "setMinStake": 60_000,
    "grantRole": 120_000,
    "revokeRole": 80_000,
    "createTask": 200_000,
    "createPartyTask": 200_000,
    "excludeParticipant": 80_000,
    "openRound": 220_000,
    "commit": 250_000,
    "claim": 150_000,
    "settle": 150_000,
    "releaseModel": 100_000,
}
FINALIZE_GAS_BASE = 300_000
FINALIZE_GAS_PER_PARTICIPANT = 40_000
CANCEL_GAS_BASE = 150_000
CANCEL_GAS_PER_PARTICIPANT = 20_000
RECORD_DECRYPTIONS_GAS_BASE = 80_000
RECORD_DECRYPTIONS_GAS_PER_SUM = 40_000
#: Block span of one ``eth_getLogs`` request when reading the event history.
LOG_CHUNK_BLOCKS = 2_000


def ledger_error(errors: RevertDecoder, exc: Exception, what: str) -> IncentiveError | None:
    """The exception to raise for ``exc`` from a ledger call: its revert, or a :class:`ChainError`
    when the node answered with an error that is not a revert or with a result web3 cannot read;
    ``None`` for anything else (a bug here, re-raised as is)."""
    if isinstance(exc, IncentiveError):
        return exc
    revert = errors.from_exception(exc)
    if revert is not None:
        return revert
    if isinstance(exc, (Web3Exception, ValueError, TypeError)):  # web3 decoding an answer of the wrong type
        detail = " ".join(str(exc).split())[:200]
        return ChainError(f"{what}: the node's answer cannot be used ({type(exc).__name__}: {detail})")
    return None


def send_checked(
    chain: Chain, sender: LocalAccount, tx: dict[str, Any], gas: int | None, errors: RevertDecoder, what: str
) -> TxReceipt:
    """Send; turn a revert (at estimation or in the mined receipt) into :class:`LedgerRevert`."""
    try:
        receipt = chain.send(sender, tx, gas=gas)
    except Exception as exc:
        error = ledger_error(errors, exc, what)
        if error is None:
            raise
        raise error from None
    if receipt["status"] == 1:
        return receipt
    # Replay the failed transaction as a call on the state of its block to learn why.
    call = {"from": sender.address, "value": tx.get("value", 0), "data": tx["data"], "gas": receipt["gasUsed"] * 2}
    if tx.get("to"):
        call["to"] = tx["to"]
    try:
        chain.w3.eth.call(call, block_identifier=receipt["blockNumber"])
    except Exception as exc:
        revert = errors.from_exception(exc)
        if revert is not None:
            raise revert from None
    raise LedgerTransactionError(
        f"{what} failed in transaction {to_hex(receipt['transactionHash'])} "
        f"(gas used {receipt['gasUsed']}; out of gas?) without a decodable revert"
    )


def deploy_contract(chain: Chain, deployer: LocalAccount, artifact: ContractArtifact, args: Sequence[Any]) -> str:
    """Deploy ``artifact`` with constructor ``args``, signed by ``deployer``; return its address."""
    factory = chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    data = factory.constructor(*args).data_in_transaction
    errors = RevertDecoder([artifact.abi])
    receipt = send_checked(chain, deployer, {"data": data}, None, errors, f"deploying {artifact.name}")
    return receipt["contractAddress"]
