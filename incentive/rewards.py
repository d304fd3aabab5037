"""The ledger's reward policies in pure Python, rounding exactly as their contracts do.

The ledger is composed with one reward-policy module (``contracts/rewards/``), which it asks for
each round's normalizer and each participant's reward, and which it names in ``rewardPolicy()``.
Each policy here is the same object off chain under that name, so the audit and the gas bench
take a policy as a parameter and an off-chain simulation and the chain agree to the unit.

:data:`PROPORTIONAL` (``ProportionalRewardPolicy``) splits a round's budget among its participants
in proportion to their positive scores; participants with a zero or negative score, and dropouts,
earn nothing. Each share is rounded down (Solidity's integer division of non-negative values), and
what the rounding leaves over is the round's *dust*: recorded on chain, never minted::

    share_i = budget * score_i // positive_sum     (score_i > 0, not dropped)
    dust    = budget - sum(share_i)

All values are integers: scores in the ledger's fixed point (1e6), the budget in the reward
token's smallest unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

#: Largest absolute score the contract accepts for one participant in one round (int64 storage).
MAX_ABS_SCORE = 2**63 - 1
#: Largest round budget (uint128 storage).
MAX_BUDGET = 2**128 - 1


@dataclass(frozen=True)
class RewardSplit:
    """How one round's budget was split.

    Attributes
    ----------
    budget : int
        The round's budget.
    rewards : tuple[int, ...]
        One reward per participant, in commit order.
    positive_sum : int
        The policy's normalizer, which the ledger stores per round (for the proportional policy:
        the sum of the positive scores of participants that did not drop out).
    dust : int
        ``budget - sum(rewards)``: left over by rounding (the whole budget when nobody scored > 0).
    """

    budget: int
    rewards: tuple[int, ...]
    positive_sum: int
    dust: int

    @property
    def paid(self) -> int:
        """Total credited to participants (``budget - dust``)."""
        return self.budget - self.dust


class RewardPolicy(Protocol):
    """A reward policy as the ledger calls it (the ``RewardPolicy`` module), named by its contract."""

    contract_name: str

    def split(self, budget: int, scores: Sequence[int], dropped: Sequence[bool] | None = None) -> RewardSplit:
        """Split ``budget`` by the scores, as the ledger's finalize does with this policy."""
        ...

    def reward_of(self, budget: int, score: int, dropped: bool, normalizer: int) -> int:
        """One participant's reward from the round's budget and normalizer (the module's ``_rewardOf``)."""
        ...


@dataclass(frozen=True)
class ProportionalPolicy:
    """``ProportionalRewardPolicy``: shares proportional to positive scores, rounded down."""

    contract_name: str = "ProportionalRewardPolicy"

    def split(self, budget: int, scores: Sequence[int], dropped: Sequence[bool] | None = None) -> RewardSplit:
        """Split ``budget`` in proportion to the positive scores, as ``finalizeRound`` does.

        Parameters
        ----------
        budget : int
            The round's budget (0 to 2**128 - 1).
        scores : Sequence[int]
            Fixed-point scores, one per participant in commit order (each within +-(2**63 - 1)).
        dropped : Sequence[bool] | None (default: nobody dropped)
            Dropout flag per participant; a dropout earns nothing and its score does not count.

        Returns
        -------
        RewardSplit
            The rewards, the positive-score sum and the dust.

        Raises
        ------
        ValueError
            A score or the budget out of the contract's range, or ``dropped`` of another length.
        """
        if not 0 <= budget <= MAX_BUDGET:
            raise ValueError(f"budget {budget} out of range 0..2**128-1")
        flags = [False] * len(scores) if dropped is None else [bool(d) for d in dropped]
        if len(flags) != len(scores):
            raise ValueError(f"{len(flags)} dropout flags for {len(scores)} scores")
        for index, score in enumerate(scores):
            if not isinstance(score, int) or isinstance(score, bool):
                raise ValueError(f"score {index} is {score!r}, not an integer (use fixed point, 1e6)")
            if abs(score) > MAX_ABS_SCORE:
                raise ValueError(f"score {index} = {score} out of range +-(2**63 - 1)")
        positive_sum = sum(s for s, d in zip(scores, flags) if s > 0 and not d)
        rewards = tuple(budget * s // positive_sum if s > 0 and not d else 0 for s, d in zip(scores, flags))
        return RewardSplit(budget=budget, rewards=rewards, positive_sum=positive_sum, dust=budget - sum(rewards))

    def reward_of(self, budget: int, score: int, dropped: bool, normalizer: int) -> int:
        """``budget * score // normalizer`` for a positive score of a participant that did not drop."""
        if dropped or score <= 0:
            return 0
        return budget * score // normalizer


#: The policy a ledger is deployed with unless another is named.
PROPORTIONAL = ProportionalPolicy()


#: Every policy with a mirror here, by the name its contract module reports.
POLICIES: dict[str, RewardPolicy] = {PROPORTIONAL.contract_name: PROPORTIONAL}


def policy_named(name: str) -> RewardPolicy:
    """The mirror of the policy a ledger names in ``rewardPolicy()`` (``KeyError`` if there is none)."""
    return POLICIES[name]


def split_rewards(budget: int, scores: Sequence[int], dropped: Sequence[bool] | None = None) -> RewardSplit:
    """The :data:`PROPORTIONAL` split (see :meth:`ProportionalPolicy.split`)."""
    return PROPORTIONAL.split(budget, scores, dropped)


def dropped_bitmap(dropped: Sequence[bool]) -> list[int]:
    """The contract's dropout bitmap: bit ``i % 256`` of word ``i // 256`` is participant ``i``.

    Trailing zero words are left out (the contract treats missing words as zero).
    """
    words = [0] * ((len(dropped) + 255) // 256)
    for index, flag in enumerate(dropped):
        if flag:
            words[index // 256] |= 1 << (index % 256)
    while words and words[-1] == 0:
        words.pop()
    return words
