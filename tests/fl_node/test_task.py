"""The task configuration: flat run-config tables, the codec's headroom, the spec it builds, the ledger it deploys."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fl_node.crypto.codec import TASK_CODEC, CodecConfig
from fl_node.crypto.knowledge import update_bytes
from fl_node.errors import FlNodeError
from fl_node.seeds import NODE_TRAINING, derive_seed
from fl_node.task import (
    CustodyConfig,
    DataConfig,
    PrivacyConfig,
    RewardConfig,
    ScoringConfig,
    TaskConfig,
    bootstrap_ledger,
    build_task,
    from_flat,
    to_flat,
)
from fl_node.training import TrainConfig
from incentive.chain import embedded_chain

TASK = TaskConfig(
    data=DataConfig(dataset="wine", partition="dirichlet:0.3", nodes=7),
    training=TrainConfig(epochs=3, lr=0.02, optimizer="adam"),
    codec=CodecConfig(bits=12, clip=0.5),
    custody=CustodyConfig(encrypt=False, key_bits=1024),
    scoring=ScoringConfig(scorer="exact", utility="accuracy"),
    rewards=RewardConfig(reward_tokens=7, stake_wei=5 * 10**17),
    rounds=4,
    min_participants=3,
    seed=11,
)


def test_flat_table_round_trips_and_keeps_defaults_for_missing_keys():
    flat = to_flat(TASK)

    assert flat["data-nodes"] == 7 and flat["custody-encrypt"] is False and flat["training-lr"] == 0.02
    assert all(isinstance(v, (str, int, float, bool)) for v in flat.values())
    assert from_flat(TaskConfig, flat) == TASK
    assert from_flat(TaskConfig, {"rounds": "5", "unknown": 1}) == dataclasses.replace(TaskConfig(), rounds=5)


def test_codec_headroom_covers_every_member():
    assert TaskConfig().codec_for(5, 1000).max_participants == 16
    assert TaskConfig().codec_for(40, 1000).max_participants == 40
    assert TASK.codec_for(40, 1000) == CodecConfig(bits=12, clip=0.5, max_participants=40)


def test_a_task_defaults_to_eight_bits_and_a_clip_of_one_over_its_members():
    assert TaskConfig().codec == TASK_CODEC

    assert TaskConfig().codec_for(10, 100_000) == CodecConfig(bits=8, clip=0.1, max_participants=16, degree=4, randomness="short")
    assert TaskConfig().codec_for(3, 100_000).clip == pytest.approx(1 / 3)
    assert TaskConfig().codec_for(40, 100_000).clip == pytest.approx(1 / 40)
    assert TASK.codec_for(7, 100_000).clip == 0.5  # a clip the task sets is kept


@pytest.mark.parametrize("key_bits", [1024, 2048])
def test_the_automatic_degree_sends_the_fewest_bytes_of_degrees_one_and_four(key_bits):
    task = TaskConfig(custody=CustodyConfig(key_bits=key_bits))
    n = (1 << (key_bits - 1)) | 1

    for n_params in (10, 1_058, 2_410, 20_000, 1_000_000):
        codec = task.codec_for(10, n_params)
        sizes = {d: update_bytes(dataclasses.replace(codec, degree=d), n, n_params) for d in (1, 4)}
        assert sizes[codec.degree] == min(sizes.values())
    assert task.codec_for(10, 10).degree == 1  # one ciphertext either way: degree 4's longer proof loses
    assert task.codec_for(10, 1_000_000).degree == 4
    assert dataclasses.replace(task, codec=dataclasses.replace(TASK_CODEC, degree=4)).codec_for(10, 10).degree == 4  # a degree the task sets is kept


def test_a_threshold_task_encodes_at_degree_one_which_the_custodians_shares_decrypt():
    threshold = TaskConfig(custody=CustodyConfig(custodians=3, threshold=2))

    assert threshold.codec_for(5, 1_000_000).degree == 1
    assert TaskConfig().codec_for(5, 1_000_000).degree == 4


@pytest.mark.parametrize("epsilon", [1.0, 8.0])
def test_under_dp_the_automatic_clip_never_cuts_a_node_s_noise(epsilon):
    task = TaskConfig(custody=CustodyConfig(encrypt=False), privacy=PrivacyConfig(epsilon=epsilon, clip=1.0), rounds=20)
    spec = build_task(task, 13, 2, {f"n{k}": 10 for k in range(10)})
    dp = spec.client_dp()
    rng = np.random.default_rng(0)

    for cohort in (task.min_participants, 10):
        # the largest update a node can send: its whole DP clip on one coordinate, plus its noise share
        delta = np.zeros(20_000)
        delta[0] = 50.0
        sent = np.concatenate([dp.privatize(delta, cohort, rng), -dp.privatize(delta, cohort, rng)])
        assert np.max(np.abs(sent)) < spec.codec.clip


def test_build_task_carries_the_config_into_the_spec():
    spec = build_task(TASK, 13, 3, {"a": 10, "b": 20})

    assert (spec.model.name, spec.model.n_features, spec.model.n_classes) == ("mlp", 13, 3)
    assert spec.train == TASK.training and spec.encrypt is False
    assert (spec.scorer, spec.utility, spec.seed, spec.min_participants) == ("exact", "accuracy", 11, 3)
    assert spec.codec.max_participants == 16
    with pytest.raises(FlNodeError, match="public key"):
        build_task(TaskConfig(), 13, 3, {"a": 10})


def test_bootstrap_ledger_grants_the_three_roles():
    roles = bootstrap_ledger(embedded_chain(), TASK.rewards)

    assert roles.ledger.min_stake() == 5 * 10**17
    assert len({roles.admin.address, roles.aggregator.address, roles.evaluator.address}) == 3
    assert TASK.rewards.reward_per_round == 7 * 10**18


def test_seed_streams_are_distinct_per_node():
    assert derive_seed(0, NODE_TRAINING, 0) != derive_seed(0, NODE_TRAINING, 1)
    assert derive_seed(3, NODE_TRAINING, 2) == derive_seed(3, NODE_TRAINING, 2)
