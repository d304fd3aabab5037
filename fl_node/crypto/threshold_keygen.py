"""Distributed generation of a threshold Paillier key: no process ever holds p, q, φ(n) or λ.

Protocol
    1. Modulus and shared secret: ``tno.mpc.protocols.distributed_keygen`` (TNO), which
       implements the Nishide–Sakurai protocol ("Distributed Paillier cryptosystem without
       trusted dealer", WISA 2010) with the Boneh–Franklin biprimality test: each custodian
       adds random shares of p and q, the product n is computed with Shamir (BGW)
       multiplication and opened, φ(n) stays additively shared, and a degree-2k Shamir
       sharing over the integers of ``β·φ(n)`` (β a joint random mask) results, k = ⌊(N−1)/2⌋.
       That sharing needs *all* 2k+1 first custodians to decrypt, so it is not used as is.
    2. Re-sharing to t-of-N (this module): custodian i re-shares its Lagrange-weighted term
       ``xᵢ = Δ_TNO·λᵢ·shareᵢ`` with a fresh degree t−1 polynomial over the integers whose
       coefficients are 2^σ (σ = 128) times larger than Δ·|xᵢ| (statistical hiding, as in
       integer Shamir sharing à la Rabin 1998); custodian j's new share is ``sⱼ = Σᵢ fᵢ(j)``,
       a t-of-N sharing of ``D = Δ·Σᵢ xᵢ``, a multiple of φ(n). The TNO share is discarded.
    3. Verification keys ``vⱼ = v^(Δsⱼ)`` with v = H(n)² mod n² (no one chooses v), and
       ``θ = 4Δ²D mod n`` obtained by jointly decrypting the public ciphertext 1+n with
       :func:`fl_node.crypto.threshold.partial_decrypt` (the same proofs are checked).
       θ is also what TNO itself publishes.

Security model
    Semi-honest (honest-but-curious) custodians during generation, honest majority
    (TNO requires N >= 2k+1): a coalition of at most k custodians learns nothing beyond n;
    a coalition that deviates from the protocol during generation is not detected. Decryption
    afterwards is verifiable (:mod:`fl_node.crypto.threshold`). Keys are degree 1 only: θ for
    a degree s >= 2 would reveal β·φ(n) mod n², enough to factor n.

Cost
    Two parts of TNO 4.3's modulus search cost far more than the protocol needs, so each
    custodian process runs it tuned (:class:`_TunedDistributedPaillier`, same messages, same
    outputs): (a) every shared product p·q builds a Shamir scheme that re-runs 25 Miller–Rabin
    rounds on the same ~2·|p|-bit field prime (one per candidate: at 2048 bits ~0.1 s each,
    times ~10⁵ candidates), now memoised; (b) the sieve of a candidate N by small primes is one
    gcd with their product, so a larger bound (default 10⁵) is cheap, and the Jacobi symbols of
    the Boneh–Franklin test use gmpy2 instead of sympy objects. Fewer survivors of the sieve
    means fewer 40-exponentiation biprimality tests.

Each custodian runs in its own process and talks to the others over loopback HTTP
(``tno.mpc.communication``); the parent only receives public keys.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import itertools
import logging
import math
import queue
import secrets
import socket
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from pathlib import Path

import gmpy2
import tno.mpc.encryption_schemes.shamir.shamir as tno_shamir
from tno.mpc.communication import Pool
from tno.mpc.protocols.distributed_keygen import DistributedPaillier
from tno.mpc.protocols.distributed_keygen.utils import AdditiveVariable, Batched

from fl_node.crypto.threshold import (
    SHARE_SUFFIX,
    KeyShare,
    ThresholdPublicKey,
    combine,
    partial_decrypt,
    partial_from_json,
    partial_to_json,
    save_share,
    share_path,
)
from fl_node.errors import KeyFormatError

__all__ = ["DistributedKeygenConfig", "generate_distributed", "share_path"]

log = logging.getLogger(__name__)

_STAT_BITS = 128


@dataclass(frozen=True)
class DistributedKeygenConfig:
    """Parameters of a distributed key generation.

    Attributes
    ----------
    custodians : int (default: 3)
        N >= 3 (TNO needs an honest majority: N >= 2k+1 with k >= 1).
    threshold : int (default: 2)
        t: partial decryptions needed afterwards, 1..N.
    bits : int (default: 2048)
        Modulus size (TNO may return a modulus a few bits longer).
    prime_threshold : int (default: 100000)
        Bound of the small primes that sieve candidate moduli (TNO's default is 2000).
    biprime_rounds : int (default: 40)
        Boneh–Franklin test repetitions: error probability 2^-rounds.
    batch_size : int (default: 500)
        Candidate pairs tried per protocol round (TNO).
    """

    custodians: int = 3
    threshold: int = 2
    bits: int = 2048
    prime_threshold: int = 100_000
    biprime_rounds: int = 40
    batch_size: int = 500

    def __post_init__(self) -> None:
        if self.custodians < 3:
            raise KeyFormatError(f"distributed key generation needs at least 3 custodians, got {self.custodians}")
        if not 1 <= self.threshold <= self.custodians:
            raise KeyFormatError(f"threshold must be in 1..{self.custodians}, got {self.threshold}")
        if self.bits < 256 or self.bits % 2:
            raise KeyFormatError(f"key size must be an even number of bits >= 256, got {self.bits}")


def generate_distributed(config: DistributedKeygenConfig, directory: str | Path, passphrase: str) -> ThresholdPublicKey:
    """Run N custodian processes that generate a key jointly; each seals its share into ``directory``.

    Returns
    -------
    ThresholdPublicKey
        The public key, identical in every custodian's share file.
    """
    ports = _free_ports(config.custodians)
    # One process per custodian, not a process pool: the custodians wait for each other, so all of
    # them must run at once, and a pool once handed out only one of three (the parent hung for good).
    context = get_context("spawn")
    results = context.Queue()
    custodians = [
        context.Process(target=_custodian_process, args=(config, index, ports, str(directory), passphrase, results), name=f"custodian-{index + 1}")
        for index in range(config.custodians)
    ]
    for process in custodians:
        process.start()
    try:
        publics = _collect(results, custodians)
    finally:
        for process in custodians:
            if process.is_alive():
                process.kill()
            process.join()
    keys = [ThresholdPublicKey.from_json(p) for p in publics]
    if any(key != keys[0] for key in keys):
        raise KeyFormatError("custodians ended key generation with different public keys")
    return keys[0]


def _collect(results: Queue, custodians: list[BaseProcess]) -> list[dict[str, object]]:
    """Every custodian's public key, in custodian order, from ``results``; the first failure raised.

    Raises
    ------
    KeyFormatError
        A custodian failed (its error named), or exited without a result.
    """
    publics: dict[int, dict[str, object]] = {}
    while len(publics) < len(custodians):
        try:
            position, public, error = results.get(timeout=1.0)
        except queue.Empty:
            gone = [p for i, p in enumerate(custodians) if i not in publics and not p.is_alive()]
            if gone and results.empty():
                raise KeyFormatError(f"{gone[0].name} exited with code {gone[0].exitcode} before finishing key generation") from None
            continue
        if error:
            raise KeyFormatError(f"{custodians[position].name}: {error}")
        publics[position] = public
    return [publics[i] for i in range(len(custodians))]


def _custodian_process(config: DistributedKeygenConfig, position: int, ports: list[int], directory: str, passphrase: str, results: Queue) -> None:
    try:
        # The field prime of TNO's Shamir schemes never changes within a run: test it once.
        tno_shamir.is_prime = functools.lru_cache(maxsize=8)(tno_shamir.is_prime)
        share = asyncio.run(_custodian(config, position, ports))
        save_share(share_path(directory, share.index), share, passphrase)
        results.put((position, share.public.to_json(), ""))
    except Exception as exc:  # the parent raises it, naming this custodian
        results.put((position, None, f"{type(exc).__name__}: {exc}"))


async def _custodian(config: DistributedKeygenConfig, position: int, ports: list[int]) -> KeyShare:
    pool = Pool()
    pool.add_http_server(port=ports[position], addr="127.0.0.1")
    for other, port in enumerate(ports):
        if other != position:
            pool.add_http_client(f"custodian-{other}", "127.0.0.1", port=port)
    try:
        scheme = await _TunedDistributedPaillier.from_security_parameter(
            pool, (config.custodians - 1) // 2, config.bits, config.prime_threshold,
            config.biprime_rounds, _STAT_BITS // 2, True, 0, config.batch_size,
        )
        return await _reshare(pool, scheme, config)
    finally:
        await pool.shutdown()


async def _reshare(pool: Pool, scheme: DistributedPaillier, config: DistributedKeygenConfig) -> KeyShare:
    n = int(scheme.public_key.n)
    tno_share = scheme.secret_key
    index = int(scheme.index)  # TNO numbers parties 1..N like we do
    names = {int(i): name for name, i in scheme.party_indices.items() if name != "self"}
    total, threshold = config.custodians, config.threshold
    delta = math.factorial(total)

    term = _tno_term(tno_share.share, index)
    bound_bits = (delta * abs(term)).bit_length() + _STAT_BITS
    coefficients = [delta * term] + [secrets.randbits(bound_bits) for _ in range(threshold - 1)]
    mine = {j: _poly(coefficients, j) for j in range(1, total + 1)}
    del tno_share, term, coefficients
    for j, name in names.items():
        pool.asend(name, mine[j], msg_id="reshare")
    received = [await pool.recv(name, msg_id="reshare") for name in names.values()]
    secret = mine[index] + sum(int(value) for value in received)
    del mine, received

    modulus = gmpy2.mpz(n) ** 2
    seed = int.from_bytes(hashlib.sha256(b"fedledger-threshold-v" + n.to_bytes((n.bit_length() + 7) // 8, "big")).digest() * 16, "big")
    v = int(gmpy2.powmod(seed % n, 2, modulus))
    own_key = int(gmpy2.powmod(v, delta * secret, modulus))
    for name in names.values():
        pool.asend(name, own_key, msg_id="verification-key")
    keys = {index: own_key}
    for j, name in names.items():
        keys[j] = int(await pool.recv(name, msg_id="verification-key"))

    provisional = ThresholdPublicKey(n, threshold, total, 1, 1, v, tuple(keys[j] for j in range(1, total + 1)))
    share = KeyShare(index, secret, provisional)
    one_plus_n = [n + 1]
    own_partial = partial_decrypt(share, one_plus_n)
    for name in names.values():
        pool.asend(name, partial_to_json(own_partial), msg_id="theta")
    partials = [own_partial] + [partial_from_json(await pool.recv(name, msg_id="theta")) for name in names.values()]
    theta = combine(provisional, one_plus_n, partials).plaintexts[0]
    if math.gcd(theta, n) != 1:
        raise KeyFormatError("jointly computed θ is not invertible mod n; run the key generation again")
    public = ThresholdPublicKey(n, threshold, total, 1, theta, v, provisional.verification_keys)
    return KeyShare(index, secret, public)


class _TunedDistributedPaillier(DistributedPaillier):
    """TNO's protocol with a gcd sieve and gmpy2 Jacobi symbols (module docstring, Cost)."""

    @classmethod
    def _DistributedPaillier__small_prime_divisors_test(cls, prime_list: list[int], modulus: int) -> bool:
        return bool(prime_list) and gmpy2.gcd(modulus, _product(len(prime_list), prime_list)) != 1

    @classmethod
    def _DistributedPaillier__biprime_test_v_calculation(
        cls, g_values: list[int], index: int, modulus: int, p_i: int, q_i: int, correct_param_biprime: int,
    ) -> Batched[AdditiveVariable]:
        exponent = (modulus - p_i - q_i + 1) // 4 if index == 1 else (p_i + q_i) // 4
        usable = (g for g in g_values if gmpy2.jacobi(g, modulus) == 1)
        v_values = [int(gmpy2.powmod(g, exponent, modulus)) for g in itertools.islice(usable, correct_param_biprime)]
        batched = Batched(AdditiveVariable(label="v", modulus=modulus), batch_size=correct_param_biprime)
        batched.set_share(index, v_values)
        return batched


_PRODUCTS: dict[int, gmpy2.mpz] = {}


def _product(count: int, primes: list[int]) -> gmpy2.mpz:
    """Product of TNO's sieve primes, computed once per process (keyed by how many there are)."""
    if count not in _PRODUCTS:
        _PRODUCTS[count] = math.prod(gmpy2.mpz(p) for p in primes)
    return _PRODUCTS[count]


def _tno_term(integer_shares: object, index: int) -> int:
    """Δ_TNO·λᵢ·shareᵢ for the fixed reconstruction set 1..degree+1 TNO uses (0 outside it)."""
    degree = int(integer_shares.degree)
    if index > degree + 1:
        return 0
    others = [j for j in range(1, degree + 2) if j != index]
    numerator = int(integer_shares.n_fac) * math.prod(others) * int(integer_shares.shares[index])
    denominator = math.prod(j - index for j in others)
    if numerator % denominator:
        raise KeyFormatError("TNO share does not give an integer Lagrange term")
    return numerator // denominator


def _poly(coefficients: list[int], x: int) -> int:
    acc = 0
    for a in reversed(coefficients):
        acc = acc * x + a
    return acc


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()
