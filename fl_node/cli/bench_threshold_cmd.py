"""`fedledger bench threshold`: distributed key generation and t-of-N decryption vs a single key holder."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from fl_node.cli.app import BadInput, JsonOption, bench_app, console, write_json
from fl_node.crypto.threshold_bench import ThresholdBenchConfig, run_threshold_bench
from fl_node.demo_timing import time_demos


@bench_app.command("threshold")
def bench_threshold(
    custodians: int = typer.Option(3, "--custodians", min=3, max=16, help="Key custodians N."),
    threshold: int = typer.Option(2, "--threshold", min=1, help="Partial decryptions needed t."),
    key_bits: int = typer.Option(2048, "--key-bits", help="Modulus size of the generated key."),
    ciphertexts: int = typer.Option(20, "--ciphertexts", min=1, help="Ciphertexts decrypted for the per-ciphertext figures."),
    key_shares: Path | None = typer.Option(None, "--key-shares", file_okay=False, help="Use these share files instead of generating a key (keygen_s is then null)."),
    passphrase: str = typer.Option("fedledger-bench", "--passphrase", help="Passphrase of the share files."),
    demo: bool = typer.Option(False, "--demo", help="Also time `fedledger demo` with these shares (needs --key-shares) and with a single key holder."),
    json_path: Path | None = JsonOption,
) -> None:
    """Measure distributed key generation (N processes) and threshold vs single-key decryption."""
    if threshold > custodians:
        raise BadInput(f"--threshold {threshold} exceeds --custodians {custodians}")
    if demo and key_shares is None:
        raise BadInput("--demo times the demo with a key generated beforehand: give --key-shares DIR")
    if key_bits < 256 or key_bits % 2:
        raise BadInput(f"--key-bits must be an even number >= 256, got {key_bits}")
    if key_shares is not None and not key_shares.is_dir():
        raise BadInput(f"--key-shares {key_shares} is not a directory")
    result = run_threshold_bench(ThresholdBenchConfig(custodians, threshold, key_bits, ciphertexts, key_shares, passphrase))
    if demo and key_shares is not None:
        with console.status("timing the demo with threshold custody and with a single key holder"):
            result.update(time_demos(key_shares, passphrase, custodians, threshold, int(result["key_bits"])))
    write_json(json_path, result)
    table = Table(title=f"threshold custody: {result['threshold']}-of-{result['custodians']}, {result['key_bits']}-bit key")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, "—" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)
