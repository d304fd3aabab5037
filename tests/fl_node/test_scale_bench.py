"""`fedledger bench scale`: one tiny cell on the embedded chain, the phase clock, the growth fit, bad input."""

import multiprocessing
import os
import time

import pytest

from fl_node.cli import main
from fl_node.crypto.keys import generate_keypair
from fl_node.phase_clock import PhaseClock
from fl_node.scale_bench import PHASES, ScaleBenchConfig, growth_exponents, mlp_hidden_for, mlp_parameters, run_cell, tree_cpu_seconds


def test_one_cell_charges_every_phase_and_records_gas_and_bytes():
    config = ScaleBenchConfig(rounds=1, key_bits=1024, bits=8, degree=2, randomness="short", score_budget=12)

    cell = run_cell(config, 5, 300, generate_keypair(1024))

    (round_,) = cell["rounds"]
    seconds = round_["seconds"]
    assert all(seconds[p] > 0 for p in ("training", "encryption", "aggregation", "decryption", "scoring", "chain"))
    assert sum(seconds[p] for p in PHASES) == pytest.approx(seconds["total"], rel=1e-6)
    # the full sum is opened inside scoring; the validity check's singletons before it, still as decryption
    assert 0 < round_["seconds_inside_scoring"]["decryption"] < seconds["decryption"]
    # 12 evaluations end GTG's first cycle of 5 permutations early: scored from the permutations walked
    assert not round_["scoring_complete"] and round_["evaluations"] == 12 and 1 <= round_["permutations"] < 5
    assert cell["mean"]["permutations"] == round_["permutations"]
    # open, five commits, one decryption record for the five singletons and one for the full sum
    # (no other coalition is opened: scoring adds them from the singletons), finalize
    assert round_["transactions"] == 1 + 5 + 1 + 1 + 1
    assert round_["gas"]["commit"] > 0 and round_["gas"]["finalize"] > 0
    assert round_["gas_total"] == sum(round_["gas"].values())
    assert cell["params"] == mlp_parameters(cell["hidden"], 64, 10)
    # the packed update is below float32 size; the blob adds its header and one proof (about 1 KB at 1024 bits)
    assert 0 < round_["bytes_up_per_node"] < 4 * cell["params"] + 2048
    assert cell["peak_rss_mb"] > 0
    assert len(cell["load_average"]["start"]) == len(cell["load_average"]["end"]) == 3
    assert 0 < round_["cpu_s"] <= seconds["total"] * os.cpu_count() + 0.05


def _spin(seconds: float, ready, done) -> None:
    while time.process_time() < seconds:
        pass
    ready.set()
    done.wait(300)


def test_tree_cpu_seconds_counts_a_live_child_process():
    context = multiprocessing.get_context("fork")
    ready, done = context.Event(), context.Event()
    child = context.Process(target=_spin, args=(0.3, ready, done))
    before = tree_cpu_seconds()
    child.start()
    try:
        assert ready.wait(300)
        after = tree_cpu_seconds()
    finally:
        done.set()
        child.join()
    assert after - before >= 0.3 - 0.02  # the child's own CPU, to the clock tick


def test_phase_clock_keeps_self_time_of_nested_phases():
    clock = PhaseClock()
    start = time.perf_counter()

    with clock.phase("outer"):
        time.sleep(0.02)
        with clock.phase("inner"):
            time.sleep(0.03)
    wall = time.perf_counter() - start

    assert clock.seconds["inner"] >= 0.03 and clock.seconds["outer"] >= 0.02
    assert clock.seconds["outer"] + clock.seconds["inner"] <= wall  # the inner time is not counted twice
    assert clock.nested[("outer", "inner")] == pytest.approx(clock.seconds["inner"])


def test_growth_exponents_recover_known_powers():
    cells = [
        {"status": "measured", "nodes": n, "params_target": p, "params": p, "peak_rss_mb": 1.0,
         "mean": {"seconds": {"training": 1e-6 * n * p, "scoring": 1e-9 * n**2 * p}, "evaluations": float(n)}}
        for n in (10, 20, 40) for p in (1_000, 10_000)
    ] + [{"status": "skipped", "nodes": 80, "params_target": 1_000}]

    growth = growth_exponents(cells)

    assert growth["n"]["training"]["P=1000"] == pytest.approx(1.0)
    assert growth["n"]["scoring"]["P=10000"] == pytest.approx(2.0)
    assert growth["p"]["scoring"]["N=40"] == pytest.approx(1.0)
    assert growth["n"]["evaluations"]["P=1000"] == pytest.approx(1.0)


def test_hidden_width_comes_closest_to_the_target():
    hidden = mlp_hidden_for(100_000, 64, 10)

    assert abs(mlp_parameters(hidden, 64, 10) - 100_000) <= 75 / 2


@pytest.mark.parametrize("args", [["--nodes", "1"], ["--nodes", "ten"], ["--randomness", "weak"], ["--score-budget", "1"]])
def test_bad_grid_is_refused_with_exit_2(args, tmp_path):
    path = tmp_path / "scale.json"

    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "scale", *args, "--json", str(path)])

    assert exit_info.value.code == 2
    assert not path.exists()
