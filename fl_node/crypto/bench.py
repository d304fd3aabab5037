"""Measurements behind ``fedledger bench crypto``: naive phe, the packed codec, plaintext aggregation.

One run, one key, the same synthetic updates (uniform in ``[-clip, clip]``, so the reported
error is quantization only and can be compared with the codec's stated bound):

(a) naive: one ``phe`` ``EncryptedNumber`` per float, on a sample of ``naive_sample`` values,
    one core, reported per value;
(b) packed, end to end: for each of the N updates draw its encryption randomness
    ("precompute", which a node can run while it trains) then quantize, pack and encrypt;
    add the N encrypted updates; decrypt and average. ``packed_s_per_value`` counts *all*
    of it, divided by N·P; ``packed_online_s_per_value`` leaves out the precompute phase;
(c) plaintext: the float average of the N updates;
(d) one signed blob (:mod:`fl_node.hfl.envelope`): ``prove_s`` for its plaintext-knowledge
    proofs, ``sign_s`` for the sender's EIP-191 signature, ``verify_s`` for the coordinator's
    header, signature and proof checks, ``proof_bytes`` and ``signed_blob_bytes``.

Wall-clock figures depend on what else runs on the machine, and contention hurts the
parallel packed path more than the one-core naive loop. So CPU seconds are reported too
(``*_cpu_s_per_value``: the process's own plus its finished worker processes'), and
``speedup_cpu`` compares core-seconds: on an idle machine the wall-clock speedup is about
``speedup_cpu`` times the number of workers.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from eth_account import Account

from fl_node.crypto.codec import TASK_CODEC, CodecConfig, EncryptedUpdate, PackedCodec, PackedDecryptor
from fl_node.crypto.keys import generate_keypair
from fl_node.crypto.knowledge import ProofStatement, prove_update, verify_update, with_degree
from fl_node.crypto.paillier import RandomnessMode
from fl_node.crypto.parallel import WorkerPool
from fl_node.errors import CodecError
from fl_node.hfl.envelope import BlobHeader, SignedBlob, seal, sign_blob

__all__ = ["CryptoBenchConfig", "run_crypto_bench", "Progress"]

Progress = Callable[[str, int, int], None]
"""Called as ``progress(phase, done, total)`` while the benchmark runs."""


@dataclass(frozen=True)
class CryptoBenchConfig:
    """What ``fedledger bench crypto`` measures.

    Attributes
    ----------
    params : int (default: 100_000)
        Parameters per update (P).
    nodes : int (default: 10)
        Updates aggregated (N); also the codec's ``max_participants``.
    key_bits : int (default: 2048)
    bits : int (default: 8, the task default)
        Quantization bits.
    clip : float (default: 1.0)
    naive_sample : int (default: 500)
        Values encrypted one by one with phe for the naive figure.
    randomness : {"full", "short"} (default: "short", the task default)
        Obfuscator kind of the packed codec.
    degree : int (default: 0, automatic as in a task: :func:`~fl_node.crypto.knowledge.automatic_degree`)
        Damgård–Jurik degree of the packed codec (1: Paillier).
    workers : int | None (default: None)
        Processes; None uses every core.
    seed : int (default: 0)
    """

    params: int = 100_000
    nodes: int = 10
    key_bits: int = 2048
    bits: int = TASK_CODEC.bits
    clip: float = 1.0
    naive_sample: int = 500
    randomness: RandomnessMode = TASK_CODEC.randomness  # type: ignore[assignment]
    degree: int = TASK_CODEC.degree
    workers: int | None = None
    seed: int = 0


def run_crypto_bench(config: CryptoBenchConfig, progress: Progress | None = None) -> dict:
    """Run the three measurements and return the JSON payload (keys in the module docstring and the CLI)."""
    report = progress or (lambda phase, done, total: None)
    P, N = config.params, config.nodes
    codec_config = with_degree(CodecConfig(bits=config.bits, clip=config.clip, max_participants=N, degree=config.degree), config.key_bits, P)
    rng = np.random.default_rng(config.seed)

    report("keygen", 0, 1)
    start = time.perf_counter()
    pk, sk = generate_keypair(config.key_bits)
    keygen_s = time.perf_counter() - start
    report("keygen", 1, 1)

    updates = [rng.uniform(-config.clip, config.clip, P) for _ in range(N)]

    # (a) naive phe, one EncryptedNumber per float
    sample = rng.uniform(-config.clip, config.clip, config.naive_sample)
    start, cpu_start = time.perf_counter(), time.process_time()
    for i, value in enumerate(sample):
        pk.encrypt(float(value))
        if i % 10 == 9 or i == len(sample) - 1:
            report("naive", i + 1, len(sample))
    naive_s_per_value = (time.perf_counter() - start) / len(sample)
    naive_cpu_s_per_value = (time.process_time() - cpu_start) / len(sample)

    # (b) packed codec, end to end
    pool = WorkerPool(config.workers)
    children_cpu_start = _children_cpu_s()
    packed_cpu_s = 0.0
    try:
        codec = PackedCodec(pk, codec_config, pool=pool, precompute=False, randomness=config.randomness)
        decryptor = PackedDecryptor(sk, codec_config, pool=pool)
        per_update = codec.ciphertext_count(P)
        for future in [pool.submit(_warm_up) for _ in range(pool.workers)]:
            future.result()  # start the worker processes outside the timings

        precompute_s = encrypt_s = 0.0
        encrypted: list[EncryptedUpdate] = []
        for node, values in enumerate(updates):
            start, cpu_start = time.perf_counter(), time.process_time()
            codec.precompute(per_update)
            precompute_s += time.perf_counter() - start
            start = time.perf_counter()
            encrypted.append(codec.encrypt(values, rng=rng))
            encrypt_s += time.perf_counter() - start
            packed_cpu_s += time.process_time() - cpu_start
            report("packed", node + 1, N)

        start, cpu_start = time.perf_counter(), time.process_time()
        total = codec.aggregate(encrypted)
        aggregate_s = time.perf_counter() - start

        start = time.perf_counter()
        decrypted_average = decryptor.decrypt_sum(total) / N
        decrypt_s = time.perf_counter() - start
        packed_cpu_s += time.process_time() - cpu_start
        report("decrypt", 1, 1)

        start = time.perf_counter()
        blob = encrypted[0].to_bytes()
        EncryptedUpdate.from_bytes(blob, pk)
        roundtrip_s = time.perf_counter() - start

        signed = _signed_blob_costs(codec, updates[0], rng)
        report("signed blob", 1, 1)
    finally:
        pool.close()
    packed_cpu_s += _children_cpu_s() - children_cpu_start  # the workers, reaped by close()

    # (c) plaintext aggregation
    start = time.perf_counter()
    float_average = np.sum(updates, axis=0) / N
    plaintext_s = time.perf_counter() - start

    values = N * P
    online_s = encrypt_s + aggregate_s + decrypt_s
    packed_s_per_value = (precompute_s + online_s) / values
    packed_online_s_per_value = online_s / values
    return {
        "params": P,
        "nodes": N,
        "key_bits": config.key_bits,
        "naive_s_per_value": naive_s_per_value,
        "packed_s_per_value": packed_s_per_value,
        "plaintext_s_per_value": plaintext_s / values,
        "speedup": naive_s_per_value / packed_s_per_value,
        "max_abs_error": float(np.abs(decrypted_average - float_average).max()),
        "ciphertext_bytes_per_param": len(blob) / P,
        "bits": config.bits,
        "clip": config.clip,
        "randomness": config.randomness,
        "degree": codec_config.degree,
        "workers": pool.workers,
        "naive_sample": config.naive_sample,
        "error_bound": codec_config.step,
        "packed_online_s_per_value": packed_online_s_per_value,
        "speedup_online": naive_s_per_value / packed_online_s_per_value,
        "naive_cpu_s_per_value": naive_cpu_s_per_value,
        "packed_cpu_s_per_value": packed_cpu_s / values,
        "speedup_cpu": naive_cpu_s_per_value / (packed_cpu_s / values),
        "naive_ciphertext_bytes_per_param": (pk.nsquare.bit_length() + 7) // 8,
        "update_bytes": len(blob),
        "slot_bits": codec.layout.slot_bits,
        "slots_per_ciphertext": codec.layout.slots,
        "ciphertexts_per_update": per_update,
        "prove_s": signed["prove_s"],
        "sign_s": signed["sign_s"],
        "verify_s": signed["verify_s"],
        "proof_bytes": signed["proof_bytes"],
        "signed_blob_bytes": signed["signed_blob_bytes"],
        "seconds": {
            "keygen": keygen_s,
            "naive_sample": naive_s_per_value * config.naive_sample,
            "precompute": precompute_s,
            "encrypt": encrypt_s,
            "aggregate": aggregate_s,
            "decrypt": decrypt_s,
            "serialize_roundtrip_one_update": roundtrip_s,
            "plaintext": plaintext_s,
        },
    }


def _signed_blob_costs(codec: PackedCodec, values: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
    """Per blob: plaintext-knowledge proof (prove, bytes), the sender's EIP-191 signature, and the coordinator's checks.

    ``verify_s`` is what the coordinator spends per blob: parse, header, ``ecrecover`` of the
    signature and every proof (the payload parse is in ``serialize_roundtrip_one_update``).
    """
    account = Account.create()
    header = BlobHeader(1, "0x" + "00" * 20, 1, 1, account.address)
    update, witness = codec.encrypt_witnessed(values, rng=rng)
    statement = ProofStatement(codec.public_key.n, codec.config.degree, header.to_bytes())
    start = time.perf_counter()
    proof = prove_update(statement, update, witness)
    prove_s = time.perf_counter() - start
    unsigned = seal(header, update.to_bytes(), proof)
    start = time.perf_counter()
    blob = sign_blob(unsigned, account)
    sign_s = time.perf_counter() - start
    start = time.perf_counter()
    parsed = SignedBlob.parse(blob)
    if parsed.header != header or parsed.signer() != account.address:
        raise CodecError("the benchmark's signed blob does not verify")
    verify_update(statement, update.ciphertexts, parsed.proof)
    verify_s = time.perf_counter() - start
    return {"prove_s": prove_s, "sign_s": sign_s, "verify_s": verify_s, "proof_bytes": len(proof), "signed_blob_bytes": len(blob)}


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _warm_up() -> None:
    """Worker start-up task."""
