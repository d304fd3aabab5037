"""Measurements behind ``fedledger bench threshold``: distributed key generation and t-of-N decryption.

* ``keygen_s``: wall time of :func:`fl_node.crypto.threshold_keygen.generate_distributed` (N
  custodian processes on loopback), and ``keygen_cpu_s``, the CPU seconds of those processes
  (contention-proof: the machine this runs on may be shared).
* ``decrypt_s_per_ciphertext``: a full t-of-N decryption of a sample of packed-codec ciphertexts,
  per ciphertext and on one core: t custodians' partial decryptions with their proofs, then
  verification of the t proofs and combination. Its parts are reported beside it
  (``partial_s_per_ciphertext`` for one custodian, ``combine_s_per_ciphertext``).
* ``single_key_decrypt_s_per_ciphertext``: CRT decryption of the same number of ciphertexts
  under an ordinary key of the same size, one core (today's single key holder).
* ``*_cpu_s_per_ciphertext``: the same two in CPU seconds of this process (contention-proof).
* ``demo_s``: wall time of ``fedledger demo --key-custody threshold:T-of-N``: None here; the
  command's ``--demo`` measures it (:func:`fl_node.demo_timing.time_demos`).
"""

from __future__ import annotations

import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fl_node.crypto import paillier
from fl_node.crypto.keys import generate_keypair
from fl_node.crypto.threshold import KeyShare, combine, load_share, partial_decrypt
from fl_node.crypto.threshold_keygen import DistributedKeygenConfig, generate_distributed, share_path

__all__ = ["ThresholdBenchConfig", "run_threshold_bench"]


@dataclass(frozen=True)
class ThresholdBenchConfig:
    """What ``fedledger bench threshold`` measures.

    Attributes
    ----------
    custodians : int (default: 3)
    threshold : int (default: 2)
    key_bits : int (default: 2048)
    ciphertexts : int (default: 20)
        Sample of ciphertexts decrypted.
    key_shares : Path | None (default: None)
        A directory of share files to use instead of generating a key (then ``keygen_s`` is None).
    passphrase : str (default: "fedledger-bench")
        Passphrase of the share files.
    """

    custodians: int = 3
    threshold: int = 2
    key_bits: int = 2048
    ciphertexts: int = 20
    key_shares: Path | None = None
    passphrase: str = "fedledger-bench"


def run_threshold_bench(config: ThresholdBenchConfig) -> dict[str, object]:
    """Run the measurements in the module docstring and return them as a JSON-ready dict."""
    keygen_s = keygen_cpu_s = None
    with tempfile.TemporaryDirectory(prefix="fedledger-shares-") as scratch:
        directory = config.key_shares or Path(scratch)
        if config.key_shares is None:
            before = _children_cpu()
            start = time.perf_counter()
            generate_distributed(
                DistributedKeygenConfig(custodians=config.custodians, threshold=config.threshold, bits=config.key_bits),
                directory, config.passphrase,
            )
            keygen_s = time.perf_counter() - start
            keygen_cpu_s = _children_cpu() - before
        shares = [load_share(share_path(directory, i), config.passphrase) for i in range(1, config.custodians + 1)]
    public = shares[0].public
    spec = paillier.make_spec(public.n)
    rng_plaintexts = [(7 * i + 1) << 64 for i in range(config.ciphertexts)]
    ciphertexts = paillier.encrypt_fresh(spec, rng_plaintexts)

    coalition: list[KeyShare] = shares[: public.threshold]
    start, cpu = time.perf_counter(), time.process_time()
    partials = [partial_decrypt(share, ciphertexts) for share in coalition]
    partial_s = time.perf_counter() - start
    start = time.perf_counter()
    result = combine(public, ciphertexts, partials)
    combine_s = time.perf_counter() - start
    threshold_cpu = time.process_time() - cpu
    if list(result.plaintexts) != rng_plaintexts:
        raise AssertionError("threshold decryption returned wrong plaintexts")

    _, private = generate_keypair(public.n.bit_length() + public.n.bit_length() % 2)
    single = paillier.encrypt_fresh(paillier.make_spec(private.public_key.n), rng_plaintexts)
    start, cpu = time.perf_counter(), time.process_time()
    paillier.decrypt(paillier.DecryptionSpec(private.p, private.q), single)
    single_s = time.perf_counter() - start
    single_cpu = time.process_time() - cpu

    count = config.ciphertexts
    return {
        "custodians": public.custodians,
        "threshold": public.threshold,
        "key_bits": public.n.bit_length(),
        "keygen_s": keygen_s,
        "keygen_cpu_s": keygen_cpu_s,
        "ciphertexts": count,
        "decrypt_s_per_ciphertext": (partial_s + combine_s) / count,
        "partial_s_per_ciphertext": partial_s / count / public.threshold,
        "combine_s_per_ciphertext": combine_s / count,
        "single_key_decrypt_s_per_ciphertext": single_s / count,
        "decrypt_cpu_s_per_ciphertext": threshold_cpu / count,
        "single_key_decrypt_cpu_s_per_ciphertext": single_cpu / count,
        "demo_s": None,
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
