"""Each task's released model on the ledger: a finalized round's model, marked once by the evaluator.

Runs on the embedded chain and on anvil (the ``chain`` fixture).
"""

from __future__ import annotations

import pytest
from ledger_helpers import REWARD
from ledger_helpers import revert_message as revert

from incentive.errors import LedgerRevert
from incentive.ledger import ModelReleased, TaskCreated, keccak, to_bytes32


def _finalized_round(env, aggregate: str = "aggregate") -> int:
    round_id = env.open_round()
    env.commit_all(round_id, env.members[:3])
    env.ledger.finalize(env.evaluator, round_id, keccak(text=aggregate), 900_000, [1, 2, 3])
    return round_id


def test_the_evaluator_releases_a_finalized_round_once(env) -> None:
    first = _finalized_round(env, "round 1")
    best = _finalized_round(env, "round 2")
    assert env.ledger.released_model(env.task_id) is None

    receipt = env.ledger.release_model(env.evaluator, env.task_id, best)

    event = receipt.event(ModelReleased)
    model_hash = "0x" + keccak(text="round 2").hex()
    assert (event.task_id, event.round_id, event.model_hash, event.by) == (
        env.task_id, best, model_hash, env.evaluator.address
    )
    assert env.ledger.released_model(env.task_id) == (best, model_hash)
    with pytest.raises(LedgerRevert) as excinfo:
        env.ledger.release_model(env.evaluator, env.task_id, first)
    assert revert(excinfo) == ("ModelAlreadyReleased", (env.task_id, best))
    assert env.ledger.released_model(env.task_id) == (best, model_hash)


def test_release_rejections_change_nothing(env) -> None:
    finalized = _finalized_round(env)
    open_round = env.open_round()
    other_task = env.ledger.create_task(env.admin, keccak(text="m2"), keccak(text="v2"), REWARD, 3).event(TaskCreated).task_id
    contract = env.ledger.contract
    recorded = to_bytes32(keccak(text="aggregate"))
    cases = [
        (env.aggregator, [env.task_id, finalized, recorded], "AccessControlUnauthorizedAccount"),
        (env.members[0], [env.task_id, finalized, recorded], "AccessControlUnauthorizedAccount"),
        (env.evaluator, [env.task_id, open_round, recorded], "RoundNotFinalized"),
        (env.evaluator, [env.task_id, 999, recorded], "UnknownRound"),
        (env.evaluator, [other_task, finalized, recorded], "RoundNotInTask"),
        (env.evaluator, [env.task_id, finalized, keccak(text="another model")], "ReleasedHashMismatch"),
    ]
    for sender, args, error in cases:
        with pytest.raises(LedgerRevert) as excinfo:
            env.ledger.transact(sender, contract, "releaseModel", args)
        assert excinfo.value.error_name == error, (args, excinfo.value)
    assert env.ledger.released_model(env.task_id) is None
    assert env.ledger.released_model(other_task) is None
    assert not [e for e in env.ledger.events() if isinstance(e, ModelReleased)]
