"""Hetero logistic regression (FATE 1.x style): guest A, host B, arbiter C, Paillier in between.

The guest holds labels y ∈ {0, 1} (used as s = 2y − 1 ∈ {−1, 1}) and features X_A plus an
intercept column; the host holds features X_B; the arbiter holds the Paillier private key.
With z = wx_A + wx_B, the logistic loss log(1 + e^(−s·z)) is replaced by its second-order
Taylor expansion at z = 0:

    ℓ(z) ≈ log 2 − ½·s·z + ⅛·z²,     ∂ℓ/∂z = d = ¼·z − ½·s,

so the gradient of the mean loss over a batch of m rows is ``(1/m) Σ_i d_i·x_i``, plus ``α·w``
(L2; the intercept is not penalized). One batch:

1. B → A: ``[[h_i]]``, h_i = its partial predictor wx_B (fresh encryptions).
2. A → B: ``[[u_i]] = [[h_i]] ⊕ (g_i − 2·s_i)`` with g_i = wx_A, rerandomized, so u_i = 4·d_i
   (the factor ¼ is applied in the clear after decryption: no encrypted scaling).
3. Each party computes its encrypted gradient ``[[G_j]] = [[Σ_i u_i·x_ij]]`` (a multi-
   exponentiation), adds a mask r_j drawn uniformly from Z_n, rerandomizes and sends
   ``[[G_j + r_j]]`` to C. C decrypts and returns ``G_j + r_j mod n`` — uniformly random to C —
   and the party subtracts r_j and takes the step ``w ← w − η_t·(G/(4m) + α·w)``.
4. Loss: ``8m·ℓ̄ = 8m·log 2 + Σ(g² − 4·s·g) + 2·Σ h·u − Σ h² + 4m·α·‖w‖²``. B computes
   ``[[2·Σ h_i·u_i − Σ h_i² + 4m·α‖w_B‖²]]`` (one more column of its multi-exponentiation) and
   sends it to A, A adds its plaintext part and sends the sum to C, who decrypts the loss
   (the only unmasked value C decrypts; FATE's arbiter sees it too).

C averages the batch losses of an iteration (one pass over the aligned training rows), stops
when ``|ℓ_t − ℓ_(t−1)| < tol`` (converged) or after ``max_iter`` iterations, and tells A and B.
Learning rate: ``η_t = η / (1 + decay·t)`` (or ``/ sqrt(1 + decay·t)``), t counting iterations.

Fixed point: features are quantized once to multiples of 2^−feature_bits (integer exponents of
step 3; the model is trained and used on these quantized features), encrypted values carry
value_bits fractional bits, h_i is rounded to feature_bits fractional bits so it can serve as
an exponent in step 4.

What each party sees: A sees ``[[h]]`` and the encrypted loss part of B (ciphertexts under C's
key) and its own unmasked gradient; B sees ``[[u]]`` and its own gradient; C sees uniformly
masked gradients and the loss per batch, plus sizes (rows, features per party). No party sees
another's features, weights or plaintext gradient. Prediction is joint: B sends its partial
predictors wx_B of the rows to score to A, who adds wx_A and applies the sigmoid (as FATE does).
Security model: semi-honest parties, no collusion between C and A or B (C holds the key).

Batch size
    A party's decrypted gradient is ``X_bᵀ·u`` over the m rows of a batch: one equation per
    gradient entry (the host's p_B features; the guest's p_A features and its intercept), m
    unknowns. With ``m <= p_B`` the host solves it for u = wx_A + wx_B − 2s, and reads the
    guest's labels s (exactly in the first batch, where both weight vectors are 0; from the sign
    of wx_B − u later: 451 of 455 on the demo data). With ``m <= p_A + 1`` the guest, which
    knows wx_A and s, solves it for the host's partial predictions wx_B. So every batch must hold
    at least ``max(p_A + 1, p_B) + BATCH_MARGIN`` rows (:func:`min_batch_rows`; 84 on the demo
    data). The margin of 64 rows: just above the bound the system is underdetermined by only
    k = m − p_B unknowns, and the host's first batch (u = −2s, s ∈ {−1, 1}^m) is then solved by
    fixing k labels and solving for the rest, 2^k tries; 64 extra rows put that at 2^64. The
    arbiter enforces the rule (it sees each batch's rows and both gradient lengths) before it
    decrypts any gradient; :func:`check_batch_rows` lets callers refuse earlier, and a short last
    batch joins the one before it (:meth:`HeteroLRConfig.batches`), so no batch is smaller than
    ``batch_size``.

What remains (aggregate leakage, as in FATE's hetero-LR)
    Above the bound each party still learns, per batch, the aggregates its gradient is made of:
    the host ``X_Bᵀs`` (exactly in the first batch) and ``X_Bᵀ(wx_A − 2s)`` later, the guest
    ``X_Aᵀh`` with h = wx_B. ``X_Bᵀs`` is the label-weighted sum of the host's features, i.e. a
    linear predictor of the labels from the host's own features: its least-squares reading of a
    first batch of 84 demo rows agrees with 95% of the labels (a linear model on the host's
    features does as well). And since s ∈ {−1, 1}, a first batch is a multi-dimensional knapsack
    that lattice reduction may solve well above the bound for small p_B. Removing this needs a
    different protocol (secret non-zero initial weights, noise on the gradients, or secure
    aggregation of the gradient itself), not a batch-size rule.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import gmpy2
import numpy as np

from fl_node.crypto.keys import generate_keypair, public_key_from_bytes, public_key_to_bytes
from fl_node.crypto.paillier import DecryptionSpec, EncryptionSpec, decrypt, make_spec
from fl_node.errors import BatchSizeError, DataError, FeatureCountError, VFLError, VFLProtocolError
from fl_node.twoparty.channel import Channel
from fl_node.twoparty.encrypted import ObfuscatorPool, add_plain, ciphertext_bytes, decode, encode, encrypt, encrypted_dot, plaintext_bytes, signed
from fl_node.twoparty.wire import ints_from_bytes, ints_to_bytes, pack, unpack

__all__ = [
    "GUEST",
    "HOST",
    "ARBITER",
    "HeteroLRConfig",
    "TrainingLog",
    "HeteroLRGuest",
    "HeteroLRHost",
    "HeteroLRArbiter",
    "PlainModel",
    "fit_plain",
    "BATCH_MARGIN",
    "min_batch_rows",
    "check_batch_rows",
    "quantize",
    "sigmoid",
]

log = logging.getLogger(__name__)

GUEST, HOST, ARBITER = "guest", "host", "arbiter"
_LOG2 = math.log(2.0)

#: Rows a batch must hold beyond the longer of the two gradients (module docstring, "Batch size").
BATCH_MARGIN = 64


def min_batch_rows(guest_features: int, host_features: int) -> int:
    """Fewest rows a hetero-LR batch may hold: ``max(guest_features + 1, host_features) + BATCH_MARGIN``.

    Parameters
    ----------
    guest_features : int
        The guest's feature columns (its gradient has one more entry, the intercept).
    host_features : int
    """
    return max(guest_features + 1, host_features) + BATCH_MARGIN


def check_batch_rows(rows: int, guest_features: int, host_features: int) -> None:
    """Refuse a batch of ``rows`` rows that would let a party solve its gradient for the other's values.

    Raises
    ------
    BatchSizeError
        If ``rows < min_batch_rows(guest_features, host_features)``; the message names the numbers.
    """
    floor = min_batch_rows(guest_features, host_features)
    if rows < floor:
        raise BatchSizeError(
            f"a batch of {rows} rows would let a party solve its gradient for the other's labels or predictions: "
            f"every batch needs at least {floor} rows (guest {guest_features} features + intercept, host {host_features} features, "
            f"+ {BATCH_MARGIN}); use a larger --batch-size or more aligned rows"
        )


@dataclass(frozen=True)
class HeteroLRConfig:
    """Training parameters all three parties agree on.

    Attributes
    ----------
    key_bits : int (default: 2048)
        Paillier modulus size generated by the arbiter.
    learning_rate : float (default: 0.4)
        η of the schedule η_t = η / (1 + decay·t).
    decay : float (default: 0.01)
        Learning-rate decay per iteration (0 keeps η constant).
    decay_sqrt : bool (default: False)
        Use η / sqrt(1 + decay·t) instead.
    alpha : float (default: 0.1)
        L2 penalty ½·α·‖w‖² on the feature weights (not the intercept).
    max_iter : int (default: 100)
        Iterations (passes over the aligned training rows) at most.
    tol : float (default: 1e-4)
        Converged when the loss changes by less than this between iterations.
    batch_size : int | None (default: None)
        Rows per mini-batch; None (or more than the rows) is one batch of all rows. Every batch
        must hold at least :func:`min_batch_rows` rows (the arbiter refuses smaller ones).
    randomness : {"short", "full"} (default: "short")
        Encryption randomness (:mod:`fl_node.crypto.paillier`): "short" (DJN short exponents,
        extra assumption) or "full" (standard Paillier, ≈ 50× slower to draw).
    value_bits : int (default: 32)
        Fractional bits of encrypted values.
    feature_bits : int (default: 16)
        Fractional bits of quantized features and of h in the loss.
    precompute : bool (default: True)
        Draw encryption randomness ahead of use on a background thread.
    seed : int (default: 0)
        Seeds the mini-batch shuffling (not the cryptographic randomness).
    """

    key_bits: int = 2048
    learning_rate: float = 0.4
    decay: float = 0.01
    decay_sqrt: bool = False
    alpha: float = 0.1
    max_iter: int = 100
    tol: float = 1e-4
    batch_size: int | None = None
    randomness: Literal["short", "full"] = "short"
    value_bits: int = 32
    feature_bits: int = 16
    precompute: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        checks = [
            (self.key_bits >= 512, f"key_bits must be at least 512, got {self.key_bits}"),
            (self.learning_rate > 0, f"learning_rate must be positive, got {self.learning_rate}"),
            (self.decay >= 0, f"decay must be >= 0, got {self.decay}"),
            (self.alpha >= 0, f"alpha must be >= 0, got {self.alpha}"),
            (self.max_iter >= 1, f"max_iter must be >= 1, got {self.max_iter}"),
            (self.tol >= 0, f"tol must be >= 0, got {self.tol}"),
            (self.batch_size is None or self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.randomness in ("short", "full"), f"randomness must be 'short' or 'full', got {self.randomness!r}"),
            (8 <= self.feature_bits <= 24, f"feature_bits must be in 8..24, got {self.feature_bits}"),
            (self.feature_bits <= self.value_bits <= 48, f"value_bits must be in feature_bits..48, got {self.value_bits}"),
        ]
        for ok, message in checks:
            if not ok:
                raise VFLError(message)

    def rate(self, iteration: int) -> float:
        """Learning rate η_t of ``iteration`` (0-based)."""
        base = 1.0 + self.decay * iteration
        return self.learning_rate / (math.sqrt(base) if self.decay_sqrt else base)

    def batches(self, rows: int, iteration: int) -> list[np.ndarray]:
        """Row indices of each mini-batch of ``iteration``: a seeded shuffle cut into batches.

        The last batch takes the remainder (between ``batch_size`` and ``2·batch_size − 1`` rows),
        so that no batch is smaller than ``batch_size`` (module docstring, "Batch size").
        """
        if self.batch_size is None or self.batch_size >= rows:
            return [np.arange(rows)]
        order = np.random.default_rng((self.seed, iteration)).permutation(rows)
        cuts = list(range(0, rows - self.batch_size + 1, self.batch_size))[1:] + [rows]
        return [order[start:end] for start, end in zip([0, *cuts[:-1]], cuts)]

    @property
    def loss_bits(self) -> int:
        """Fractional bits of the encrypted gradient sums and loss."""
        return self.value_bits + self.feature_bits


@dataclass(frozen=True)
class TrainingLog:
    """What one party knows at the end of training.

    Attributes
    ----------
    iterations : int
        Iterations run.
    converged : bool
        Whether the loss change fell below ``tol`` before ``max_iter``.
    losses : tuple[float, ...] (default: ())
        Taylor loss per iteration (the arbiter's log only).
    seconds : tuple[float, ...] (default: ())
        Wall-clock seconds per iteration, as this party saw them.
    """

    iterations: int
    converged: bool
    losses: tuple[float, ...] = ()
    seconds: tuple[float, ...] = ()


def quantize(features: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Features as integers at scale ``2^bits`` and the reals they stand for.

    Raises
    ------
    DataError
        If a value is too large for exact integers at that scale (|x|·2^bits >= 2^52).
    """
    if np.size(features) and float(np.max(np.abs(features))) * (1 << bits) >= 2.0**52:
        raise DataError(f"feature values up to {float(np.max(np.abs(features))):.3g} are too large for {bits}-bit fixed point; standardize them first")
    ints = np.rint(np.asarray(features, dtype=np.float64) * (1 << bits)).astype(np.int64)
    return ints, ints / float(1 << bits)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function, stable for large |z|."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def _check_features(features: np.ndarray, who: str) -> np.ndarray:
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] == 0 or features.shape[1] == 0:
        raise FeatureCountError(f"{who} needs a non-empty 2-D feature matrix, got shape {features.shape}")
    if not np.isfinite(features).all():
        raise DataError(f"{who} features hold NaN or infinite values")
    return features


