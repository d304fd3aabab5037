"""The end-to-end demo: a hospital consortium on a ledger, with misbehaving members, scored, paid and audited.

:func:`setup_federation` deploys the ledger, lets every node join with its own key and stake,
publishes the spec and validation split (their hashes define the task) and builds the
coordinator and the nodes. :func:`run_demo` then runs the rounds, lets every node claim its
reward tokens, trains the centralized baseline with the same budget, and audits the ledger.
"""

from __future__ import annotations

import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from eth_account.signers.local import LocalAccount

from fl_node.artifacts import ArtifactStore
from fl_node.behaviours import behaviour_roster, make_behaviour
from fl_node.crypto.keys import load_private_key
from fl_node.data import FederatedData, federate, load_dataset
from fl_node.hfl.coordinator import Coordinator, RoundOutcome
from fl_node.hfl.node import LedgerNode
from fl_node.hfl.participant import Participant
from fl_node.hfl.runner import RunObserver, initial_params, run_federation
from fl_node.hfl.spec import validation_to_bytes
from fl_node.models import ModelConfig, unflatten
from fl_node.replay import audit_federation
from fl_node.seeds import CENTRALIZED, NODE_TRAINING, derive_seed
from fl_node.crypto.keys import public_key_to_bytes
from fl_node.hfl.keyholder import ThresholdCustody
from fl_node.task import SHARE_PASSPHRASE, KeyHolderKey, TaskConfig, bootstrap_ledger, build_task, new_key_holder_key, threshold_custody
from fl_node.training import Metrics, evaluate, train_centralized
from fl_node.transport.inprocess import InProcessTransport
from incentive.audit import AuditCheck, AuditReport
from incentive.chain import Chain
from incentive.ledger import LedgerClient, TaskCreated, node_key_hash


@dataclass(frozen=True)
class DemoConfig:
    """A demo federation: a task, some of whose nodes misbehave.

    Attributes
    ----------
    task : TaskConfig (default: TaskConfig())
    free_riders : int (default: 1)
        Nodes that send zero updates.
    label_flippers : int (default: 1)
        Nodes that train on flipped labels.
    """

    task: TaskConfig = field(default_factory=TaskConfig)
    free_riders: int = 1
    label_flippers: int = 1

    def behaviours(self) -> list[str]:
        """Each node's behaviour, in node order (:func:`fl_node.behaviours.behaviour_roster`)."""
        return behaviour_roster(self.task.data.nodes, self.free_riders, self.label_flippers)


def hospital_name(index: int) -> str:
    """"Hospital A", "Hospital B", …, "Hospital AA", …"""
    letters = string.ascii_uppercase
    label = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        label = letters[rest] + label
    return f"Hospital {label}"


@dataclass
class Federation:
    """Everything one set-up federation holds."""

    config: DemoConfig
    chain: Chain
    ledger: LedgerClient
    task_id: int
    data: FederatedData
    model: ModelConfig
    coordinator: Coordinator
    nodes: list[LedgerNode]
    store: ArtifactStore
    key_path: Path | None
    admin: LocalAccount
    custody: ThresholdCustody | None = None


