"""`fedledger bench crypto` and the measuring code behind it, at a size that runs in a second."""

from __future__ import annotations

import json

import pytest

from fl_node.cli import main
from fl_node.crypto.bench import CryptoBenchConfig, run_crypto_bench
from fl_node.crypto.codec import TASK_CODEC, CodecConfig
from fl_node.crypto.knowledge import automatic_degree

REQUIRED = {
    "params", "nodes", "key_bits", "naive_s_per_value", "packed_s_per_value", "plaintext_s_per_value",
    "speedup", "max_abs_error", "ciphertext_bytes_per_param",
}


def test_bench_reports_consistent_figures():
    phases: list[str] = []
    config = CryptoBenchConfig(params=700, nodes=3, key_bits=768, randomness="short", degree=2, workers=1)

    result = run_crypto_bench(config, lambda phase, done, total: phases.append(phase))

    assert REQUIRED <= result.keys()
    assert (result["params"], result["nodes"], result["key_bits"]) == (700, 3, 768)
    assert result["speedup"] == pytest.approx(result["naive_s_per_value"] / result["packed_s_per_value"])
    assert result["packed_online_s_per_value"] <= result["packed_s_per_value"]
    assert result["speedup_cpu"] == pytest.approx(result["naive_cpu_s_per_value"] / result["packed_cpu_s_per_value"])
    assert result["packed_cpu_s_per_value"] > 0
    assert 0 < result["max_abs_error"] < result["error_bound"]
    assert result["ciphertext_bytes_per_param"] == result["update_bytes"] / 700
    assert result["update_bytes"] == 68 + 32 + result["ciphertexts_per_update"] * 288
    assert {"keygen", "naive", "packed", "decrypt", "signed blob"} <= set(phases)
    assert min(result["prove_s"], result["sign_s"], result["verify_s"]) > 0
    assert 0 < result["proof_bytes"] < result["update_bytes"]  # one proof per blob, whatever its ciphertext count
    assert result["signed_blob_bytes"] > result["update_bytes"] + result["proof_bytes"]


def test_cli_writes_the_json(tmp_path):
    out = tmp_path / "bench" / "crypto.json"

    main(["bench", "crypto", "--params", "300", "--nodes", "2", "--key-bits", "512", "--workers", "2", "--json", str(out)])

    result = json.loads(out.read_text())
    assert REQUIRED <= result.keys()
    assert result["nodes"] == 2 and result["workers"] == 2
    # with no codec flags the bench measures a task's default codec, its degree chosen for the update's size
    assert (result["bits"], result["randomness"]) == (TASK_CODEC.bits, TASK_CODEC.randomness)
    assert result["degree"] == automatic_degree(CodecConfig(bits=TASK_CODEC.bits, max_participants=2), 512, 300)


@pytest.mark.parametrize(
    "args", [["--randomness", "fast"], ["--naive-sample", "10"], ["--key-bits", "511"], ["--nodes", "0"], ["--degree", "-1"]]
)
def test_cli_bad_options_exit_2(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "crypto", "--params", "10", *args])

    assert exit_info.value.code == 2