def _with_intercept(features: np.ndarray) -> np.ndarray:
    return np.hstack([features, np.ones((features.shape[0], 1))])


class _FeatureParty:
    """What guest and host share: quantized features, weights, the key, masked-gradient steps."""

    role: str

    def __init__(self, config: HeteroLRConfig, features: np.ndarray, *, intercept: bool, rng: random.Random | None) -> None:
        features = _check_features(features, self.role)
        self.config = config
        self.n_features = features.shape[1]
        self._intercept = intercept
        self._exps, self._x = quantize(_with_intercept(features) if intercept else features, config.feature_bits)
        self.weights = np.zeros(self._x.shape[1])
        self._rng = rng if rng is not None else random.SystemRandom()

    def _receive_key(self, channel: Channel) -> EncryptionSpec:
        _, blob = unpack(channel.recv(ARBITER, "lr/key"), what="public key message")
        public = public_key_from_bytes(blob)
        if public.n.bit_length() != self.config.key_bits:
            raise VFLProtocolError(f"arbiter sent a {public.n.bit_length()}-bit key, the agreed size is {self.config.key_bits}")
        return make_spec(public.n, self.config.randomness)

    def _pool(self, spec: EncryptionSpec, per_batch: int) -> ObfuscatorPool:
        return ObfuscatorPool(spec, capacity=per_batch if self.config.precompute else 0)

    def _masked_gradient(self, channel: Channel, tag: str, spec: EncryptionSpec, pool: ObfuscatorPool, sums: list[gmpy2.mpz]) -> np.ndarray:
        """Send ``[[G + r]]`` to the arbiter, get ``G + r`` back, return G (real, at loss_bits)."""
        n = spec.n
        masks = [self._rng.randrange(n) for _ in sums]
        masked = add_plain(spec, sums, masks, pool.take(len(sums)))
        channel.send(ARBITER, f"{tag}/grad", pack({"count": len(masked)}, ints_to_bytes(masked, ciphertext_bytes(n))))
        reply = ints_from_bytes(
            channel.recv(ARBITER, f"{tag}/grad"), plaintext_bytes(n), count=len(sums), below=n, what="decrypted gradient"
        )
        return decode([(v - r) % n for v, r in zip(reply, masks)], self.config.loss_bits, n)

    def _step(self, iteration: int, gradient_sums: np.ndarray, rows: int) -> None:
        penalty = self.config.alpha * self.weights
        if self._intercept:
            penalty[-1] = 0.0
        self.weights = self.weights - self.config.rate(iteration) * (gradient_sums / (4.0 * rows) + penalty)

    def _feature_weights(self) -> np.ndarray:
        return self.weights[:-1] if self._intercept else self.weights

    def _status(self, channel: Channel, iteration: int) -> tuple[bool, bool]:
        header, _ = unpack(channel.recv(ARBITER, f"lr/{iteration}/status"), what="status")
        return bool(header.get("stop")), bool(header.get("converged"))

    def _check_predict(self, features: np.ndarray) -> np.ndarray:
        features = _check_features(features, self.role)
        if features.shape[1] != self.n_features:
            raise FeatureCountError(f"{self.role} model has {self.n_features} features, got {features.shape[1]} to predict on")
        return quantize(_with_intercept(features) if self._intercept else features, self.config.feature_bits)[1]


