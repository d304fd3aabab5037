"""The best-validation round and early stopping: the run releases the round with the best validation
metric and stops after ``patience`` rounds without a better one."""

from __future__ import annotations

from pathlib import Path

from fl_node.demo import DemoConfig, setup_federation
from fl_node.hfl.coordinator import RoundOutcome
from fl_node.hfl.runner import RunObserver, run_federation, validation_metric
from fl_node.task import CustodyConfig, DataConfig, ScoringConfig, TaskConfig
from fl_node.training import TrainConfig
from fl_node.transport.inprocess import InProcessTransport
from incentive.chain import embedded_chain

ROUNDS, PATIENCE = 10, 2


class Outcomes(RunObserver):
    def __init__(self) -> None:
        self.outcomes: list[RoundOutcome] = []

    def on_round(self, outcome: RoundOutcome) -> None:
        self.outcomes.append(outcome)


def test_the_run_stops_after_patience_rounds_without_a_better_validation_loss_and_releases_the_best(tmp_path: Path) -> None:
    # a learning rate far too high for the data: the validation loss stops improving within a few rounds
    task = TaskConfig(
        data=DataConfig(nodes=3), training=TrainConfig(epochs=4, lr=2.0, batch_size=8), custody=CustodyConfig(encrypt=False),
        scoring=ScoringConfig(scorer="loo"), rounds=ROUNDS, patience=PATIENCE,
    )
    federation = setup_federation(DemoConfig(task, 0, 0), embedded_chain(), tmp_path)
    seen = Outcomes()

    run = run_federation(federation.coordinator, InProcessTransport(federation.nodes), ROUNDS, observers=[seen], patience=PATIENCE)

    metrics = [validation_metric(federation.coordinator.spec, o) for o in seen.outcomes]
    best_at = metrics.index(max(metrics))
    assert run.best is seen.outcomes[best_at]
    assert run.stopped_early and len(seen.outcomes) == best_at + 1 + PATIENCE < ROUNDS
    assert all(m <= metrics[best_at] for m in metrics[best_at + 1:])
    assert [o.round_id for o in run.outcomes] == [o.round_id for o in seen.outcomes]
    ledger = federation.ledger
    best_hash = ledger.round(run.best.round_id).aggregated_model_hash
    assert ledger.released_model(federation.task_id) == (run.best.round_id, best_hash)
    assert not federation.coordinator.release_model(run.outcomes[-1].round_id)  # once per task
    assert ledger.released_model(federation.task_id) == (run.best.round_id, best_hash)
