"""How a round's updates are encoded: plaintext or Paillier (packed codec), public and private halves.

The public half (:class:`PlainUpdates`, :class:`EncryptedUpdates`) is what participants and the
aggregator get; the private half (:class:`PlainSums`, :class:`EncryptedSums`) only the key holder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from phe import PaillierPrivateKey, PaillierPublicKey

from fl_node.crypto.codec import CodecConfig, EncryptedUpdate, PackedCodec, PackedDecryptor
from fl_node.crypto.knowledge import ProofStatement, prove_update, verify_update
from fl_node.errors import UpdateFormatError


class PublicScheme(Protocol):
    """The public half of an update scheme: what participants and the aggregator may use."""

    encrypted: bool
    n_params: int
    clip: float

    def encode(self, values: np.ndarray, rng: np.random.Generator) -> bytes: ...

    def encode_proved(self, values: np.ndarray, rng: np.random.Generator, context: bytes) -> tuple[bytes, bytes]: ...

    def parse(self, blob: bytes) -> Any: ...

    def check_proof(self, update: Any, proof: bytes, context: bytes) -> None: ...

    def add(self, updates: Sequence[Any]) -> Any: ...

    def error_bound(self, n_included: int) -> float: ...


class SumDecoder(Protocol):
    """The private half: turns a sum of updates back into floats (only the key holder has it)."""

    def decode(self, summed: Any) -> np.ndarray: ...


@dataclass(frozen=True)
class PlainUpdates:
    """Plaintext updates (``--no-encrypt``): a blob is the float32 little-endian vector.

    Attributes
    ----------
    n_params : int
    clip : float (default: 1.0)
    """

    n_params: int
    clip: float = 1.0
    encrypted: bool = field(default=False, init=False)

    def encode(self, values: np.ndarray, rng: np.random.Generator) -> bytes:
        return np.ascontiguousarray(values, dtype="<f4").tobytes()

    def encode_proved(self, values: np.ndarray, rng: np.random.Generator, context: bytes) -> tuple[bytes, bytes]:
        """The encoded values and an empty proof: plaintext values are visible, a copy cannot be told apart."""
        return self.encode(values, rng), b""

    def check_proof(self, update: np.ndarray, proof: bytes, context: bytes) -> None:
        """Plaintext updates carry no proof; a non-empty one is refused."""
        if proof:
            raise UpdateFormatError("a plaintext update carries no proof")

    def parse(self, blob: bytes) -> np.ndarray:
        """The vector as float64; a wrong length or a non-finite value raises UpdateFormatError."""
        if len(blob) != 4 * self.n_params:
            raise UpdateFormatError(f"plaintext update has {len(blob)} bytes, expected {4 * self.n_params}")
        values = np.frombuffer(blob, dtype="<f4").astype(np.float64)
        if not np.all(np.isfinite(values)):
            raise UpdateFormatError("plaintext update holds non-finite values")
        if np.any(np.abs(values) > float(np.float32(self.clip))):
            raise UpdateFormatError(f"plaintext update holds values beyond the clip bound {self.clip:g}")
        return values

    def add(self, updates: Sequence[np.ndarray]) -> np.ndarray:
        return np.sum(updates, axis=0)

    def error_bound(self, n_included: int) -> float:
        """Float32 rounding of each submitted value: half an ulp at ``clip``."""
        return n_included * float(np.spacing(np.float32(self.clip))) / 2


@dataclass(frozen=True)
class PlainSums:
    """Decoder of plaintext sums: they are already floats."""

    def decode(self, summed: np.ndarray) -> np.ndarray:
        return np.asarray(summed, dtype=np.float64).copy()


class EncryptedUpdates:
    """Paillier updates through the packed codec; holds the public key only.

    Parameters
    ----------
    public_key : PaillierPublicKey
        A private key is refused (TypeError): this object is what the aggregator gets.
    n_params : int
    config : CodecConfig (default: CodecConfig())
    """

    encrypted = True

    def __init__(self, public_key: PaillierPublicKey, n_params: int, config: CodecConfig | None = None) -> None:
        if not isinstance(public_key, PaillierPublicKey):
            raise TypeError(f"EncryptedUpdates takes a Paillier public key, not {type(public_key).__name__}")
        self.public_key = public_key
        self.n_params = n_params
        self.config = config or CodecConfig()
        self.codec = PackedCodec(public_key, self.config)

    @property
    def clip(self) -> float:
        return self.config.clip

    def encode(self, values: np.ndarray, rng: np.random.Generator) -> bytes:
        return self.codec.encrypt(np.asarray(values, dtype=np.float64), rng=rng).to_bytes()

    def encode_proved(self, values: np.ndarray, rng: np.random.Generator, context: bytes) -> tuple[bytes, bytes]:
        """The encrypted update and its plaintext-knowledge proof bound to ``context`` (the blob header)."""
        update, witness = self.codec.encrypt_witnessed(np.asarray(values, dtype=np.float64), rng=rng)
        return update.to_bytes(), prove_update(self._statement(context), update, witness)

    def check_proof(self, update: EncryptedUpdate, proof: bytes, context: bytes) -> None:
        """Verify the update's plaintext-knowledge proof under ``context`` (CiphertextFormatError if not)."""
        verify_update(self._statement(context), update.ciphertexts, proof)

    def _statement(self, context: bytes) -> ProofStatement:
        return ProofStatement(self.public_key.n, self.config.degree, context)

    def parse(self, blob: bytes) -> EncryptedUpdate:
        """Parse a blob (CiphertextFormatError when malformed or under another key) and check its length."""
        update = EncryptedUpdate.from_bytes(blob, self.public_key)
        if update.length != self.n_params:
            raise UpdateFormatError(f"encrypted update holds {update.length} values, expected {self.n_params}")
        if update.count != 1:
            raise UpdateFormatError(f"a participant's update must be a single update, this one claims a sum of {update.count}")
        layout = self.codec.layout
        made_with = (update.bits, update.clip, update.slot_bits, update.slots)
        if made_with != (self.config.bits, float(self.config.clip), layout.slot_bits, layout.slots):
            raise UpdateFormatError(
                f"encrypted update made with codec (bits, clip, slot_bits, slots) = {made_with}, the round uses "
                f"{(self.config.bits, float(self.config.clip), layout.slot_bits, layout.slots)}"
            )
        return update

    def add(self, updates: Sequence[EncryptedUpdate]) -> EncryptedUpdate:
        return self.codec.aggregate(list(updates))

    def error_bound(self, n_included: int) -> float:
        """Stochastic rounding moves each value by less than one quantization step."""
        return n_included * self.codec.quantization_step


class EncryptedSums:
    """Decoder of encrypted sums: holds the private key (the key holder's)."""

    def __init__(self, private_key: PaillierPrivateKey, config: CodecConfig | None = None) -> None:
        self.decryptor = PackedDecryptor(private_key, config or CodecConfig())

    def decode(self, summed: EncryptedUpdate) -> np.ndarray:
        return self.decryptor.decrypt_sum(summed)
