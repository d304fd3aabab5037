"""Task files: one federation task as TOML, read by ``serve --task`` and ``demo --task``.

The file's sections are :class:`~fl_node.task.TaskConfig`'s sections (``[data]``, ``[model]``,
``[training]``, ``[codec]``, ``[custody]``, ``[scoring]``, ``[rewards]``) with the dataclasses'
field names as keys; ``rounds``, ``min_participants`` and ``seed`` stand at the top. A key left
out keeps its default; an unknown key, a value of the wrong type or an invalid setting is a
:class:`~fl_node.errors.TaskFileError` naming the file and the key. :func:`task_template` writes
every option with its default and a comment (``fedledger task init``).
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fl_node.data import BUILTIN_DATASETS, parse_partition
from fl_node.errors import FlNodeError, TaskFileError
from fl_node.hfl.spec import UTILITIES
from fl_node.models import MODEL_NAMES
from fl_node.task import TaskConfig
from incentive.contribution import SCORERS

HEADER = """\
# fedledger task file: everything that defines a federation task.
# `fedledger serve --task FILE` creates the task on the consortium's ledger from it;
# `fedledger demo --task FILE` rehearses the same task on simulated hospitals.
# The model, training, codec, scoring and seed settings go into the task's spec, whose hash is on chain.
# A key left out keeps the default shown here.
"""

COMMENTS: dict[str, str] = {
    "rounds": "Rounds the task runs (serve: rounds finalized on chain when the run ends).",
    "patience": "Stop after this many rounds without a better validation metric; the best round's model is released. 0: run every round.",
    "min_participants": "Usable submissions a round needs (at least 3); with fewer the round is cancelled on chain.",
    "seed": "Seeds the initial model, local training, rounding and the scorer (demo: the data split too).",
    "data": "The data: CSV columns of a consortium, bundled data set and split of a rehearsal.",
    "data.dataset": f"Bundled data set of `demo`: {', '.join(BUILTIN_DATASETS)}.",
    "data.partition": "How `demo` splits it among the nodes: iid, dirichlet:ALPHA or quantity:ALPHA.",
    "data.nodes": "Nodes: simulated hospitals of `demo`; SuperNodes `serve` waits for before the first round.",
    "data.label": "Label column of the CSV files (the evaluator's validation file and each node's data).",
    "data.id_columns": "Record-identifier columns, never features, e.g. [\"patient_id\"].",
    "data.drop": "Other columns left out of the features.",
    "data.labels": "Label list: class k is labels[k] at every node, e.g. [\"negative\", \"positive\"]; [] = the sorted distinct labels.",
    "data.standardize": "Standardize every node's raw features with the federated mean and deviation published in the spec.",
    "model": "The model; its input and output sizes come from the data.",
    "model.name": f"Architecture: {', '.join(MODEL_NAMES)}.",
    "model.hidden": "Hidden units of the mlp (logreg and cnn have none).",
    "training": "Local training at each node, every round.",
    "training.epochs": "Local epochs per round.",
    "training.batch_size": "Mini-batch size.",
    "training.lr": "Learning rate.",
    "training.optimizer": "sgd or adam (a fresh optimizer every round).",
    "training.momentum": "SGD momentum.",
    "training.weight_decay": "L2 weight decay.",
    "training.prox_mu": "FedProx proximal weight mu; 0 is FedAvg.",
    "codec": "How updates are quantized and packed before encryption.",
    "codec.bits": "Quantization bits per value (2..32).",
    "codec.clip": "Weighted update values are clipped to [-clip, clip]; 0: automatic, 1/members (under DP, wide enough for the noise).",
    "codec.max_participants": "Headroom: a sum of this many updates never overflows (raised to the member count).",
    "codec.degree": "Damgard-Jurik degree s; 1 is Paillier; 0: automatic, 4 or 1, whichever sends fewer bytes for the model.",
    "codec.randomness": "Encryption randomness: full (standard r^n) or short (DJN, an extra assumption).",
    "custody": "Who can read updates.",
    "custody.encrypt": "Paillier-encrypt the updates; the aggregator never decrypts them.",
    "custody.key_bits": "Paillier modulus size of the key holder's key.",
    "custody.custodians": "N key custodians for threshold custody (the member nodes given --key-share under serve); 0: one key holder.",
    "custody.threshold": "t custodians needed to decrypt (threshold custody only).",
    "scoring": "How contributions are valued each round.",
    "scoring.scorer": f"Contribution scorer: {', '.join(SCORERS)}.",
    "scoring.utility": "loss (negative validation loss) or accuracy of a coalition's model.",
    "scoring.aggregation": "fedavg, or gated: each round leaves out participants whose reputation is at or below gate_threshold.",
    "scoring.gate_threshold": "Reputation at or below which gated aggregation leaves a participant out.",
    "scoring.gate_memory": "Reputation = gate_memory * previous reputation + this round's score (1: cumulative score, 0: this round only).",
    "scoring.gate_norm_factor": "Gated: leave out, before scoring, each update whose L2 norm exceeds this times the round's median norm (0: off).",
    "privacy": "Differential privacy: client-level (each node's update) and record-level (DP-SGD in each node's training).",
    "privacy.epsilon": "Client-level privacy budget over all the task's rounds; 0: no client-level DP.",
    "privacy.delta": "DP delta (of both budgets).",
    "privacy.clip": "L2 bound of each node's unweighted update.",
    "privacy.sgd_epsilon": "Record-level budget of each node over all the task's rounds (DP-SGD through Opacus); 0: no DP-SGD.",
    "privacy.sgd_clip": "L2 bound of each record's gradient under DP-SGD.",
    "rewards": "What a round pays and what membership costs.",
    "rewards.reward_tokens": "Reward per round, whole tokens (18 decimals).",
    "rewards.stake_wei": "Minimum stake of a ledger the command deploys (demo), wei.",
    "rewards.slash_wei": "Slashed from a member whose blob differs from its commitment, wei.",
}


def _sections() -> tuple[list[dataclasses.Field], list[dataclasses.Field]]:
    """TaskConfig's top-level scalar fields and its section fields."""
    fields = dataclasses.fields(TaskConfig)
    hints = typing.get_type_hints(TaskConfig)
    sections = [f for f in fields if dataclasses.is_dataclass(hints[f.name])]
    return [f for f in fields if f not in sections], sections


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, tuple):
        return json.dumps([str(v) for v in value])
    return json.dumps(str(value))


