"""A participant with its own ledger identity: signs its blob and commits its hash with its own key before sending it.
"""

from __future__ import annotations

from dataclasses import replace

from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak

from fl_node.errors import FlNodeError
from fl_node.hfl.envelope import sign_blob
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
        """Train on ``plan`` (``plan.round`` is the on-chain round id), sign the blob, commit its hash, return it.

        On a chain (``plan.signed``) the blob is signed with the node's ledger key; a null
        ledger's accounts have no key, so its blobs stay unsigned.
        """
        submission = self.participant.submit(plan)
        if plan.signed:
            blob = sign_blob(submission.blob, self.account)
            submission = replace(submission, blob=blob, blob_hash=keccak(blob), bytes_up=len(blob))
        self.ledger.commit(self.account, plan.round, submission.blob_hash)
        return submission
