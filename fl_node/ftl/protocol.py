"""The two roles of secure federated transfer learning, each with its own key pair, over a channel.

Liu, Kang, Xing, Chen and Yang, "A Secure Federated Transfer Learning Framework" (IEEE
Intelligent Systems 2020; FATE 1.x hetero FTL), with the objective of :mod:`fl_node.ftl.objective`.
Source party A (labels) and target party B each run one role in its own thread or process;
they meet only through a :class:`~fl_node.twoparty.channel.Channel`.

Why two key pairs and no arbiter: FTL has two parties and no natural third; with its own key each
party decrypts only values it asked for and the peer masked, and nothing needs a third party
that must not collude with either (FATE's arbiter-free hetero FTL does the same).

One run
    1. *Hello.* Each sends its public key and the settings both must agree on (representation
       size, γ, precision, iterations, batches, encryption on/off); any difference aborts.
    2. *Alignment.* ECDH PSI (:class:`fl_node.twoparty.psi.EcdhPsi`) finds the shared IDs; both
       compare a digest of the result. No or too few shared IDs abort with
       :class:`~fl_node.errors.FTLOverlapError`.
    3. *Iterations.* For each batch of shared samples (all of them by default):

       - A → B: ``[[a_i]]_A`` and ``[[Q]]_A``; B → A: ``[[u_i^B]]_B`` and ``[[P]]_B``.
       - B computes ``[[∂L/∂u_i^B]]_A = [[a_i]] + u_i^B·[[Q]] (+ its own γu_i^B)``; A computes
         ``[[∂L/∂Φ]]_B = -½ Σ y_i [[u_i^B]] + Φ·[[P]]`` and ``[[∂L/∂u_i^A]]_B = -γ [[u_i^B]] (+ γu_i^A)``.
       - Each masks its encrypted gradient (statistical masks, packed, re-randomized:
         :meth:`~fl_node.ftl.arithmetic.PaillierArithmetic.mask`), the key owner decrypts and
         returns the masked integers, the asker removes its mask.
       - Each backpropagates its gradient w.r.t. its representation through its own network
         (A also through Φ, plus its local loss on its own labels) and takes an Adam step.
    4. *Prediction.* A sends ``[[Φ]]_A``; B computes ``[[Φ·u_j^B]]_A`` for its samples A does
       not hold, masks, A decrypts, B unmasks its scores.

What each party learns (semi-honest parties): messages carry only ciphertexts under the
receiver's peer key, masked plaintexts, the public key, settings, PSI values and digests — never
a feature, a representation, a weight, a label or Φ in the clear (the tests inspect them). What a
party *decrypts for itself* is, by design, the gradient its own training needs; as in the paper
and FATE, that gradient is a function of the peer's values: the alignment term ``γ(u_i^A - u_i^B)``
lets each party compute the peer's representation of the *shared* samples of the batch, and B's
scores over ≥ d samples determine Φ. Samples that are not shared, features, weights and labels
stay private. Not covered: malicious parties (a party could ask the key owner to decrypt
something else), and leakage through the number of iterations and the overlap size.

The plaintext mode (``encrypted=False``) runs the same code with
:class:`~fl_node.ftl.arithmetic.PlainArithmetic`: same messages, float64 values, no masks.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from fl_node.crypto.keys import generate_keypair, public_key_from_bytes, public_key_to_bytes
from fl_node.crypto.paillier import DecryptionSpec
from fl_node.errors import FlNodeError, FTLConfigError, FTLOverlapError, FTLProtocolError, KeyFormatError
from fl_node.ftl.arithmetic import PaillierArithmetic, PlainArithmetic, Sealed
from fl_node.ftl.network import network_artifact, representation_network
from fl_node.twoparty.channel import Channel, LocalHub, Message
from fl_node.twoparty.psi import EcdhPsi
from fl_node.twoparty.runner import run_threads
from fl_node.twoparty.tables import PartyData, Standardizer
from fl_node.twoparty.wire import pack, unpack

__all__ = ["FTLConfig", "IterationTrace", "PartyOutcome", "FTLRun", "SourceParty", "TargetParty", "run_ftl", "SOURCE", "TARGET"]

log = logging.getLogger(__name__)

SOURCE = "source"
TARGET = "target"
PROTOCOL = "fedledger/ftl/v1"
_PEER_POOL = 32


@dataclass(frozen=True)
class FTLConfig:
    """Settings of one FTL run (both parties build theirs from the same values in the demo).

    Attributes
    ----------
    dim : int (default: 6)
        Representation size d.
    source_hidden, target_hidden : int (default: 0, 0)
        Hidden units of each party's network (0: linear map); private to each party. On the
        digits demo a linear source map transfers better than a 32-unit tanh layer: B fits its
        map to A's representation from 20 samples, and a smoother target generalizes better.
    gamma : float (default: 10.0)
        Alignment weight γ.
    source_weight : float (default: 1.0)
        Weight β of A's local loss on its own labels (0: the paper's objective).
    learning_rate : float (default: 0.02)
        Adam step size of both parties.
    source_weight_decay, target_weight_decay : float (default: 1e-3, 0.3)
        L2 penalties (Adam weight decay); B's is larger, it fits few samples.
    max_iter : int (default: 100)
        Iterations (one batch of shared samples each).
    batch_size : int (default: 0)
        Shared samples per iteration; 0 uses all of them.
    precision_bits : int (default: 16)
        Fixed-point precision: values are rounded to 2^-precision_bits before encryption.
    key_bits : int (default: 2048)
        Paillier modulus size of each party's key.
    encrypted : bool (default: True)
        False runs the same protocol in the clear (the plaintext reference).
    randomness : {"short", "full"} (default: "short")
        Obfuscator randomness (:mod:`fl_node.crypto.paillier`; "short" adds the DJN assumption).
    min_overlap : int (default: 2)
        Fewest shared samples the parties accept.
    seed : int (default: 0)
        Seeds network initialization and the batch order.
    trace : bool (default: False)
        Keep each party's own per-iteration values in its outcome (for tests).
    """

    dim: int = 6
    source_hidden: int = 0
    target_hidden: int = 0
    gamma: float = 10.0
    source_weight: float = 1.0
    learning_rate: float = 0.02
    source_weight_decay: float = 1e-3
    target_weight_decay: float = 0.3
    max_iter: int = 100
    batch_size: int = 0
    precision_bits: int = 16
    key_bits: int = 2048
    encrypted: bool = True
    randomness: Literal["short", "full"] = "short"
    min_overlap: int = 2
    seed: int = 0
    trace: bool = False

    def __post_init__(self) -> None:
        checks = [
            (1 <= self.dim <= 64, f"representation size must be 1..64, got {self.dim}"),
            (self.source_hidden >= 0 and self.target_hidden >= 0, "hidden sizes must be >= 0"),
            (np.isfinite(self.gamma) and self.gamma >= 0, f"gamma must be a finite number >= 0, got {self.gamma}"),
            (np.isfinite(self.source_weight) and self.source_weight >= 0, f"source_weight must be >= 0, got {self.source_weight}"),
            (self.learning_rate > 0, f"learning rate must be > 0, got {self.learning_rate}"),
            (self.max_iter >= 1, f"max_iter must be >= 1, got {self.max_iter}"),
            (self.batch_size >= 0, f"batch size must be >= 0, got {self.batch_size}"),
            (8 <= self.precision_bits <= 30, f"precision_bits must be 8..30, got {self.precision_bits}"),
            (self.key_bits >= 512 and self.key_bits % 2 == 0, f"key size must be an even number of bits >= 512, got {self.key_bits}"),
            (self.randomness in ("short", "full"), f"randomness must be 'short' or 'full', got {self.randomness!r}"),
            (self.min_overlap >= 1, f"min_overlap must be >= 1, got {self.min_overlap}"),
        ]
        for ok, message in checks:
            if not ok:
                raise FTLConfigError(message)

    def agreed(self) -> dict[str, object]:
        """The settings both parties must share (checked in the hello step)."""
        keys = ("dim", "gamma", "max_iter", "batch_size", "precision_bits", "encrypted", "min_overlap", "seed")
        return {key: value for key, value in asdict(self).items() if key in keys}


@dataclass(frozen=True)
class IterationTrace:
    """One party's own values in one iteration (kept only with ``trace=True``).

    Attributes
    ----------
    batch : np.ndarray
        Positions in the sorted overlap.
    representation : np.ndarray
        The party's own ``u_i`` of the batch, (b, d).
    gradient : np.ndarray
        The unmasked gradient it received: ``∂L/∂u_i^B`` (B) or ``∂L/∂u_i^A`` alignment part (A).
    phi : np.ndarray | None
        A only: Φ.
    phi_gradient : np.ndarray | None
        A only: ``∂L/∂Φ`` of the label term.
    labels : np.ndarray | None
        A only: the ±1 labels of the batch.
    """

    batch: np.ndarray
    representation: np.ndarray
    gradient: np.ndarray
    phi: np.ndarray | None = None
    phi_gradient: np.ndarray | None = None
    labels: np.ndarray | None = None


@dataclass(frozen=True)
class PartyOutcome:
    """What one party takes home from a run.

    Attributes
    ----------
    role : str
        "source" or "target".
    overlap : tuple[str, ...]
        The shared IDs found by PSI, sorted.
    iterations : int
    artifact : bytes
        The party's final model share (:func:`fl_node.ftl.network.network_artifact`).
    public_key : bytes
        The party's public key bytes (empty in plaintext mode).
    scores : dict[str, float]
        Target only: the joint prediction ``Φ·u_j^B`` for each predicted ID.
    seconds : dict[str, float]
        Wall-clock seconds per phase ("hello", "psi", "train", "predict").
    trace : tuple[IterationTrace, ...]
    """

    role: str
    overlap: tuple[str, ...]
    iterations: int
    artifact: bytes
    public_key: bytes
    scores: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    trace: tuple[IterationTrace, ...] = ()


@dataclass(frozen=True)
class FTLRun:
    """Both outcomes of an in-process run, and the messages when recorded."""

    source: PartyOutcome
    target: PartyOutcome
    messages: tuple[Message, ...] = ()

    @property
    def bytes_exchanged(self) -> int:
        """Total payload bytes of the recorded messages (0 when not recorded)."""
        return sum(len(m.payload) for m in self.messages)


class _Role:
    """What both roles share: keys, the hello and alignment steps, sealed-message framing."""

    role = ""
    peer = ""

    def __init__(self, data: PartyData, config: FTLConfig, channel: Channel, *, keypair=None) -> None:
        self.data = data
        self.config = config
        self.channel = channel
        self.bits = config.precision_bits
        self.public_key = b""
        if config.encrypted:
            public, private = keypair if keypair is not None else generate_keypair(config.key_bits)
            if public.n.bit_length() != config.key_bits:
                raise FTLConfigError(f"{self.role} key has {public.n.bit_length()} bits, the settings say {config.key_bits}")
            self.public_key = public_key_to_bytes(public)
            self.own: PaillierArithmetic | PlainArithmetic = PaillierArithmetic(
                public.n, private=DecryptionSpec(private.p, private.q), randomness=config.randomness, pool_size=256
            )
        else:
            self.own = PlainArithmetic()
        self.other: PaillierArithmetic | PlainArithmetic | None = None
        self.seconds: dict[str, float] = {}
        self.trace: list[IterationTrace] = []

    # ------------------------------------------------------------------ shared steps

    def _hello(self) -> None:
        start = time.perf_counter()
        header = {"protocol": PROTOCOL, "role": self.role, "settings": self.config.agreed()}
        self.channel.send(self.peer, "ftl/hello", pack(header, self.public_key))
        theirs, blob = unpack(self.channel.recv(self.peer, "ftl/hello"), what=f"hello from {self.peer}")
        if theirs.get("protocol") != PROTOCOL or theirs.get("role") != self.peer:
            raise FTLProtocolError(f"{self.peer} does not speak {PROTOCOL} as the {self.peer} (got {theirs.get('protocol')!r}, {theirs.get('role')!r})")
        mine, other = self.config.agreed(), theirs.get("settings") or {}
        differ = sorted(key for key in mine if other.get(key) != mine[key])
        if differ:
            raise FTLProtocolError(f"{self.role} and {self.peer} settings differ in: {', '.join(differ)}")
        if self.config.encrypted:
            try:
                key = public_key_from_bytes(blob)
            except KeyFormatError as exc:
                raise FTLProtocolError(f"public key from {self.peer} is unusable: {exc}") from exc
            if key.n.bit_length() != self.config.key_bits:
                raise FTLProtocolError(f"{self.peer} key has {key.n.bit_length()} bits, expected {self.config.key_bits}")
            self.other = PaillierArithmetic(key.n, randomness=self.config.randomness, pool_size=_PEER_POOL)
        else:
            self.other = PlainArithmetic()
        self.seconds["hello"] = time.perf_counter() - start

    def _align(self) -> tuple[str, ...]:
        start = time.perf_counter()
        overlap = tuple(EcdhPsi(self.channel, self.peer, tag="ftl/psi").run(self.data.ids))
        if not overlap:
            raise FTLOverlapError(
                f"no overlap: the {SOURCE} and {TARGET} share no sample IDs ({len(self.data.ids)} on the {self.role}); check that both use the same IDs"
            )
        if len(overlap) < self.config.min_overlap:
            raise FTLOverlapError(f"only {len(overlap)} shared sample(s), fewer than the {self.config.min_overlap} required")
        digest = hashlib.sha256("\n".join(overlap).encode()).digest()
        self.channel.send(self.peer, "ftl/overlap", digest)
        if self.channel.recv(self.peer, "ftl/overlap") != digest:
            raise FTLOverlapError(f"the {self.role} and {self.peer} disagree on the shared sample IDs")
        self.seconds["psi"] = time.perf_counter() - start
        return overlap

    def _batches(self, size: int) -> list[np.ndarray]:
        """The same batch sequence on both sides (from the shared seed and overlap size)."""
        step = self.config.batch_size or size
        rng = np.random.default_rng(self.config.seed)
        order: list[np.ndarray] = []
        while len(order) < self.config.max_iter:
            permutation = rng.permutation(size) if step < size else np.arange(size)
            order.extend(np.sort(permutation[i : i + step]) for i in range(0, size, step))
        return order[: self.config.max_iter]

    def _features(self) -> np.ndarray:
        return Standardizer.fit(self.data.features).transform(self.data.features)

    def _send_sealed(self, tag: str, arithmetic, *sealed: Sealed) -> None:
        header = {"arrays": [[list(s.shape), s.bits] for s in sealed]}
        self.channel.send(self.peer, tag, pack(header, b"".join(arithmetic.sealed_to_bytes(s) for s in sealed)))

    def _recv_sealed(self, tag: str, arithmetic, expected: Sequence[tuple[tuple[int, int], int]]) -> list[Sealed]:
        header, blob = unpack(self.channel.recv(self.peer, tag), what=f"{tag} from {self.peer}")
        got = [(tuple(shape), bits) for shape, bits in header.get("arrays", [])]
        if got != [(tuple(shape), bits) for shape, bits in expected]:
            raise FTLProtocolError(f"{tag} from {self.peer} holds arrays {got}, expected {list(expected)}")
        width = arithmetic.cell_bytes
        out, offset = [], 0
        for shape, bits in expected:
            size = shape[0] * shape[1] * width
            out.append(arithmetic.sealed_from_bytes(blob[offset : offset + size], shape, bits, what=f"{tag} from {self.peer}"))
            offset += size
        if offset != len(blob):
            raise FTLProtocolError(f"{tag} from {self.peer} has {len(blob) - offset} trailing bytes")
        return out

    def _exchange_masked(self, tag: str, mine: Sealed, own_term: np.ndarray | None) -> np.ndarray:
        """Send my masked gradient, open the peer's, return mine unmasked."""
        packed, state = self.other.mask(mine, own_term)
        self.channel.send(self.peer, f"{tag}/masked", self.other.packed_to_bytes(packed))
        theirs = self.own.packed_from_bytes(self.channel.recv(self.peer, f"{tag}/masked"), what=f"{tag}/masked from {self.peer}")
        self.channel.send(self.peer, f"{tag}/opened", self.own.opened_to_bytes(self.own.open(theirs)))
        opened = self.other.opened_from_bytes(self.channel.recv(self.peer, f"{tag}/opened"), what=f"{tag}/opened from {self.peer}")
        return self.other.unmask(opened, state)

    def _close(self) -> None:
        self.own.close()
        if self.other is not None:
            self.other.close()


