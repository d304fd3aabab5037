"""A multi-party run (vertical FL, transfer learning) recorded on the ledger as one task with one round."""

import pytest
from eth_hash.auto import keccak

from fl_node.errors import FlNodeError
from fl_node.twoparty.ledger import PartyRun, canonical_hash, record_party_run
from incentive.chain import embedded_chain
from incentive.fixedpoint import to_fixed
from incentive.ledger import LedgerClient, RoundStatus, to_bytes32

RUN = PartyRun(
    spec={"protocol": "vfl-hetero-lr", "seed": 3},
    validation={"test_ids": ["u1", "u7"]},
    performance=0.9912,
    contributions={"guest": 0.47, "host": 0.0212},
    model_hashes={"guest": keccak(b"guest weights"), "host": keccak(b"host weights")},
)


def test_run_is_one_finalized_round_with_commitments_scores_and_claimed_rewards():
    chain = embedded_chain()

    recorded = record_party_run(RUN, chain, reward_per_round=1000)

    ledger = LedgerClient.at(chain, recorded.address)
    task = ledger.task(recorded.task_id)
    assert to_bytes32(task.model_spec_hash) == canonical_hash(RUN.spec)
    assert to_bytes32(task.validation_spec_hash) == canonical_hash(RUN.validation)
    record = ledger.round(recorded.round_id)
    assert record.status == RoundStatus.FINALIZED
    assert record.performance == to_fixed(0.9912)
    by_account = {p.account: p for p in record.participants}
    for name in ("guest", "host"):
        p = by_account[recorded.accounts[name]]
        assert to_bytes32(p.commitment) == RUN.model_hashes[name]
        assert p.score == to_fixed(RUN.contributions[name])
        assert ledger.token_balance(p.account) == p.reward
    assert sum(p.reward for p in record.participants) + record.dust == 1000
    assert by_account[recorded.accounts["guest"]].reward > by_account[recorded.accounts["host"]].reward


def test_contributions_and_commitments_must_name_the_same_parties():
    bad = PartyRun(RUN.spec, RUN.validation, 0.9, {"guest": 0.5}, RUN.model_hashes)

    with pytest.raises(FlNodeError, match="contributions name"):
        record_party_run(bad, embedded_chain())
