"""`fedledger bench scale`: per-round cost of an encrypted federation on the chain over a grid of N nodes × P parameters."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from fl_node.cli.app import BadInput, JsonOption, bench_app, console, int_list, write_json
from fl_node.crypto.codec import TASK_CODEC
from fl_node.plots import plot_scaling
from fl_node.scale_bench import GROWTH_MEASURES, ScaleBenchConfig, run_scale_bench


@bench_app.command("scale")
def bench_scale(
    nodes: str = typer.Option("10,25,50,100", "--nodes", help="Comma-separated node counts N."),
    params: str = typer.Option("1000,100000,1000000", "--params", help="Comma-separated model sizes P (parameters)."),
    rounds: int = typer.Option(3, "--rounds", help="Rounds per cell."),
    key_bits: int = typer.Option(2048, "--key-bits", help="Paillier modulus size."),
    bits: int = typer.Option(TASK_CODEC.bits, "--bits", help="Quantization bits of the packed codec."),
    degree: int = typer.Option(TASK_CODEC.degree, "--degree", help="Damgård–Jurik degree of the packed codec (1: Paillier; 0: automatic as in a task, 4 or 1, whichever sends fewer bytes)."),
    randomness: str = typer.Option(TASK_CODEC.randomness, "--randomness", help="Encryption randomness: full (r^n) or short (DJN h^a, extra assumption)."),
    scorer: str = typer.Option("gtg", "--scorer", help="Contribution scorer (gtg, tmc, loo, exact)."),
    score_budget: int = typer.Option(300, "--score-budget", help="Most coalition evaluations per round; 0: no cap."),
    max_values: int = typer.Option(0, "--max-values", help="Skip cells with N·P above this; 0: run every cell."),
    cell_timeout: float = typer.Option(0, "--cell-timeout", help="Kill a cell after this many seconds; 0: no limit."),
    seed: int = typer.Option(0, "--seed"),
    plots: Path | None = typer.Option(None, "--plots", help="Write PNGs of each cost against N and against P here.", file_okay=False),
    json_path: Path | None = JsonOption,
) -> None:
    """Run an encrypted federation on the embedded chain for every (N, P) of the grid and fit how each cost grows."""
    if key_bits < 512 or key_bits % 2:
        raise BadInput(f"--key-bits must be an even number >= 512, got {key_bits}")
    if randomness not in ("full", "short"):
        raise BadInput(f"--randomness must be 'full' or 'short', got {randomness!r}")
    config = ScaleBenchConfig(
        nodes=int_list(nodes, "--nodes"), params=int_list(params, "--params"), rounds=rounds, key_bits=key_bits,
        bits=bits, degree=degree, randomness=randomness, scorer=scorer,  # type: ignore[arg-type]
        score_budget=score_budget or None, max_values=max_values or None,
        cell_timeout_s=cell_timeout or None, seed=seed,
    )
    with console.status("scale benchmark") as status:
        result = run_scale_bench(
            config, progress=lambda message: status.update(message), on_cell=lambda partial: write_json(json_path, partial)
        )
    write_json(json_path, result)
    if plots is not None:
        write_plots(plots, result)
    console.print(_table(result))


def write_plots(directory: Path, result: dict) -> list[Path]:
    """``<measure>-vs-n.png`` and ``<measure>-vs-p.png`` for every measure with a growth fit."""
    cells = [c for c in result["cells"] if c["status"] == "measured"]
    written = []
    for axis, fixed_key, x_key, fixed_label, xlabel in (
        ("n", "params_target", "nodes", "P", "nodes N"), ("p", "nodes", "params", "N", "parameters P")
    ):
        for measure in GROWTH_MEASURES:
            fits = result["growth"][axis].get(measure)
            if not fits:
                continue
            lines = {
                f"{fixed_label}={fixed}": [(c[x_key], _value(c, measure)) for c in cells if c[fixed_key] == fixed]
                for fixed in sorted({c[fixed_key] for c in cells})
            }
            path = Path(directory) / f"{measure}-vs-{axis}.png"
            plot_scaling(path, lines, xlabel=xlabel, ylabel=_unit(measure), title=f"{measure} per round", exponents=fits)
            written.append(path)
    return written


def _value(cell: dict, measure: str) -> float:
    if measure == "peak_rss_mb":
        return cell["peak_rss_mb"]
    mean = cell["mean"]
    return mean["seconds"][measure] if measure in mean["seconds"] else mean[measure]


def _unit(measure: str) -> str:
    return {"evaluations": "coalition evaluations", "gas_total": "gas", "bytes_up_per_node": "bytes",
            "peak_rss_mb": "MiB", "cpu_s": "CPU seconds"}.get(measure, "seconds")


def _table(result: dict) -> Table:
    table = Table(title="seconds per round (mean), by phase")
    columns = ("N", "P", "status", "training", "encryption", "aggregation", "decryption", "scoring", "evals", "chain", "total", "CPU s", "gas", "B/node", "RSS MiB")
    for column in columns:
        table.add_column(column, justify="right")
    for cell in result["cells"]:
        if cell["status"] != "measured":
            table.add_row(str(cell["nodes"]), f"{cell['params_target']:,}", cell["status"], *[""] * (len(columns) - 3))
            continue
        mean = cell["mean"]
        s = mean["seconds"]
        evals = f"{mean['evaluations']:.0f}" + ("" if mean["scoring_complete"] else f" (cut, {mean['permutations']:.0f} perm.)")
        table.add_row(
            str(cell["nodes"]), f"{cell['params']:,}", "measured",
            *(f"{s[k]:.2f}" for k in ("training", "encryption", "aggregation", "decryption", "scoring")),
            evals, f"{s['chain']:.2f}", f"{s['total']:.1f}", f"{mean['cpu_s']:.1f}", f"{mean['gas_total']:,.0f}",
            f"{mean['bytes_up_per_node']:,.0f}", f"{cell['peak_rss_mb']:.0f}",
        )
    return table