class SourceParty(_Role):
    """Party A: labelled samples, its own features and network; supplies Φ under its key.

    Parameters
    ----------
    data : PartyData
        A's table, with 0/1 labels.
    config : FTLConfig
    channel : Channel
        A's channel; the peer is called "target".
    keypair : (PaillierPublicKey, PaillierPrivateKey) | None (default: a fresh one of ``config.key_bits``)
    """

    role = SOURCE
    peer = TARGET

    def __init__(self, data: PartyData, config: FTLConfig, channel: Channel, *, keypair=None) -> None:
        if data.labels is None:
            raise FTLConfigError("the source party's table has no labels")
        super().__init__(data, config, channel, keypair=keypair)

    def run(self) -> PartyOutcome:
        """Hello, PSI, training, then the prediction step; returns A's outcome."""
        try:
            self._hello()
            overlap = self._align()
            network, phi = self._train(overlap)
            self._serve_prediction(phi)
            artifact = network_artifact(network, {"phi": phi})
            return PartyOutcome(SOURCE, overlap, self.config.max_iter, artifact, self.public_key, seconds=dict(self.seconds), trace=tuple(self.trace))
        finally:
            self._close()

    def _train(self, overlap: tuple[str, ...]) -> tuple[torch.nn.Module, np.ndarray]:
        start = time.perf_counter()
        cfg, f, d = self.config, self.bits, self.config.dim
        X = torch.from_numpy(self._features())
        y = torch.from_numpy(2.0 * self.data.labels - 1.0)
        position = {value: row for row, value in enumerate(self.data.ids)}
        shared_rows = np.array([position[value] for value in overlap])
        network = representation_network(X.shape[1], d, cfg.source_hidden, cfg.seed)
        optimizer = torch.optim.Adam(network.parameters(), lr=cfg.learning_rate, weight_decay=cfg.source_weight_decay)
        for t, batch in enumerate(self._batches(len(overlap))):
            b, rows = len(batch), shared_rows[batch]
            u = network(X)
            phi = (y[:, None] * u).mean(0)
            ub, yb = u[rows], y[rows].numpy()
            phi_np, ub_np = phi.detach().numpy(), ub.detach().numpy()
            a = -0.5 * yb[:, None] * phi_np[None, :] - cfg.gamma * ub_np
            self._send_sealed(f"ftl/{t}/terms", self.own, self.own.seal(a, 2 * f, what="source term a"), self.own.seal(0.25 * np.outer(phi_np, phi_np), f, what="source term Q"))
            u_target, p = self._recv_sealed(f"ftl/{t}/terms", self.other, [((b, d), f), ((d, d), f)])
            h = self.other.add(self.other.matmul(-0.5 * yb[None, :], u_target, f), self.other.matmul(phi_np[None, :], p, f, what="phi"))
            e = self.other.scale(u_target, -cfg.gamma, f)
            own_term = np.vstack([np.zeros((1, d)), cfg.gamma * ub_np])
            values = self._exchange_masked(f"ftl/{t}", _stack(self.other, h, e), own_term) / b
            phi_grad, align_grad = values[0], values[1:]
            surrogate = phi @ torch.from_numpy(phi_grad) + (ub * torch.from_numpy(align_grad)).sum()
            if cfg.source_weight:
                surrogate = surrogate + cfg.source_weight * F.softplus(-y * (u @ phi)).mean()
            optimizer.zero_grad()
            surrogate.backward()
            optimizer.step()
            if cfg.trace:
                self.trace.append(IterationTrace(batch, ub_np, align_grad, phi=phi_np, phi_gradient=phi_grad, labels=yb))
        with torch.no_grad():
            phi = (y[:, None] * network(X)).mean(0).numpy()
        self.seconds["train"] = time.perf_counter() - start
        return network, phi

    def _serve_prediction(self, phi: np.ndarray) -> None:
        start = time.perf_counter()
        self._send_sealed("ftl/predict/phi", self.own, self.own.seal(phi[:, None], self.bits, what="phi"))
        theirs = self.own.packed_from_bytes(self.channel.recv(self.peer, "ftl/predict/masked"), what=f"prediction from {self.peer}")
        self.channel.send(self.peer, "ftl/predict/opened", self.own.opened_to_bytes(self.own.open(theirs)))
        self.seconds["predict"] = time.perf_counter() - start


