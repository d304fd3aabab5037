"""Task files: the template holds every option and reads back, bad files are refused naming the key."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from fl_node.crypto.codec import CodecConfig
from fl_node.errors import TaskFileError
from fl_node.models import ModelConfig
from fl_node.task import CustodyConfig, DataConfig, ModelChoice, ScoringConfig, TaskConfig, build_task, from_flat, to_flat
from fl_node.task_file import COMMENTS, load_task_file, parse_task, task_template
from fl_node.training import TrainConfig

TASK = TaskConfig(
    data=DataConfig(nodes=4, label="outcome", id_columns=("patient_id",), drop=("site", "notes")),
    model=ModelChoice("mlp", hidden=8),
    training=TrainConfig(epochs=3, lr=0.02, optimizer="adam", prox_mu=0.01),
    codec=CodecConfig(bits=12, clip=0.5),
    custody=CustodyConfig(key_bits=1024),
    scoring=ScoringConfig("loo", "accuracy"),
    rounds=6,
    min_participants=3,
    seed=9,
)


def _leaf_keys(config: object, prefix: str = "") -> list[str]:
    keys = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        keys += _leaf_keys(value, f"{f.name}.") if dataclasses.is_dataclass(value) else [prefix + f.name]
    return keys


def test_template_holds_every_option_with_a_comment_and_reads_back() -> None:
    text = task_template()

    assert parse_task(tomllib.loads(text)) == TaskConfig()
    assert parse_task(tomllib.loads(task_template(TASK))) == TASK
    for key in _leaf_keys(TaskConfig()):
        assert key in COMMENTS, f"{key} has no comment in the template"
        assert f"# {COMMENTS[key]}\n{key.split('.')[-1]} = " in text


def test_missing_keys_keep_their_defaults_and_the_task_reaches_the_spec(tmp_path: Path) -> None:
    path = tmp_path / "task.toml"
    path.write_text('rounds = 4\n[model]\nhidden = 8\n[training]\nlr = 1\n[data]\nid_columns = ["id"]\n')

    task = load_task_file(path)

    assert task == dataclasses.replace(
        TaskConfig(), rounds=4, model=ModelChoice(hidden=8), training=dataclasses.replace(TaskConfig().training, lr=1.0),
        data=DataConfig(id_columns=("id",)),
    )
    assert build_task(dataclasses.replace(task, custody=CustodyConfig(encrypt=False)), 5, 2, {"a": 1}).model == ModelConfig("mlp", 5, 2, 8)
    assert from_flat(TaskConfig, to_flat(task)) == task  # the run config of `serve` carries the lists too


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rounds = [", "not a TOML task file"),
        ("roundz = 3", "unknown key 'roundz' at the top"),
        ("[model]\nwidth = 3", "unknown key 'width' in [model]"),
        ("[modle]\nhidden = 3", "unknown key 'modle' at the top"),
        ('rounds = "3"', "rounds must be int"),
        ("[training]\nlr = true", "training.lr must be float"),
        ("[data]\nid_columns = \"id\"", "data.id_columns must be a list of names"),
        ("model = 3", "model must be a table"),
        ("rounds = 0", "must be at least 1"),
        ('[scoring]\nscorer = "shap"', "scoring.scorer = 'shap' is not one of"),
        ('[model]\nname = "resnet"', "model.name = 'resnet' is not one of"),
        ('[training]\noptimizer = "lbfgs"', "[training]: unknown optimizer 'lbfgs'"),
        ("[codec]\nbits = 40", "[codec]: quantization bits must be in 2..32"),
        ('[data]\npartition = "zipf"', "data.partition"),
        ("[custody]\ncustodians = 3\nthreshold = 5", "[custody]: threshold custody needs"),
    ],
)
def test_a_bad_task_file_is_one_line_naming_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "task.toml"
    path.write_text(text)

    with pytest.raises(TaskFileError) as error:
        load_task_file(path)

    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_missing_task_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(TaskFileError, match="cannot read the task file"):
        load_task_file(tmp_path / "nope.toml")