class HeteroLRGuest(_FeatureParty):
    """Role A: labels and its features; adds the intercept.

    Parameters
    ----------
    config : HeteroLRConfig
    features : np.ndarray
        Aligned training rows (standardized), shape (rows, features).
    labels : np.ndarray
        0/1 per row.
    rng : random.Random | None (default: None)
        Source of the gradient masks (``randrange``); None uses the OS generator. A seeded
        generator only serves to reproduce the masks (tests, audits): masks the arbiter can
        predict reveal the gradient to it.
    """

    role = GUEST

    def __init__(self, config: HeteroLRConfig, features: np.ndarray, labels: np.ndarray, *, rng: random.Random | None = None) -> None:
        super().__init__(config, features, intercept=True, rng=rng)
        labels = np.asarray(labels)
        if labels.shape != (self._x.shape[0],) or not np.isin(labels, (0, 1)).all():
            raise DataError(f"guest needs one 0/1 label per row ({self._x.shape[0]} rows), got shape {labels.shape}")
        self._signs = 2.0 * labels.astype(np.float64) - 1.0

    def fit(self, channel: Channel) -> TrainingLog:
        """Train with the host and the arbiter; the guest drives the batch plan."""
        config = self.config
        spec = self._receive_key(channel)
        rows = self._x.shape[0]
        largest = len(config.batches(rows, 0)[0])
        pool = self._pool(spec, largest + self._x.shape[1] + 1)
        seconds: list[float] = []
        try:
            for iteration in range(config.max_iter):
                start = time.perf_counter()
                batches = config.batches(rows, iteration)
                channel.send(HOST, f"lr/{iteration}/plan", pack({"batches": [b.tolist() for b in batches]}))
                channel.send(ARBITER, f"lr/{iteration}/plan", pack({"batches": len(batches)}))
                for number, batch in enumerate(batches):
                    self._batch(channel, f"lr/{iteration}/{number}", spec, pool, iteration, batch)
                stop, converged = self._status(channel, iteration)
                seconds.append(time.perf_counter() - start)
                if stop:
                    return TrainingLog(iterations=iteration + 1, converged=converged, seconds=tuple(seconds))
        finally:
            pool.close()
        raise VFLProtocolError("arbiter never sent the stop signal")

    def _batch(self, channel: Channel, tag: str, spec: EncryptionSpec, pool: ObfuscatorPool, iteration: int, batch: np.ndarray) -> None:
        config, n, nsq = self.config, spec.n, spec.n**2
        m = len(batch)
        hx = ints_from_bytes(channel.recv(HOST, f"{tag}/hx"), ciphertext_bytes(n), count=m, below=nsq, what="host's [[wx]]")
        g = self._x[batch] @ self.weights
        s = self._signs[batch]
        u = add_plain(spec, hx, encode(g - 2.0 * s, config.value_bits, n), pool.take(m))
        channel.send(HOST, f"{tag}/u", ints_to_bytes(u, ciphertext_bytes(n)))
        sums = encrypted_dot(u, self._exps[batch], nsq)

        host_loss = ints_from_bytes(channel.recv(HOST, f"{tag}/loss"), ciphertext_bytes(n), count=1, below=nsq, what="host's loss part")
        w = self._feature_weights()
        own = 8.0 * m * _LOG2 + float(np.sum(g * g - 4.0 * s * g)) + 4.0 * m * config.alpha * float(w @ w)
        loss = add_plain(spec, host_loss, encode([own], config.loss_bits, n), pool.take(1))
        channel.send(ARBITER, f"{tag}/loss", pack({"rows": m}, ints_to_bytes(loss, ciphertext_bytes(n))))

        self._step(iteration, self._masked_gradient(channel, tag, spec, pool, sums), m)

    def predict(self, channel: Channel, features: np.ndarray) -> np.ndarray:
        """P(y = 1) for aligned rows, with the host's partial predictors of the same rows."""
        x = self._check_predict(features)
        header, _ = unpack(channel.recv(HOST, "predict/wx"), what="host's predictors")
        partial = np.asarray(header.get("wx", []), dtype=np.float64)
        if partial.shape != (x.shape[0],):
            raise VFLProtocolError(f"host sent {partial.shape[0] if partial.ndim else 0} predictors for {x.shape[0]} rows")
        return sigmoid(x @ self.weights + partial)