class TargetParty(_Role):
    """Party B: its own samples and features, no labels; gets scores for the samples A does not hold.

    Parameters
    ----------
    data : PartyData
        B's table (labels, if any, are ignored).
    config : FTLConfig
    channel : Channel
        B's channel; the peer is called "source".
    predict_ids : Sequence[str] | None (default: every sample of B that A does not hold)
        The samples to score jointly after training.
    keypair : (PaillierPublicKey, PaillierPrivateKey) | None (default: a fresh one)
    on_iteration : Callable[[int], None] | None (default: None)
        Called after each iteration with its number (1-based), e.g. for a progress bar.
    """

    role = TARGET
    peer = SOURCE

    def __init__(
        self,
        data: PartyData,
        config: FTLConfig,
        channel: Channel,
        *,
        predict_ids: Sequence[str] | None = None,
        keypair=None,
        on_iteration: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(data, config, channel, keypair=keypair)
        self.predict_ids = None if predict_ids is None else tuple(predict_ids)
        self.on_iteration = on_iteration

    def run(self) -> PartyOutcome:
        """Hello, PSI, training, then the joint prediction; returns B's outcome with its scores."""
        try:
            self._hello()
            overlap = self._align()
            network = self._train(overlap)
            shared = set(overlap)
            ids = self.predict_ids if self.predict_ids is not None else tuple(v for v in self.data.ids if v not in shared)
            scores = self._predict(network, ids)
            return PartyOutcome(
                TARGET, overlap, self.config.max_iter, network_artifact(network), self.public_key, scores=scores, seconds=dict(self.seconds), trace=tuple(self.trace)
            )
        finally:
            self._close()

    def _train(self, overlap: tuple[str, ...]) -> torch.nn.Module:
        start = time.perf_counter()
        cfg, f, d = self.config, self.bits, self.config.dim
        self._standardizer = Standardizer.fit(self.data.features)
        X_shared = torch.from_numpy(self._standardizer.transform(self.data.select(overlap)[0]))
        network = representation_network(X_shared.shape[1], d, cfg.target_hidden, cfg.seed + 1)
        optimizer = torch.optim.Adam(network.parameters(), lr=cfg.learning_rate, weight_decay=cfg.target_weight_decay)
        for t, batch in enumerate(self._batches(len(overlap))):
            b = len(batch)
            ub = network(X_shared[batch])
            ub_np = ub.detach().numpy()
            self._send_sealed(f"ftl/{t}/terms", self.own, self.own.seal(ub_np, f, what="target representation"), self.own.seal(0.25 * ub_np.T @ ub_np, f, what="target term P"))
            a, q = self._recv_sealed(f"ftl/{t}/terms", self.other, [((b, d), 2 * f), ((d, d), f)])
            g = self.other.add(self.other.matmul(ub_np, q, f, what="target representation"), a)
            gradient = self._exchange_masked(f"ftl/{t}", g, cfg.gamma * ub_np) / b
            optimizer.zero_grad()
            (ub * torch.from_numpy(gradient)).sum().backward()
            optimizer.step()
            if cfg.trace:
                self.trace.append(IterationTrace(batch, ub_np, gradient))
            if self.on_iteration is not None:
                self.on_iteration(t + 1)
        self.seconds["train"] = time.perf_counter() - start
        return network

    def _predict(self, network: torch.nn.Module, ids: tuple[str, ...]) -> dict[str, float]:
        start = time.perf_counter()
        (phi,) = self._recv_sealed("ftl/predict/phi", self.other, [((self.config.dim, 1), self.bits)])
        if not ids:
            raise FTLConfigError("the target has no samples to predict (every sample is shared)")
        with torch.no_grad():
            u = network(torch.from_numpy(self._standardizer.transform(self.data.select(ids)[0]))).numpy()
        packed, state = self.other.mask(self.other.matmul(u, phi, self.bits, what="target representation"))
        self.channel.send(self.peer, "ftl/predict/masked", self.other.packed_to_bytes(packed))
        opened = self.other.opened_from_bytes(self.channel.recv(self.peer, "ftl/predict/opened"), what=f"opened scores from {self.peer}")
        scores = self.other.unmask(opened, state).ravel()
        self.seconds["predict"] = time.perf_counter() - start
        return dict(zip(ids, scores.tolist()))


def run_ftl(
    source: PartyData,
    target: PartyData,
    config: FTLConfig,
    *,
    predict_ids: Sequence[str] | None = None,
    record: bool = False,
    on_iteration: Callable[[int], None] | None = None,
) -> FTLRun:
    """Run both roles in threads of this process over a :class:`~fl_node.twoparty.channel.LocalHub`.

    Parameters
    ----------
    source, target : PartyData
        A's table (with labels) and B's table.
    config : FTLConfig
    predict_ids : Sequence[str] | None (default: B's samples that A does not hold)
    record : bool (default: False)
        Keep every message in :attr:`FTLRun.messages`.
    on_iteration : Callable[[int], None] | None (default: None)
        Progress callback (B's iterations).

    Raises
    ------
    FTLError
        The first failure of either party (the other is woken and stopped).
    """
    hub = LocalHub([SOURCE, TARGET], record=record)
    roles = [
        SourceParty(source, config, hub.channel(SOURCE)),
        TargetParty(target, config, hub.channel(TARGET), predict_ids=predict_ids, on_iteration=on_iteration),
    ]
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # two parties' small matrices: torch's intra-op threads would only contend
    try:
        results = run_threads({role.role: _OnOwnChannel(role) for role in roles}, hub=hub)
    except FlNodeError:
        raise
    except Exception as exc:
        raise FTLProtocolError(f"FTL run failed: {type(exc).__name__}: {exc}") from exc
    finally:
        torch.set_num_threads(previous)
    return FTLRun(results[SOURCE], results[TARGET], tuple(hub.messages))


class _OnOwnChannel:
    """An FTL role (built on its channel) as a party of :func:`~fl_node.twoparty.runner.run_threads`."""

    def __init__(self, party: _Role) -> None:
        self.party = party
        self.role = party.role

    def run(self, channel: Channel, progress: object = None) -> PartyOutcome:
        return self.party.run()


def _stack(arithmetic, first: Sealed, second: Sealed) -> Sealed:
    """Rows of ``first`` then ``second`` (same width and scale) as one sealed matrix."""
    if first.shape[1] != second.shape[1] or first.bits != second.bits:
        raise FTLProtocolError("cannot stack sealed matrices of different widths or scales")
    if isinstance(arithmetic, PlainArithmetic):
        cells = np.concatenate([np.asarray(first.cells), np.asarray(second.cells)])
    else:
        cells = list(first.cells) + list(second.cells)
    return Sealed(cells, (first.shape[0] + second.shape[0], first.shape[1]), first.bits)
