"""Recording an FTL run on the incentive ledger: one task, one round, both parties scored by Shapley value.

The round is the one every multi-party run uses (:func:`fl_node.twoparty.ledger.record_party_run`):
both parties join, each commits keccak256 of its final model share
(:attr:`~fl_node.ftl.protocol.PartyOutcome.artifact`), the evaluator (holder of B's evaluation
labels) finalizes with performance = FTL AUC on B's held-out samples and one Shapley value per
party (ledger fixed point, 1e6); rewards follow on chain in proportion to the positive scores.

Utility of a coalition = the AUC it reaches on B's held-out samples:
``U(∅) = 0.5`` (no model: chance), ``U({A}) = 0.5`` (A's model reads A's features, which B's
held-out samples do not have, so A alone cannot score them), ``U({B}) = target_only_auc`` and
``U({A, B}) = FTL AUC``. Then ``φ_A = ½ (auc − target_only_auc)`` (half the transfer gain) and
``φ_B = ½ (target_only_auc − 0.5) + ½ (auc − 0.5)``.
"""

from __future__ import annotations

from typing import Any

from eth_hash.auto import keccak

from fl_node.ftl.protocol import SOURCE, TARGET, FTLRun
from fl_node.task import LedgerRoles
from fl_node.twoparty.ledger import PartyRun, RecordedRun, record_party_run, two_party_shapley
from incentive.chain import Chain

__all__ = ["ftl_shapley", "record_ftl_run", "CHANCE_AUC"]

CHANCE_AUC = 0.5


def ftl_shapley(auc: float, target_only_auc: float) -> dict[str, float]:
    """Exact Shapley values of source and target under the utility of the module docstring."""
    return two_party_shapley(
        SOURCE, TARGET, first_alone=CHANCE_AUC, second_alone=target_only_auc, joint=auc, empty=CHANCE_AUC
    )


def record_ftl_run(
    chain: Chain,
    run: FTLRun,
    *,
    spec: dict[str, Any],
    held_out_ids: tuple[str, ...],
    auc: float,
    target_only_auc: float,
    roles: LedgerRoles | None = None,
) -> tuple[RecordedRun, dict[str, float]]:
    """Record ``run`` as one finalized round on a fresh ledger; returns the record and the Shapley values.

    Parameters
    ----------
    chain : Chain
        A development chain (embedded or anvil) that funds fresh keys.
    run : FTLRun
        The finished run (its parties' artifacts and public keys).
    spec : dict
        JSON-able description of the run (settings, split), hashed into the task's model spec.
    held_out_ids : tuple[str, ...]
        B's evaluation samples, hashed into the validation spec.
    auc, target_only_auc : float
        FTL and target-only AUC on the held-out samples.
    roles : LedgerRoles | None (default: deploy a fresh ledger)
        An existing ledger and its role accounts: the run becomes one more task on it.
    """
    contributions = ftl_shapley(auc, target_only_auc)
    outcomes = {SOURCE: run.source, TARGET: run.target}
    party_run = PartyRun(
        spec=spec | {"protocol": "fedledger/ftl/v1", "public_keys": {name: "0x" + keccak(o.public_key).hex() for name, o in outcomes.items()}},
        validation={"held_out_ids": list(held_out_ids)},
        performance=auc,
        contributions=contributions,
        model_hashes={name: keccak(outcome.artifact) for name, outcome in outcomes.items()},
    )
    return record_party_run(party_run, chain, roles=roles), contributions