class HeteroLRHost(_FeatureParty):
    """Role B: features only.

    Parameters
    ----------
    config : HeteroLRConfig
    features : np.ndarray
        Aligned training rows (standardized), shape (rows, features).
    rng : random.Random | None (default: None)
        Source of the gradient masks; None uses the OS generator (see :class:`HeteroLRGuest`).
    """

    role = HOST

    def __init__(self, config: HeteroLRConfig, features: np.ndarray, *, rng: random.Random | None = None) -> None:
        super().__init__(config, features, intercept=False, rng=rng)

    def fit(self, channel: Channel) -> TrainingLog:
        """Train with the guest and the arbiter, following the guest's batch plan."""
        spec = self._receive_key(channel)
        rows = self._x.shape[0]
        pool: ObfuscatorPool | None = None
        seconds: list[float] = []
        try:
            for iteration in range(self.config.max_iter):
                start = time.perf_counter()
                header, _ = unpack(channel.recv(GUEST, f"lr/{iteration}/plan"), what="batch plan")
                batches = _batch_plan(header, rows)
                if pool is None:
                    pool = self._pool(spec, max(map(len, batches)) + self._x.shape[1] + 1)
                for number, batch in enumerate(batches):
                    self._batch(channel, f"lr/{iteration}/{number}", spec, pool, iteration, batch)
                stop, converged = self._status(channel, iteration)
                seconds.append(time.perf_counter() - start)
                if stop:
                    return TrainingLog(iterations=iteration + 1, converged=converged, seconds=tuple(seconds))
        finally:
            if pool is not None:
                pool.close()
        raise VFLProtocolError("arbiter never sent the stop signal")

    def _batch(self, channel: Channel, tag: str, spec: EncryptionSpec, pool: ObfuscatorPool, iteration: int, batch: np.ndarray) -> None:
        config, n, nsq = self.config, spec.n, spec.n**2
        m = len(batch)
        h = np.rint(self._x[batch] @ self.weights * (1 << config.feature_bits)).astype(np.int64)
        shift = config.value_bits - config.feature_bits
        hx = encrypt(spec, [(int(v) << shift) % n for v in h], pool.take(m))
        channel.send(GUEST, f"{tag}/hx", ints_to_bytes(hx, ciphertext_bytes(n)))

        u = ints_from_bytes(channel.recv(GUEST, f"{tag}/u"), ciphertext_bytes(n), count=m, below=nsq, what="guest's [[u]]")
        sums = encrypted_dot(u, np.hstack([self._exps[batch], h[:, None]]), nsq)
        hu = sums.pop()
        h_squares = sum(int(v) * int(v) for v in h) << shift
        penalty = encode([4.0 * m * config.alpha * float(self.weights @ self.weights)], config.loss_bits, n)[0]
        loss = add_plain(spec, [hu * hu % nsq], [(penalty - h_squares) % n], pool.take(1))
        channel.send(GUEST, f"{tag}/loss", ints_to_bytes(loss, ciphertext_bytes(n)))

        self._step(iteration, self._masked_gradient(channel, tag, spec, pool, sums), m)

    def predict(self, channel: Channel, features: np.ndarray) -> None:
        """Send the guest this party's partial predictors wx_B of the rows to score."""
        x = self._check_predict(features)
        channel.send(GUEST, "predict/wx", pack({"wx": (x @ self.weights).tolist()}))


