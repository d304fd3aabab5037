"""`fedledger bench crypto`: naive phe vs the packed codec vs plaintext aggregation."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fl_node.cli.app import BadInput, JsonOption, bench_app, console, write_json
from fl_node.crypto.bench import CryptoBenchConfig, run_crypto_bench
from fl_node.crypto.codec import TASK_CODEC

_PHASES = {
    "keygen": "Paillier key generation",
    "naive": "naive phe, one ciphertext per value",
    "packed": "packed codec: randomness + encrypt, per node",
    "decrypt": "aggregate + decrypt the sum",
}


@bench_app.command("crypto")
def bench_crypto(
    params: int = typer.Option(100_000, "--params", min=1, help="Parameters per update (P)."),
    nodes: int = typer.Option(10, "--nodes", min=1, max=1 << 20, help="Updates aggregated (N); sets the slot headroom."),
    key_bits: int = typer.Option(2048, "--key-bits", help="Paillier modulus size."),
    bits: int = typer.Option(TASK_CODEC.bits, "--bits", min=2, max=32, help="Quantization bits per value."),
    clip: float = typer.Option(1.0, "--clip", help="Values are clipped to [-clip, clip]."),
    naive_sample: int = typer.Option(500, "--naive-sample", min=500, help="Values encrypted one by one with phe."),
    randomness: str = typer.Option(TASK_CODEC.randomness, "--randomness", help="Encryption randomness: full (r^n) or short (DJN h^a, extra assumption)."),
    degree: int = typer.Option(TASK_CODEC.degree, "--degree", min=0, max=16, help="Damgård–Jurik degree s (1: Paillier; 0: automatic as in a task, 4 or 1, whichever sends fewer bytes); >1 shrinks bytes per parameter."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Processes; default every core."),
    seed: int = typer.Option(0, "--seed", help="Seed of the synthetic updates and of the stochastic rounding."),
    json_path: Path | None = JsonOption,
) -> None:
    """Measure naive per-value phe encryption, the packed codec end to end, and plaintext aggregation."""
    if randomness not in ("full", "short"):
        raise BadInput(f"--randomness must be 'full' or 'short', got {randomness!r}")
    if key_bits < 512 or key_bits % 2:
        raise BadInput(f"--key-bits must be an even number >= 512, got {key_bits}")
    if not clip > 0:
        raise BadInput(f"--clip must be positive, got {clip}")
    config = CryptoBenchConfig(
        params=params, nodes=nodes, key_bits=key_bits, bits=bits, clip=clip, naive_sample=naive_sample,
        randomness=randomness, degree=degree, workers=workers, seed=seed,  # type: ignore[arg-type]
    )
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=False
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(_PHASES.get(phase, phase), total=total)
            bar.update(tasks[phase], completed=done, total=total)

        result = run_crypto_bench(config, progress)
    write_json(json_path, result)
    console.print(_table(result))


def _table(result: dict) -> Table:
    table = Table(title=f"P={result['params']:,}  N={result['nodes']}  {result['key_bits']}-bit key  "
                  f"{result['bits']}-bit values  {result['randomness']} randomness  degree {result['degree']}  {result['workers']} workers")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("naive phe, s per value", f"{result['naive_s_per_value']:.3e}"),
        ("packed end to end, s per value", f"{result['packed_s_per_value']:.3e}"),
        ("packed online (randomness precomputed), s per value", f"{result['packed_online_s_per_value']:.3e}"),
        ("plaintext aggregation, s per value", f"{result['plaintext_s_per_value']:.3e}"),
        ("speedup (naive / packed)", f"{result['speedup']:.0f}×"),
        ("speedup, online only", f"{result['speedup_online']:.0f}×"),
        ("speedup in CPU seconds (contention-proof)", f"{result['speedup_cpu']:.0f}×"),
        ("max |decrypted avg − float avg|", f"{result['max_abs_error']:.2e} (bound {result['error_bound']:.2e})"),
        ("ciphertext bytes per parameter", f"{result['ciphertext_bytes_per_param']:.2f} (naive {result['naive_ciphertext_bytes_per_param']})"),
    ]
    rows += [(f"  {phase} s", f"{seconds:.3f}") for phase, seconds in result["seconds"].items()]
    for row in rows:
        table.add_row(*row)
    return table