def setup_federation(
    config: DemoConfig, chain: Chain, out_dir: Path, key_shares: Path | None = None, share_passphrase: str = SHARE_PASSPHRASE
) -> Federation:
    """Deploy the ledger, join the nodes, publish the spec and validation split, create the task.

    The key holder's private key is written to ``out_dir/keys/keyholder-<fingerprint>.key``
    (public key beside it); the artifact store is ``out_dir/artifacts`` (content-addressed, so
    several federations can share it). With threshold custody there is no private key: the
    custodians' shares come from ``key_shares`` or a trusted-dealer split sealed under
    ``out_dir/keys/shares`` (:func:`fl_node.task.threshold_custody`), sealed under
    ``share_passphrase``; custodian i is node i.
    """
    task = config.task
    behaviours = config.behaviours()
    data = federate(load_dataset(task.data.dataset), task.data.nodes, task.data.partition, seed=task.seed)
    store = ArtifactStore(out_dir / "artifacts")
    custody = None
    if task.custody.threshold_custody:
        names = {i: hospital_name(i - 1) for i in range(1, min(task.custody.custodians, task.data.nodes) + 1)}
        custody = threshold_custody(task.custody, out_dir / "keys", key_shares, share_passphrase, names=names)
        key = KeyHolderKey(None, public_key_to_bytes(custody.public_key), None)
    else:
        key = new_key_holder_key(task.custody, out_dir / "keys")
    roles = bootstrap_ledger(chain, task.rewards)
    ledger = roles.ledger
    stake = task.rewards.stake_wei
    accounts = [chain.new_account(stake + 10**19) for _ in range(task.data.nodes)]
    for k, account in enumerate(accounts):
        ledger.join(account, hospital_name(k), node_key_hash(account), stake_wei=stake)

    spec = build_task(
        task, data.n_features, data.n_classes, {a.address: len(part) for a, part in zip(accounts, data.nodes)}, key.public_key
    )
    model = spec.model
    spec_hash = store.put(spec.to_bytes())
    validation_hash = store.put(validation_to_bytes(data.validation))
    task_id = ledger.create_task(
        roles.admin, spec_hash, validation_hash, task.rewards.reward_per_round, task.min_participants
    ).event(TaskCreated).task_id

    scheme = spec.scheme()
    nodes = [
        LedgerNode(
            hospital_name(k),
            Participant(
                account.address,
                data.nodes[k],
                model.factory(),
                task.training,
                scheme,
                seed=derive_seed(task.seed, NODE_TRAINING, k),
                behaviour=make_behaviour(behaviour, data.n_classes),
                privacy=spec.client_dp(),
                private_training=spec.private_trainer(),
            ),
            account,
            ledger,
            behaviour_name=behaviour,
        )
        for k, (account, behaviour) in enumerate(zip(accounts, behaviours))
    ]
    coordinator = Coordinator(
        spec, ledger, task_id, roles.aggregator, roles.evaluator, custody or key.private_key, data.validation, store,
        slash_wei=task.rewards.slash_wei,
    )
    return Federation(config, chain, ledger, task_id, data, model, coordinator, nodes, store, key.path, roles.admin, custody)


@dataclass(frozen=True)
class DemoRound:
    """One round as the demo reports it: the global model on the test set, and the ledger's record."""

    outcome: RoundOutcome
    test_accuracy: float
    centralized_accuracy: float


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` produced."""

    federation: Federation
    rounds: list[DemoRound]
    centralized_accuracy: float
    audit: AuditReport
    elapsed_s: float
    best_round: int = 0
    stopped_early: bool = False

    @property
    def best(self) -> DemoRound:
        """The round with the best validation metric: its model is the one released."""
        return next(r for r in self.rounds if r.outcome.round_id == self.best_round)


@dataclass
class DemoRounds(RunObserver):
    """Evaluates each new global model on the test set, beside the centralized baseline at the same budget."""

    federation: Federation
    centralized: list[Metrics]
    on_round_done: Callable[[DemoRound], None] | None = None
    rounds: list[DemoRound] = field(default_factory=list)

    def on_round(self, outcome: RoundOutcome) -> None:
        test = evaluate(unflatten(self.federation.model.build(), outcome.global_params), self.federation.data.test)
        record = DemoRound(outcome, test.accuracy, self.centralized[len(self.rounds)].accuracy)
        self.rounds.append(record)
        if self.on_round_done is not None:
            self.on_round_done(record)


def run_demo(
    federation: Federation,
    on_round: Callable[[DemoRound], None] | None = None,
    on_check: Callable[[AuditCheck], None] | None = None,
) -> DemoResult:
    """Run the rounds, claim every reward, train the centralized baseline, audit; returns everything."""
    start = time.perf_counter()
    task = federation.config.task
    centralized = train_centralized(
        unflatten(federation.model.build(), initial_params(federation.coordinator.spec)),
        federation.data.pooled(),
        task.training,
        task.rounds,
        derive_seed(task.seed, CENTRALIZED),
        federation.data.test,
    )
    observer = DemoRounds(federation, centralized, on_round)
    run = run_federation(federation.coordinator, InProcessTransport(federation.nodes), task.rounds, observers=[observer], patience=task.patience)
    for node in federation.nodes:
        if federation.ledger.member(node.account.address).pending_reward > 0:
            federation.ledger.claim(node.account)
    private_key = load_private_key(federation.key_path) if federation.key_path is not None else None
    report = audit_federation(
        federation.ledger, federation.store, federation.task_id, federation.custody or private_key, on_check=on_check
    )
    return DemoResult(
        federation, observer.rounds, centralized[-1].accuracy, report, time.perf_counter() - start, run.best.round_id, run.stopped_early
    )