class HeteroLRArbiter:
    """Role C: generates the key pair, decrypts masked gradients and the loss, decides when to stop.

    Parameters
    ----------
    config : HeteroLRConfig
    on_iteration : callable (iteration, loss, seconds) -> None | None (default: None)
        Called after each iteration (progress display).
    """

    role = ARBITER

    def __init__(self, config: HeteroLRConfig, *, on_iteration: Callable[[int, float, float], None] | None = None) -> None:
        self.config = config
        self.on_iteration = on_iteration
        self.public_key = None
        self._private_key = None

    def fit(self, channel: Channel) -> TrainingLog:
        """Serve both parties until the loss converges or ``max_iter`` is reached."""
        config = self.config
        self.public_key, self._private_key = generate_keypair(config.key_bits)
        key_bytes = public_key_to_bytes(self.public_key)
        for party in (GUEST, HOST):
            channel.send(party, "lr/key", pack({}, key_bytes))
        secret = DecryptionSpec(p=self._private_key.p, q=self._private_key.q)
        losses: list[float] = []
        seconds: list[float] = []
        start = time.perf_counter()
        for iteration in range(config.max_iter):
            header, _ = unpack(channel.recv(GUEST, f"lr/{iteration}/plan"), what="batch count")
            total = rows = 0.0
            for number in range(_count(header, "batches")):
                tag = f"lr/{iteration}/{number}"
                loss = self._receive(channel, GUEST, f"{tag}/loss", "rows", "encrypted loss", ciphertexts=1)
                gradients = {party: self._receive(channel, party, f"{tag}/grad", "count", f"{party}'s masked gradient") for party in (GUEST, HOST)}
                # before any gradient is decrypted; the guest's gradient holds its intercept too
                check_batch_rows(loss[0], gradients[GUEST][0] - 1, gradients[HOST][0])
                for party, (_, masked) in gradients.items():
                    channel.send(party, f"{tag}/grad", ints_to_bytes(decrypt(secret, masked), plaintext_bytes(self.public_key.n)))
                batch_loss, batch_rows = self._decrypt_loss(loss, secret)
                total += batch_loss * batch_rows
                rows += batch_rows
            losses.append(total / rows)
            converged = len(losses) > 1 and abs(losses[-1] - losses[-2]) < config.tol
            stop = converged or iteration == config.max_iter - 1
            for party in (GUEST, HOST):
                channel.send(party, f"lr/{iteration}/status", pack({"stop": stop, "converged": converged}))
            seconds.append(time.perf_counter() - start)
            start = time.perf_counter()
            log.info("iteration %d: loss %.6f (%.2f s)", iteration + 1, losses[-1], seconds[-1])
            if self.on_iteration is not None:
                self.on_iteration(iteration, losses[-1], seconds[-1])
            if stop:
                return TrainingLog(iterations=iteration + 1, converged=converged, losses=tuple(losses), seconds=tuple(seconds))
        raise AssertionError("unreachable: the last iteration always stops")

    def decrypt(self, ciphertexts: list[int]) -> list[int]:
        """Decrypt with this arbiter's key (for audits and tests; the protocol only decrypts masked values and the loss)."""
        if self._private_key is None:
            raise VFLError("the arbiter has no key yet: call fit first")
        return decrypt(DecryptionSpec(p=self._private_key.p, q=self._private_key.q), ciphertexts)

    def _receive(self, channel: Channel, party: str, tag: str, field: str, what: str, *, ciphertexts: int | None = None) -> tuple[int, list[gmpy2.mpz]]:
        """The positive integer a message's header states under ``field``, and the message's ciphertexts.

        ``ciphertexts`` is how many it must hold; None: the stated integer.
        """
        n = self.public_key.n
        header, blob = unpack(channel.recv(party, tag), what=what)
        stated = _count(header, field)
        return stated, ints_from_bytes(blob, ciphertext_bytes(n), count=stated if ciphertexts is None else ciphertexts, below=n * n, what=what)

    def _decrypt_loss(self, loss: tuple[int, list[gmpy2.mpz]], secret: DecryptionSpec) -> tuple[float, int]:
        n = self.public_key.n
        rows, ciphertexts = loss
        (value,) = decrypt(secret, ciphertexts)
        return signed(value, n) / float(1 << self.config.loss_bits) / (8.0 * rows), rows


