"""The minimum cohort (a round of two would let each participant read the other's update from the published model)
and the spec's key size."""

from __future__ import annotations

import numpy as np
import pytest
from test_hfl import FixedUpdate, fed, model_config, null_federation, participants  # noqa: F401 (fixtures)

from fl_node.crypto.codec import CodecConfig
from fl_node.crypto.keys import generate_keypair, public_key_to_bytes
from fl_node.errors import FlNodeError, KeyFormatError, RoundAborted
from fl_node.hfl.schemes import PlainUpdates
from fl_node.hfl.spec import FederationSpec
from fl_node.models import flatten
from fl_node.task import TaskConfig
from fl_node.training import TrainConfig
from incentive.cohort import MIN_COHORT


def two_node_round(fed, model_config, tmp_path):
    """Two participants with known deltas on a null ledger (the spec's default minimum cohort)."""
    global_params = flatten(model_config.build(seed=0))
    deltas = np.random.default_rng(7).uniform(-0.5, 0.5, (2, len(global_params)))
    scheme = PlainUpdates(len(global_params))
    nodes = participants(fed, model_config, scheme, {k: FixedUpdate(d) for k, d in enumerate(deltas)})[:2]
    coordinator, transport = null_federation(tmp_path, fed, model_config, nodes)
    return coordinator, transport, global_params, deltas


def test_a_two_participant_round_is_cancelled_and_publishes_no_model(fed, model_config, tmp_path) -> None:
    coordinator, transport, global_params, deltas = two_node_round(fed, model_config, tmp_path)

    with pytest.raises(RoundAborted, match=f"2 usable submissions, fewer than min_participants={MIN_COHORT}"):
        coordinator.run_round(global_params, transport)

    # Had the round been finalized, p0 would read p1's delta as
    # (new - global) * (w0 + w1) / w1 - delta_0 * w0 / w1 (within the quantization step).
    assert coordinator.ledger.rounds() == []
    assert coordinator.ledger.cancellations == [(1, f"2 usable submissions, fewer than min_participants={MIN_COHORT}")]
    assert len(list(coordinator.store.root.glob("*.bin"))) == 1 + 2  # the starting model and the two blobs: no new model


def test_a_minimum_below_three_is_refused_everywhere(model_config) -> None:
    with pytest.raises(FlNodeError, match="at least the minimum cohort 3, got 2"):
        FederationSpec(model=model_config, train=TrainConfig(), encrypt=False, codec=None, public_key=b"", sample_counts={}, min_participants=2)
    with pytest.raises(FlNodeError, match="at least the minimum cohort 3, got 1"):
        TaskConfig(min_participants=1)



def test_a_spec_with_a_public_key_of_another_size_is_refused(model_config) -> None:
    small, _ = generate_keypair(256)
    spec = dict(model=model_config, train=TrainConfig(), encrypt=True, codec=CodecConfig(), public_key=public_key_to_bytes(small), sample_counts={})

    with pytest.raises(KeyFormatError, match=r"^the spec's public key has 256 bits, the task's key_bits is 2048$"):
        FederationSpec(**spec)
    with pytest.raises(FlNodeError, match=r"^key_bits must be at least 512, got 256$"):
        FederationSpec(**spec, key_bits=256)