def _comment(key: str) -> list[str]:
    return [f"# {COMMENTS[key]}"] if key in COMMENTS else []


def task_template(config: TaskConfig | None = None) -> str:
    """``config`` (default: the defaults) as a commented task file; :func:`parse_task` reads it back."""
    config = config or TaskConfig()
    scalars, sections = _sections()
    lines = [HEADER]
    for f in scalars:
        lines += _comment(f.name) + [f"{f.name} = {_toml(getattr(config, f.name))}", ""]
    for section in sections:
        lines += _comment(section.name) + [f"[{section.name}]"]
        value = getattr(config, section.name)
        for f in dataclasses.fields(value):
            lines += _comment(f"{section.name}.{f.name}") + [f"{f.name} = {_toml(getattr(value, f.name))}"]
        lines.append("")
    return "\n".join(lines)


def _typed(kind: Any, value: Any, where: str) -> Any:
    """``value`` checked against the field type ``kind`` (an int is a valid float)."""
    if typing.get_origin(kind) is tuple:
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
            raise TaskFileError(f"{where} must be a list of names, got {value!r}")
        return tuple(str(v) for v in value)
    ok = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        str: lambda v: isinstance(v, str),
    }[kind](value)
    if not ok:
        raise TaskFileError(f"{where} must be {kind.__name__ if kind is not str else 'a string'}, got {value!r}")
    return kind(value)


def _unknown(table: Mapping[str, Any], known: list[str], where: str) -> None:
    extra = sorted(set(table) - set(known))
    if extra:
        raise TaskFileError(f"unknown key {extra[0]!r} {where} (known: {', '.join(known)})")


def parse_task(table: Mapping[str, Any]) -> TaskConfig:
    """The task of a parsed task file; TaskFileError naming the key for anything invalid."""
    scalars, sections = _sections()
    hints = typing.get_type_hints(TaskConfig)
    _unknown(table, [f.name for f in scalars + sections], "at the top")
    base = TaskConfig()
    values: dict[str, Any] = {}
    for f in scalars:
        if f.name in table:
            values[f.name] = _typed(hints[f.name], table[f.name], f.name)
    for section in sections:
        raw = table.get(section.name, {})
        if not isinstance(raw, dict):
            raise TaskFileError(f"{section.name} must be a table [{section.name}], got {raw!r}")
        cls = hints[section.name]
        inner = typing.get_type_hints(cls)
        _unknown(raw, [f.name for f in dataclasses.fields(cls)], f"in [{section.name}]")
        changes = {k: _typed(inner[k], v, f"{section.name}.{k}") for k, v in raw.items()}
        try:
            values[section.name] = dataclasses.replace(getattr(base, section.name), **changes)
        except FlNodeError as exc:
            raise TaskFileError(f"[{section.name}]: {exc}") from exc
    try:
        config = dataclasses.replace(base, **values)
    except FlNodeError as exc:
        raise TaskFileError(str(exc)) from exc
    check_task(config)
    return config


def check_task(config: TaskConfig) -> None:
    """TaskFileError naming the key of a setting no command could run."""
    if config.patience < 0:
        raise TaskFileError(f"patience must be 0 (off) or positive, got {config.patience}")
    if config.rounds < 1 or config.min_participants < 1 or config.data.nodes < 1:
        raise TaskFileError(f"rounds, min_participants and data.nodes must be at least 1, got {config.rounds}, {config.min_participants}, {config.data.nodes}")
    choices = (
        ("data.dataset", config.data.dataset, BUILTIN_DATASETS),
        ("model.name", config.model.name, MODEL_NAMES),
        ("scoring.scorer", config.scoring.scorer, tuple(SCORERS)),
        ("scoring.utility", config.scoring.utility, UTILITIES),
    )
    for key, value, allowed in choices:
        if value not in allowed:
            raise TaskFileError(f"{key} = {value!r} is not one of {', '.join(allowed)}")
    if config.model.hidden < 1:
        raise TaskFileError(f"model.hidden must be at least 1, got {config.model.hidden}")
    try:
        parse_partition(config.data.partition)
    except FlNodeError as exc:
        raise TaskFileError(f"data.partition: {exc}") from exc


def load_task_file(path: Path | str) -> TaskConfig:
    """Read and check a task file; TaskFileError (one line, naming the file) if it is not a valid task."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskFileError(f"{path}: cannot read the task file ({getattr(exc, 'strerror', None) or exc})") from exc
    try:
        return parse_task(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise TaskFileError(f"{path}: not a TOML task file: {exc}") from exc
    except TaskFileError as exc:
        raise TaskFileError(f"{path}: {exc}") from exc