def _count(header: dict, key: str) -> int:
    value = header.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise VFLProtocolError(f"message field {key!r} must be a positive integer, got {value!r}")
    return value


def _batch_plan(header: dict, rows: int) -> list[np.ndarray]:
    plan = header.get("batches")
    if not isinstance(plan, list) or not plan:
        raise VFLProtocolError("batch plan holds no batches")
    batches = []
    for batch in plan:
        if not isinstance(batch, list) or not batch or not all(isinstance(i, int) and 0 <= i < rows for i in batch):
            raise VFLProtocolError(f"batch plan refers to rows outside 0..{rows - 1}")
        batches.append(np.array(batch, dtype=np.int64))
    return batches


@dataclass(frozen=True)
class PlainModel:
    """A Taylor-loss logistic regression trained in the clear by one party on its own features.

    Attributes
    ----------
    weights : np.ndarray
        Feature weights then the intercept.
    losses : tuple[float, ...]
    converged : bool
    """

    weights: np.ndarray
    losses: tuple[float, ...]
    converged: bool
    feature_bits: int

    @property
    def iterations(self) -> int:
        """Iterations run."""
        return len(self.losses)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """P(y = 1) per row."""
        features = _check_features(features, "model")
        if features.shape[1] != self.weights.shape[0] - 1:
            raise FeatureCountError(f"model has {self.weights.shape[0] - 1} features, got {features.shape[1]}")
        return sigmoid(quantize(_with_intercept(features), self.feature_bits)[1] @ self.weights)


