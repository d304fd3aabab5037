"""`fedledger custody keygen`: distributed key generation for a consortium's threshold key custody."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from fl_node.cli.app import BadInput, JsonOption, app, console, write_json
from fl_node.crypto.keys import read_passphrase_file
from fl_node.crypto.threshold import SHARE_SUFFIX, share_path
from fl_node.crypto.threshold_keygen import DistributedKeygenConfig, generate_distributed
from fl_node.errors import KeyFormatError
from fl_node.task import SHARE_PASSPHRASE

custody_app = typer.Typer(help="Threshold key custody: no party ever holds the whole Paillier key.", no_args_is_help=True)
app.add_typer(custody_app, name="custody")


@custody_app.command("keygen")
def custody_keygen(
    out: Path = typer.Option(..., "--out", file_okay=False, help="Folder the custodians seal their shares into (custodian-<i>.share)."),
    custodians: int = typer.Option(3, "--custodians", min=3, max=16, help="Key custodians N (one process each)."),
    threshold: int = typer.Option(2, "--threshold", min=1, help="Partial decryptions needed t."),
    key_bits: int = typer.Option(2048, "--key-bits", help="Modulus size of the generated key."),
    passphrase_file: Path | None = typer.Option(
        None, "--passphrase-file", dir_okay=False, help="File holding the shares' passphrase (default: the demo's, for --key-shares)."
    ),
    json_path: Path | None = JsonOption,
) -> None:
    """Generate one threshold Paillier key jointly (TNO / Nishide–Sakurai); each custodian process seals only its share."""
    if threshold > custodians:
        raise BadInput(f"--threshold {threshold} exceeds --custodians {custodians}")
    if key_bits < 256 or key_bits % 2:
        raise BadInput(f"--key-bits must be an even number >= 256, got {key_bits}")
    if out.exists() and any(out.glob(f"custodian-*{SHARE_SUFFIX}")):
        raise BadInput(f"{out} already holds share files; choose an empty folder")
    try:
        passphrase = read_passphrase_file(passphrase_file).decode() if passphrase_file is not None else SHARE_PASSPHRASE
    except KeyFormatError as exc:
        raise BadInput(str(exc)) from None
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with console.status(f"{custodians} custodians generating a {key_bits}-bit {threshold}-of-{custodians} key"):
        public = generate_distributed(DistributedKeygenConfig(custodians=custodians, threshold=threshold, bits=key_bits), out, passphrase)
    elapsed = time.perf_counter() - start
    shares = [str(share_path(out, i)) for i in range(1, custodians + 1)]
    write_json(json_path, {
        "directory": str(out), "custodians": custodians, "threshold": threshold, "key_bits": public.n.bit_length(),
        "fingerprint": public.fingerprint.hex(), "shares": shares, "keygen_s": elapsed,
    })
    console.print(f"{threshold}-of-{custodians} key {public.fingerprint.hex()[:16]}… ({public.n.bit_length()} bits) in {elapsed:.1f} s; shares: {', '.join(shares)}")
