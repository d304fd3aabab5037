"""A participant with its own ledger identity: commits its blob's hash with its own key before sending the blob.
"""

from __future__ import annotations

from eth_account.signers.local import LocalAccount

from fl_node.errors import FlNodeError
from fl_node.hfl.null_ledger import NullAccount, NullLedger
from fl_node.hfl.participant import Participant, RoundPlan, Submission
from incentive.ledger import LedgerClient


class LedgerNode:
    """A participant with its own ledger identity: trains, commits its blob's hash with its own key.

    Parameters
    ----------
    name : str
        Display name (e.g. "Hospital A").
    participant : Participant
        Its ``participant_id`` must be ``account.address``.
    account : LocalAccount | NullAccount
        The node's Ethereum key; it signs its commitments (a name on a null ledger).
    ledger : LedgerClient | NullLedger
    behaviour_name : str (default: "honest")
        For reports only.
    """

    def __init__(
        self,
        name: str,
        participant: Participant,
        account: LocalAccount | NullAccount,
        ledger: LedgerClient | NullLedger,
        behaviour_name: str = "honest",
    ) -> None:
        if participant.participant_id != account.address:
            raise FlNodeError(f"participant id {participant.participant_id} is not the node's address {account.address}")
        self.name = name
        self.participant = participant
        self.account = account
        self.ledger = ledger
        self.behaviour_name = behaviour_name

    @property
    def participant_id(self) -> str:
        return self.participant.participant_id

    @property
    def n_samples(self) -> int:
        return self.participant.n_samples

    def submit(self, plan: RoundPlan) -> Submission:
        """Train on ``plan`` (``plan.round`` is the on-chain round id), commit the blob's hash, return the blob."""
        submission = self.participant.submit(plan)
        self.ledger.commit(self.account, plan.round, submission.blob_hash)
        return submission