def fit_plain(features: np.ndarray, labels: np.ndarray, config: HeteroLRConfig) -> PlainModel:
    """The same model, loss, schedule, batches and stopping rule as the encrypted protocol, in the clear.

    Used for the guest-only model (a party alone needs no encryption) and as the reference the
    encrypted training is checked against.
    """
    x = quantize(_with_intercept(_check_features(features, "model")), config.feature_bits)[1]
    s = 2.0 * np.asarray(labels, dtype=np.float64) - 1.0
    w = np.zeros(x.shape[1])
    losses: list[float] = []
    for iteration in range(config.max_iter):
        total = 0.0
        for batch in config.batches(x.shape[0], iteration):
            z = x[batch] @ w
            total += float(np.sum(_LOG2 - 0.5 * s[batch] * z + 0.125 * z * z)) + 0.5 * len(batch) * config.alpha * float(w[:-1] @ w[:-1])
            penalty = config.alpha * w
            penalty[-1] = 0.0
            w = w - config.rate(iteration) * (x[batch].T @ (0.25 * z - 0.5 * s[batch]) / len(batch) + penalty)
        losses.append(total / x.shape[0])
        if len(losses) > 1 and abs(losses[-1] - losses[-2]) < config.tol:
            return PlainModel(weights=w, losses=tuple(losses), converged=True, feature_bits=config.feature_bits)
    return PlainModel(weights=w, losses=tuple(losses), converged=False, feature_bits=config.feature_bits)
