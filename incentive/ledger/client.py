"""Typed web3 client of the FederationLedger contract.

One :class:`LedgerClient` is bound to one deployed ledger on one :class:`~incentive.chain.Chain`.
Every state-changing method takes the signer (an eth-account ``LocalAccount``) first, signs
locally and returns a :class:`~incentive.ledger.events.Receipt` with the decoded ledger events.
Every read returns frozen dataclasses (:mod:`incentive.ledger.records`). A rejected call raises
:class:`~incentive.errors.LedgerRevert` naming the contract's custom error and its arguments,
e.g. ``NotMember(account=0x...)``, on every backend (:mod:`incentive.ledger.reverts`).

A round, as the federation drives it::

    chain = connect()
    ledger = LedgerClient.deploy(chain, admin, aggregator=agg.address, evaluator=ev.address)
    task_id = ledger.create_task(admin, model_spec_hash, validation_spec_hash,
                                 reward_per_round=10**18, required_participants=3
                                 ).event(TaskCreated).task_id
    ledger.join(alice, "Hospital A", node_key_hash, stake_wei=ledger.min_stake())
    round_id = ledger.open_round(agg, task_id, global_model_hash).event(RoundOpened).round_id
    ledger.commit(alice, round_id, keccak(blob))               # once per participant
    ledger.finalize(ev, round_id, aggregated_hash, performance, scores)  # scores in commit order
    ledger.claim(alice)                                         # rewards minted as RewardToken
    ledger.release_model(ev, task_id, best_round_id)            # the task's released model

A ledger deployed with ``merkle_scores=True`` records scores at finalize as events and a Merkle
root only; :meth:`LedgerClient.settle_round` then credits each participant with its proof
before it claims (:mod:`.score_tree`).
    history = ledger.events()                                   # typed event history

Scores and performance are ledger fixed point (``incentive.fixedpoint.to_fixed``); hashes are
32 bytes (``bytes`` or ``0x`` hex).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import cached_property
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.types import TxReceipt

from incentive.chain import Chain
from incentive.errors import ChainError, IncentiveError, LedgerNotFound
from incentive.ledger.events import (
    DecryptionRecorded,
    EventDecoder,
    LedgerEvent,
    ModelReleased,
    Receipt,
    ScoreCommitted,
    ScoresCommitted,
)
from incentive.ledger.records import (
    AGGREGATOR_ROLE,
    EVALUATOR_ROLE,
    MINTER_ROLE,
    ExclusionReason,
    Member,
    MemberStatus,
    ParticipantRecord,
    Round,
    RoundStatus,
    StakeTotals,
    Task,
    to_bytes32,
    to_hex,
)
from incentive.ledger.reverts import RevertDecoder
from incentive.ledger.score_tree import ScoreTree, score_tree_of
from incentive.ledger.transactions import (
    CANCEL_GAS_BASE,
    CANCEL_GAS_PER_PARTICIPANT,
    FINALIZE_GAS_BASE,
    FINALIZE_GAS_PER_PARTICIPANT,
    GAS,
    ledger_error,
    LOG_CHUNK_BLOCKS,
    RECORD_DECRYPTIONS_GAS_BASE,
    RECORD_DECRYPTIONS_GAS_PER_SUM,
    deploy_contract,
    send_checked,
)
from incentive.rewards import RewardPolicy, RewardSplit, dropped_bitmap, policy_named
from incentive.solidity import ContractArtifact, ledger_artifacts


class LedgerClient:
    """A deployed FederationLedger on one chain.

    Parameters
    ----------
    chain : Chain
        The chain the ledger lives on.
    address : str
        The ledger's address (use :meth:`at` to check that code is there first).
    artifacts : dict[str, ContractArtifact] | None (default: the compiled repository contracts)
        Compiled contracts (``FederationLedger``, ``RewardToken``).
    """

    def __init__(self, chain: Chain, address: str, artifacts: dict[str, ContractArtifact] | None = None):
        self.chain = chain
        self.w3 = chain.w3
        self.artifacts = artifacts or ledger_artifacts()
        self.address = Web3.to_checksum_address(address)
        ledger_abi = self.artifacts["FederationLedger"].abi
        token_abi = self.artifacts["RewardToken"].abi
        self.contract = self.w3.eth.contract(address=self.address, abi=ledger_abi)
        self._errors = RevertDecoder([ledger_abi, token_abi])
        self.event_decoder = EventDecoder(self.w3, self.address, ledger_abi)

    # -------------------------------------------------------------- construction

    @classmethod
    def deploy(
        cls,
        chain: Chain,
        admin: LocalAccount,
        *,
        min_stake_wei: int = 10**17,
        aggregator: str | None = None,
        evaluator: str | None = None,
        token_name: str = "Federation Reward",
        token_symbol: str = "FRW",
        merkle_scores: bool = False,
        artifacts: dict[str, ContractArtifact] | None = None,
    ) -> LedgerClient:
        """Deploy a reward token and a ledger, let the ledger mint, and grant the two roles.

        Parameters
        ----------
        chain : Chain
            Where to deploy.
        admin : LocalAccount
            Deployer; holds DEFAULT_ADMIN_ROLE of the ledger and of the token.
        min_stake_wei : int (default: 0.1 ETH)
            Least stake with which an account joins without approval.
        aggregator, evaluator : str | None (default: no grant)
            Accounts that receive AGGREGATOR_ROLE / EVALUATOR_ROLE.
        token_name, token_symbol : str (default: "Federation Reward", "FRW")
            The reward token's ERC-20 metadata.
        merkle_scores : bool (default: False)
            Finalize records each score as an event and the round's score root only; members
            (or anyone) settle each score with its proof before claiming (:meth:`settle_round`).
        artifacts : dict[str, ContractArtifact] | None (default: the repository contracts)
            Compiled contracts.
        """
        artifacts = artifacts or ledger_artifacts()
        token_address = deploy_contract(chain, admin, artifacts["RewardToken"], [token_name, token_symbol, admin.address])
        ledger_address = deploy_contract(
            chain, admin, artifacts["FederationLedger"], [admin.address, token_address, min_stake_wei, merkle_scores]
        )
        client = cls(chain, ledger_address, artifacts)
        client.transact(admin, client.token_contract, "grantRole", [MINTER_ROLE, ledger_address])
        if aggregator:
            client.grant_role(admin, AGGREGATOR_ROLE, aggregator)
        if evaluator:
            client.grant_role(admin, EVALUATOR_ROLE, evaluator)
        return client

    @classmethod
    def at(cls, chain: Chain, address: str, artifacts: dict[str, ContractArtifact] | None = None) -> LedgerClient:
        """Attach to an existing ledger, checking that ``address`` holds FederationLedger code.

        Raises
        ------
        LedgerNotFound
            Not an address, no code there, or code that does not answer as a FederationLedger.
        """
        if not isinstance(address, str) or not Web3.is_address(address):
            raise LedgerNotFound(f"not an address: {address!r}")
        checksummed = Web3.to_checksum_address(address)
        if len(chain.w3.eth.get_code(checksummed)) == 0:
            raise LedgerNotFound(f"no contract code at {checksummed} on chain {chain.chain_id}")
        client = cls(chain, checksummed, artifacts)
        try:
            is_ledger = (
                client.contract.functions.EVALUATOR_ROLE().call() == EVALUATOR_ROLE
                and client.contract.functions.SCORE_SCALE().call() == 10**6
            )
        except ChainError:  # the node failed, not the contract
            raise
        except Exception:  # no such function: another contract
            is_ledger = False
        if not is_ledger:
            raise LedgerNotFound(f"the contract at {checksummed} is not a FederationLedger")
        return client

    # -------------------------------------------------------------- membership

    def join(self, member: LocalAccount, name: str, node_key_hash: bytes | str, stake_wei: int) -> Receipt:
        """Join with a stake of ``stake_wei`` (at least :meth:`min_stake`)."""
        return self._send(member, "join", [name, to_bytes32(node_key_hash)], value=stake_wei)

    def request_membership(self, member: LocalAccount, name: str, node_key_hash: bytes | str) -> Receipt:
        """Ask to join without a stake; an admin then calls :meth:`approve`."""
        return self._send(member, "requestMembership", [name, to_bytes32(node_key_hash)])

    def approve(self, admin: LocalAccount, account: str) -> Receipt:
        """Admit a pending member without a stake."""
        return self._send(admin, "approveMember", [Web3.to_checksum_address(account)])

    def leave(self, member: LocalAccount) -> Receipt:
        """Leave the consortium: :meth:`request_leave` (the stake returns by :meth:`withdraw_stake`)."""
        return self.request_leave(member)

    def request_leave(self, member: LocalAccount) -> Receipt:
        """Stop taking part; the stake stays slashable until the unbonding period has passed."""
        return self._send(member, "requestLeave", [])

    def withdraw_stake(self, member: LocalAccount) -> Receipt:
        """After the unbonding period, take back what is left of the stake and leave."""
        return self._send(member, "withdrawStake", [])

    def top_up(self, member: LocalAccount, amount_wei: int) -> Receipt:
        """Add ``amount_wei`` to the member's stake (e.g. back above the minimum after a slash)."""
        return self._send(member, "topUp", [], value=amount_wei)

    def set_unbonding_period(self, admin: LocalAccount, seconds: int) -> Receipt:
        """Change the seconds between a request to leave and the stake's return (admin)."""
        return self._send(admin, "setUnbondingPeriod", [seconds])

    def slash(self, slasher: LocalAccount, account: str, amount_wei: int, evidence_hash: bytes | str) -> Receipt:
        """Slash ``amount_wei`` of ``account``'s stake (admin or evaluator), citing evidence."""
        return self._send(
            slasher, "slash", [Web3.to_checksum_address(account), amount_wei, to_bytes32(evidence_hash)]
        )

    def withdraw_slashed(self, admin: LocalAccount, to: str, amount_wei: int) -> Receipt:
        """Send slashed stake held by the ledger to ``to`` (admin)."""
        return self._send(admin, "withdrawSlashed", [Web3.to_checksum_address(to), amount_wei])

    def set_min_stake(self, admin: LocalAccount, min_stake_wei: int) -> Receipt:
        """Change the least stake with which an account joins without approval (admin)."""
        return self._send(admin, "setMinStake", [min_stake_wei])

    def grant_role(self, admin: LocalAccount, role: bytes, account: str) -> Receipt:
        """Grant ``role`` (e.g. :data:`AGGREGATOR_ROLE`) to ``account`` (admin)."""
        return self._send(admin, "grantRole", [role, Web3.to_checksum_address(account)])

    def revoke_role(self, admin: LocalAccount, role: bytes, account: str) -> Receipt:
        """Revoke ``role`` from ``account`` (admin)."""
        return self._send(admin, "revokeRole", [role, Web3.to_checksum_address(account)])

    # -------------------------------------------------------------- tasks and rounds

    def create_task(
        self,
        admin: LocalAccount,
        model_spec_hash: bytes | str,
        validation_spec_hash: bytes | str,
        reward_per_round: int,
        required_participants: int,
    ) -> Receipt:
        """Create a task (admin); the receipt's :class:`TaskCreated` carries ``task_id``.

        ``required_participants`` is the task's minimum cohort: the least number of included
        participants a round needs to be finalized, :data:`MIN_COHORT` or more (fewer raises
        ``LedgerRevert`` ``CohortBelowMinimum``).
        """
        args = [to_bytes32(model_spec_hash), to_bytes32(validation_spec_hash), reward_per_round, required_participants]
        return self._send(admin, "createTask", args)

    def create_party_task(
        self,
        admin: LocalAccount,
        model_spec_hash: bytes | str,
        validation_spec_hash: bytes | str,
        reward_per_round: int,
        parties: int,
    ) -> Receipt:
        """Create a party task (admin): a run whose ``parties`` keep their own model shares (vertical FL,
        transfer learning), each of which must be included when a round is finalized (:data:`MIN_PARTIES` or more).
        """
        args = [to_bytes32(model_spec_hash), to_bytes32(validation_spec_hash), reward_per_round, parties]
        return self._send(admin, "createPartyTask", args)

    def open_round(
        self,
        aggregator: LocalAccount,
        task_id: int,
        global_model_hash: bytes | str,
        deadline: int | None = None,
        duration_s: int = 3600,
    ) -> Receipt:
        """Open a round (aggregator); the receipt's :class:`RoundOpened` carries ``round_id``.

        Parameters
        ----------
        deadline : int | None (default: latest block time + ``duration_s``)
            Unix time after which commitments are rejected (compared with block.timestamp).
        duration_s : int (default: 3600)
            Used when ``deadline`` is not given.
        """
        if deadline is None:
            deadline = self.chain.timestamp() + duration_s
        return self._send(aggregator, "openRound", [task_id, to_bytes32(global_model_hash), deadline])

    def commit(self, member: LocalAccount, round_id: int, update_hash: bytes | str) -> Receipt:
        """Commit to the keccak256 hash of the member's encrypted-update blob (once per round)."""
        return self._send(member, "commit", [round_id, to_bytes32(update_hash)])

    def finalize(
        self,
        evaluator: LocalAccount,
        round_id: int,
        aggregated_model_hash: bytes | str,
        performance: int,
        scores: Sequence[int],
        dropped: Sequence[bool] | None = None,
        participants: Sequence[str] | None = None,
    ) -> Receipt:
        """Finalize a round in one transaction (evaluator).

        Parameters
        ----------
        aggregated_model_hash : bytes | str
            keccak256 of the aggregated model.
        performance : int
            The aggregated model's performance, fixed point (1e6).
        scores : Sequence[int]
            One fixed-point score per participant, in commit order.
        dropped : Sequence[bool] | None (default: nobody dropped)
            Per participant: its blob was missing; recorded as a dropout with no reward.
        participants : Sequence[str] | None (default: read from the ledger)
            The participants the scores belong to, in order; the contract rejects any other order.
        """
        if self.merkle_scores:
            participants = []  # the commit order names them; the contract takes no list
        elif participants is None:
            participants = self.participant_addresses(round_id)
        scores = [int(s) for s in scores]
        flags = list(dropped) if dropped is not None else [False] * len(scores)
        words = dropped_bitmap(flags)
        args = [
            round_id,
            to_bytes32(aggregated_model_hash),
            int(performance),
            [Web3.to_checksum_address(a) for a in participants],
            scores,
            words,
        ]
        gas = FINALIZE_GAS_BASE + FINALIZE_GAS_PER_PARTICIPANT * max(len(scores), len(participants))
        return self._send(evaluator, "finalizeRound", args, gas=gas)

    def exclude(self, evaluator: LocalAccount, round_id: int, account: str, reason: ExclusionReason) -> Receipt:
        """Leave ``account`` out of the open round's aggregate for ``reason`` (evaluator).

        The receipt carries :class:`ParticipantExcluded`; :meth:`finalize` must then mark it
        dropped (the contract rejects it otherwise with ``ExcludedNotDropped``): it is recorded
        with its reason and not rewarded.
        """
        reason = ExclusionReason(reason)
        return self._send(evaluator, "excludeParticipant", [round_id, Web3.to_checksum_address(account), int(reason)])

    def cancel_round(self, manager: LocalAccount, round_id: int, reason: str = "cancelled by its manager") -> Receipt:
        """Cancel an open round (aggregator or admin), recording ``reason`` (1 to 256 bytes).

        Its commitments stay on record and stop locking stakes.
        """
        count = len(self.participant_addresses(round_id))
        gas = CANCEL_GAS_BASE + CANCEL_GAS_PER_PARTICIPANT * count
        return self._send(manager, "cancelRound", [round_id, reason], gas=gas)

    def record_decryptions(
        self, evaluator: LocalAccount, round_id: int, sum_hashes: Sequence[bytes | str], coalitions: Sequence[int]
    ) -> Receipt:
        """Record encrypted sums of an open round that may be decrypted (evaluator), before asking the custodians.

        ``sum_hashes[i]`` is the keccak256 of the sum's bytes; ``coalitions[i]`` its bitmap of
        commit positions (bit i: the participant at position i). At most 256 per call.
        """
        gas = RECORD_DECRYPTIONS_GAS_BASE + RECORD_DECRYPTIONS_GAS_PER_SUM * len(sum_hashes)
        args = [round_id, [to_bytes32(h) for h in sum_hashes], [int(c) for c in coalitions]]
        return self._send(evaluator, "recordDecryptions", args, gas=gas)

    def claim(self, member: LocalAccount) -> Receipt:
        """Claim every pending reward, minted to the member as RewardToken."""
        return self._send(member, "claim", [])

    def settle(self, sender: LocalAccount, round_id: int, account: str) -> Receipt:
        """Merkle scores: credit ``account``'s score and reward of a finalized round, with its proof.

        The proof is built from the round's ``ScoreCommitted`` events; anyone may send it.
        """
        account = Web3.to_checksum_address(account)
        index = self.participant_addresses(round_id).index(account)
        return self._settle(sender, round_id, account, index, self.score_tree(round_id))

    def settle_round(self, sender: LocalAccount, round_id: int) -> list[Receipt]:
        """Merkle scores: settle every participant of a finalized round not settled yet."""
        records = [self._participant(round_id, p) for p in self._call("getParticipants", round_id)]
        pending = [r for r in records if not r.settled]
        if not pending:
            return []
        tree = self.score_tree(round_id)
        return [self._settle(sender, round_id, r.account, r.index, tree) for r in pending]

    def _settle(self, sender: LocalAccount, round_id: int, account: str, index: int, tree: ScoreTree) -> Receipt:
        args = [round_id, account, tree.scores[index], tree.dropped[index], tree.proof(index)]
        return self._send(sender, "settle", args)

    def release_model(self, evaluator: LocalAccount, task_id: int, round_id: int) -> Receipt:
        """Mark a finalized round's aggregated model as the task's released model (evaluator, once per task)."""
        model_hash = self.round(round_id).aggregated_model_hash
        return self._send(evaluator, "releaseModel", [task_id, round_id, to_bytes32(model_hash)])

    # -------------------------------------------------------------- views

    @cached_property
    def token(self) -> str:
        """Address of the reward token."""
        return self._call("rewardToken")

    @cached_property
    def reward_policy(self) -> RewardPolicy:
        """The Python mirror of the reward policy the ledger is composed with (by its ``rewardPolicy()`` name).

        Raises
        ------
        LedgerNotFound
            The ledger names a policy that has no mirror here.
        """
        name = self._call("rewardPolicy")
        try:
            return policy_named(name)
        except KeyError:
            raise LedgerNotFound(f"the ledger at {self.address} pays by {name!r}, a policy with no mirror here") from None

    @cached_property
    def deployment_block(self) -> int:
        """Block in which the ledger was deployed."""
        return self._call("deploymentBlock")

    def token_balance(self, account: str) -> int:
        """Reward-token balance of ``account``."""
        try:
            return self.token_contract.functions.balanceOf(Web3.to_checksum_address(account)).call()
        except Exception as exc:
            error = ledger_error(self._errors, exc, "balanceOf")
            if error is None:
                raise
            raise error from None

    def unbonding_period(self) -> int:
        """Seconds between a request to leave and the earliest return of the stake."""
        return self._call("unbondingPeriod")

    def min_stake(self) -> int:
        """Least stake (wei) with which an account joins without approval."""
        return self._call("minStake")

    def has_role(self, role: bytes, account: str) -> bool:
        """Whether ``account`` holds ``role``."""
        return self._call("hasRole", role, Web3.to_checksum_address(account))

    def member(self, account: str) -> Member:
        """A member's record (status ``NONE`` for an unknown account)."""
        address = Web3.to_checksum_address(account)
        info = self._call("getMember", address)
        return Member(
            address=address,
            status=MemberStatus(info[0]),
            stake=info[1],
            joined_at=info[2],
            name=info[3],
            node_key_hash=to_hex(info[4]),
            cumulative_score=info[5],
            pending_reward=info[6],
            claimed_reward=info[7],
            open_commitments=info[8],
            unlock_at=info[9],
            stake_exempt=info[10],
        )

    def member_addresses(self) -> list[str]:
        """Every account that ever joined or asked to, in order of first appearance."""
        return list(self._call("members"))

    def members(self) -> list[Member]:
        """Every member record, in order of first appearance."""
        return [self.member(a) for a in self.member_addresses()]

    def task_count(self) -> int:
        """Number of tasks (ids 1..task_count)."""
        return self._call("taskCount")

    def task(self, task_id: int) -> Task:
        """A task's record."""
        t = self._call("getTask", task_id)
        return Task(
            task_id=task_id,
            model_spec_hash=to_hex(t[0]),
            validation_spec_hash=to_hex(t[1]),
            reward_per_round=t[2],
            required_participants=t[3],
            created_at=t[4],
            party_task=t[5],
        )

    def tasks(self) -> list[Task]:
        """Every task."""
        return [self.task(i) for i in range(1, self.task_count() + 1)]

    def round_count(self) -> int:
        """Number of rounds (ids 1..round_count)."""
        return self._call("roundCount")

    def round(self, round_id: int) -> Round:
        """A round's record with its participants."""
        r = self._call("getRound", round_id)
        return Round(
            round_id=round_id,
            task_id=r[0],
            status=RoundStatus(r[1]),
            opened_at=r[2],
            deadline=r[3],
            global_model_hash=to_hex(r[4]),
            aggregated_model_hash=to_hex(r[5]),
            performance=r[6],
            budget=r[7],
            rewarded=r[8],
            dust=r[9],
            positive_score_sum=r[10],
            participant_count=r[11],
            dropped_count=r[12],
            participants=tuple(self.participants(round_id)),
        )

    def rounds(self) -> list[Round]:
        """Every round."""
        return [self.round(i) for i in range(1, self.round_count() + 1)]

    def participants(self, round_id: int) -> list[ParticipantRecord]:
        """Every participant of a round, in commit order.

        With Merkle scores, a finalized participant not settled yet carries the score and
        dropout flag its ``ScoreCommitted`` event emitted, and the reward the policy gives it.
        """
        records = [self._participant(round_id, p) for p in self._call("getParticipants", round_id)]
        if not self.merkle_scores or all(r.settled for r in records):
            return records
        if self.round_status(round_id) != RoundStatus.FINALIZED:
            return records
        tree = self.score_tree(round_id)
        budget = self._call("getRound", round_id)[7]
        split = self.reward_policy.split(budget, tree.scores, tree.dropped)
        return [
            r if r.settled else replace(r, score=tree.scores[i], dropped=tree.dropped[i], reward=split.rewards[i])
            for i, r in enumerate(records)
        ]

    def participant_addresses(self, round_id: int) -> list[str]:
        """The committed participants of a round, in commit order (the order ``finalize`` wants)."""
        return list(self._call("participantsOf", round_id))

    def score_of(self, round_id: int, account: str) -> ParticipantRecord:
        """One member's commitment, score and reward in one round."""
        return self._participant(round_id, self._call("scoreOf", round_id, Web3.to_checksum_address(account)))

    def expected_split(self, round_id: int, policy: RewardPolicy | None = None) -> RewardSplit:
        """The reward split ``policy`` (default: the ledger's own) computes from the round's recorded scores."""
        r = self.round(round_id)
        policy = policy or self.reward_policy
        return policy.split(r.budget, [p.score for p in r.participants], [p.dropped for p in r.participants])

    def stake_totals(self) -> StakeTotals:
        """Stake accounting totals."""
        staked, returned, slashed, held = self._call("stakeTotals")
        return StakeTotals(staked=staked, returned=returned, slashed=slashed, slashed_held=held)

    def released_model(self, task_id: int) -> tuple[int, str] | None:
        """``(round_id, model_hash)`` of the task's released model, None while none is released."""
        round_id, model_hash = self._call("releasedModelOf", task_id)
        return (round_id, to_hex(model_hash)) if round_id else None

    @cached_property
    def merkle_scores(self) -> bool:
        """Whether this ledger settles scores lazily against a per-round Merkle root."""
        return self._call("merkleScores")

    def scores_root(self, round_id: int) -> str:
        """Merkle scores: the root the ledger stored at the round's finalize (zeros otherwise)."""
        return to_hex(self._call("scoresRootOf", round_id))

    def score_tree(self, round_id: int) -> ScoreTree:
        """Merkle scores: the round's score tree rebuilt from its emitted scores and dropout bitmap.

        Raises
        ------
        IncentiveError
            The round emitted no score root (not finalized, or not on a ledger with Merkle scores).
        """
        events = self.events()
        roots = [ev for ev in events if isinstance(ev, ScoresCommitted) and ev.round_id == round_id]
        if not roots:
            raise IncentiveError(f"round {round_id} emitted no score root")
        scores = sorted((ev for ev in events if isinstance(ev, ScoreCommitted) and ev.round_id == round_id),
                        key=lambda ev: ev.index)
        return score_tree_of(round_id, scores, roots[0])

    def round_status(self, round_id: int) -> RoundStatus:
        """A round's status alone (one call; :meth:`round` also reads its participants)."""
        return RoundStatus(self._call("getRound", round_id)[1])

    def decryption_of(self, round_id: int, sum_hash: bytes | str) -> int:
        """The coalition bitmap recorded for a round's encrypted sum, 0 when it is not on the record."""
        return self._call("decryptionOf", round_id, to_bytes32(sum_hash))

    def decryption_count(self, round_id: int) -> int:
        """Number of sums recorded for decryption in a round."""
        return self._call("decryptionCount", round_id)

    # -------------------------------------------------------------- events

    def decryptions(self) -> list[DecryptionRecorded]:
        """Every recorded decryption of the ledger, in chain order."""
        return [ev for ev in self.events() if isinstance(ev, DecryptionRecorded)]

    def events(self, from_block: int | None = None, to_block: int | None = None) -> list[LedgerEvent]:
        """The ledger's event history, decoded, in chain order.

        Parameters
        ----------
        from_block : int | None (default: the deployment block)
        to_block : int | None (default: the latest block)
        """
        start = self.deployment_block if from_block is None else from_block
        end = self.w3.eth.block_number if to_block is None else to_block
        logs = self.chain.get_logs(self.address, start, end, chunk_blocks=LOG_CHUNK_BLOCKS)
        return [ev for ev in map(self.event_decoder.decode_log, logs) if ev is not None]

    def decode_receipt(self, receipt: TxReceipt) -> Receipt:
        """A web3 receipt as a :class:`Receipt` with this ledger's decoded events."""
        return self.event_decoder.decode_receipt(receipt)

    # -------------------------------------------------------------- internals

    def _call(self, fn_name: str, *args: Any) -> Any:
        try:
            return self.contract.get_function_by_name(fn_name)(*args).call()
        except Exception as exc:
            error = ledger_error(self._errors, exc, fn_name)
            if error is None:
                raise
            raise error from None

    def _participant(self, round_id: int, p: Sequence[Any]) -> ParticipantRecord:
        return ParticipantRecord(
            round_id=round_id,
            account=p[0],
            index=p[1],
            commitment=to_hex(p[2]),
            score=p[3],
            reward=p[4],
            dropped=p[5],
            exclusion=ExclusionReason(p[6]),
            settled=p[7],
        )

    def transact(
        self,
        sender: LocalAccount,
        contract: Any,
        fn_name: str,
        args: Sequence[Any],
        *,
        value: int = 0,
        gas: int | None = None,
    ) -> Receipt:
        """Call ``fn_name`` of any web3 ``contract`` as ``sender``, decoding this ledger's errors.

        For contracts that call the ledger (a member contract, the reward token): a revert that
        bubbles up from the ledger raises :class:`~incentive.errors.LedgerRevert` as usual.
        """
        data = contract.encode_abi(fn_name, args=list(args))
        tx = {"to": contract.address, "data": data, "value": value}
        receipt = send_checked(self.chain, sender, tx, gas or GAS.get(fn_name), self._errors, fn_name)
        return self.decode_receipt(receipt)

    def _send(self, sender: LocalAccount, fn_name: str, args: list[Any], *, value: int = 0, gas: int | None = None) -> Receipt:
        return self.transact(sender, self.contract, fn_name, args, value=value, gas=gas)

    @property
    def token_contract(self) -> Any:
        """The reward token as a web3 contract."""
        return self.w3.eth.contract(address=self.token, abi=self.artifacts["RewardToken"].abi)
