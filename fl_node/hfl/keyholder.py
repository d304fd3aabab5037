"""The key holder: checks each participant's update, decrypts sums and applies weighted FedAvg.

Before any sum is formed, the key holder decrypts each participant's own update (the singleton
coalition, which the scorers evaluate anyway) and checks it against the codec's slots
(:meth:`KeyHolder.check_updates`): an update whose plaintext has bits outside its slots or a slot
above 2Q was not made by the codec (e.g. a value subtracted mod n, which would pass in a sum and
move the model by up to K·clip, or a bit above the slots, which would break every sum containing
it), so it is excluded by name. The key holder therefore sees every individual update in the clear
(see docs/threat-model.md); it is the aggregator that never does.

Two custodies behind one interface (:meth:`KeyHolder.decrypt`, :meth:`KeyHolder.new_global`):
:class:`KeyHolder` holds the decoder (the whole private key); :class:`ThresholdKeyHolder` holds
no key at all and asks t of N key custodians for partial decryptions
(:mod:`fl_node.crypto.threshold`), so that any t answering custodians suffice. A custodian
given a :class:`~fl_node.hfl.decryptions.LedgerGate` answers only sums on the ledger's
decryption record for an open round. Sums known ahead are opened together
(:meth:`KeyHolder.prefetch`): one request per custodian for the whole batch, which matters when
each request is a message to another institution's node.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from phe import PaillierPublicKey

from fl_node.crypto.codec import CodecConfig
from fl_node.crypto.threshold import Custodian, KeyShare, PartialDecryption, ThresholdCombiner, ThresholdPublicKey, verify_partial
from fl_node.errors import CodecError, CustodianUnavailable, DecryptionRefused, FlNodeError, ThresholdDecryptionError
from fl_node.hfl.aggregator import SummedUpdate, VerifiedRound
from fl_node.hfl.decryptions import DecryptionRequest, LedgerGate, sum_hash
from fl_node.hfl.schemes import PublicScheme, SumDecoder


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpdateCheck:
    """What :meth:`KeyHolder.check_updates` found in a round's verified updates.

    Attributes
    ----------
    singletons : dict[str, np.ndarray]
        Each valid participant's own decrypted weighted delta (``w_k * delta_k``), by id.
    invalid : dict[str, str]
        Why each invalid participant's update was refused, by id.
    """

    singletons: dict[str, np.ndarray]
    invalid: dict[str, str]


class KeyHolder:
    """Holds the decoder (the private key); checks each update, decrypts sums and applies weighted FedAvg.

    Parameters
    ----------
    decoder : SumDecoder
        :class:`EncryptedSums` (private key) or :class:`PlainSums`.
    """

    def __init__(self, decoder: SumDecoder) -> None:
        self.decoder = decoder

    def decrypt(self, summed: SummedUpdate) -> np.ndarray:
        """``sum(w_k * delta_k)`` over the summed participants, float64."""
        return self.decoder.decode(summed.payload)

    def prefetch(self, summed: Sequence[SummedUpdate]) -> None:
        """Open ``summed`` ahead of :meth:`decrypt` (they must be on the decryption record already); nothing to do with the whole key."""

    def new_global(self, global_params: np.ndarray, summed: SummedUpdate, weight: float | None = None) -> np.ndarray:
        """``global + sum(w_k * delta_k) / weight``: by default ``weight = sum(w_k)``, the sample-weighted FedAvg of the summed participants."""
        return fedavg_step(global_params, self.decrypt(summed), summed.weight if weight is None else weight)

    def check_updates(self, verified: VerifiedRound, before_decrypt: Callable[[SummedUpdate], None] | None = None) -> UpdateCheck:
        """Decrypt each verified participant's own update and check it against the codec's slots.

        Each participant is decrypted alone, so no sum with an invalid update is ever formed; the
        decoder's range check (:func:`fl_node.crypto.codec.decode_plaintexts`) is what a
        singleton must pass. ``before_decrypt`` sees each singleton sum before it is opened (the
        ledger's decryption record). A failure that is not the update's (e.g. custodians not
        answering) propagates.
        """
        singletons: dict[str, np.ndarray] = {}
        invalid: dict[str, str] = {}
        sums = {pid: verified.sum([pid]) for pid in verified.participant_ids}
        if before_decrypt is not None:
            for summed in sums.values():
                before_decrypt(summed)
        self.prefetch(list(sums.values()))
        for pid, summed in sums.items():
            try:
                singletons[pid] = self.decrypt(summed)
            except CodecError as exc:
                invalid[pid] = f"invalid update: {exc}"
        return UpdateCheck(singletons, invalid)


def fedavg_step(global_params: np.ndarray, decrypted: np.ndarray, weight: float) -> np.ndarray:
    """``global + decrypted / weight`` as float32: the FedAvg model of a decrypted weighted sum."""
    if weight <= 0:
        raise FlNodeError("cannot average a sum with no weight")
    return (np.asarray(global_params, dtype=np.float64) + decrypted / weight).astype(np.float32)


class CustodianEndpoint(Protocol):
    """A key custodian as the threshold key holder sees it (in process, or a client of a remote one)."""

    index: int

    def answer(self, request: DecryptionRequest) -> PartialDecryption: ...

    def answer_all(self, requests: Sequence[DecryptionRequest]) -> list[PartialDecryption]:
        """One partial decryption per request, in order; refuses (or is unavailable for) the batch as a whole."""
        ...


class LocalCustodian:
    """A custodian endpoint in this process: one share, and optionally the ledger check it applies first.

    Parameters
    ----------
    share : KeyShare
    config : CodecConfig
    gate : LedgerGate | None (default: None)
        Without it every request is answered (replays by whoever holds all shares' consent).
    """

    def __init__(self, share: KeyShare, config: CodecConfig, gate: LedgerGate | None = None) -> None:
        self.index = share.index
        self.gate = gate
        self._custodian = Custodian(share, config)

    def answer(self, request: DecryptionRequest) -> PartialDecryption:
        """Partial decryption of ``request.update``.

        Raises
        ------
        DecryptionRefused
            The gate finds the request off the ledger's record.
        """
        if self.gate is not None:
            self.gate.check(request)
        return self._custodian.partial_decrypt(request.update)

    def answer_all(self, requests: Sequence[DecryptionRequest]) -> list[PartialDecryption]:
        """:meth:`answer` for each request; every one is checked before any is answered."""
        if self.gate is not None:
            for request in requests:
                self.gate.check(request)
        return [self._custodian.partial_decrypt(request.update) for request in requests]


class ThresholdKeyHolder(KeyHolder):
    """Decrypts sums with t of N custodians' partial decryptions; holds only public values.

    Custodians are asked in order (those that did not answer the previous request last) until
    t have answered; a custodian that raises
    :class:`CustodianUnavailable` counts as missing, one that refuses
    (:class:`DecryptionRefused`) as refusing, one whose answer fails its proof is
    rejected (logged, and kept in :attr:`rejected`) and the next one is asked.

    Parameters
    ----------
    public : ThresholdPublicKey
    config : CodecConfig
        The round's codec config.
    custodians : Sequence[CustodianEndpoint]
    names : Mapping[int, str] | None (default: None)
        Custodian index → name used in errors (default ``custodian-<index>``); read when an error
        is raised, so a custody that finds custodians during the run can name them.
    """

    def __init__(self, public: ThresholdPublicKey, config: CodecConfig, custodians: Sequence[CustodianEndpoint], names: Mapping[int, str] | None = None) -> None:
        self.combiner = ThresholdCombiner(public, config)
        self.custodians = list(custodians)
        self.names: Mapping[int, str] = names if names is not None else {}
        self.rejected: dict[int, str] = {}
        self._opened: dict[bytes, np.ndarray | CodecError] = {}
        self._silent: set[int] = set()

    def decrypt(self, summed: SummedUpdate) -> np.ndarray:
        """``sum(w_k * delta_k)`` over the summed participants, float64, from t custodians' answers.

        Raises
        ------
        ThresholdDecryptionError
            Fewer than t custodians answered correctly; the message names the missing and rejected ones.
        CodecError
            The sum decodes outside the codec's slots.
        """
        digest = sum_hash(summed.payload)
        if digest not in self._opened:
            self.prefetch([summed])
        opened = self._opened.pop(digest)
        if isinstance(opened, CodecError):
            raise opened
        return opened.astype(np.float64) / self.combiner.config.scale

    def prefetch(self, summed: Sequence[SummedUpdate]) -> None:
        """Ask custodians in order, each once for the whole batch, until t answered every sum correctly; keep the plaintexts for :meth:`decrypt`.

        Raises
        ------
        ThresholdDecryptionError
            As :meth:`decrypt`.
        """
        todo = {sum_hash(s.payload): s for s in summed if sum_hash(s.payload) not in self._opened}
        if not todo:
            return
        requests = [DecryptionRequest(s.round_id, s.participant_ids, s.payload) for s in todo.values()]
        partials = self._ask(requests)
        for (digest, s), valid in zip(todo.items(), partials):
            try:
                self._opened[digest] = self.combiner.decrypt_ints(s.payload, valid, verified=True).sums
            except CodecError as exc:  # raised by decrypt(), where the caller tells an invalid update apart
                self._opened[digest] = exc

    def _ask(self, requests: Sequence[DecryptionRequest]) -> list[list[PartialDecryption]]:
        """t verified partial decryptions per request, from the first t custodians that answer the whole batch correctly."""
        public = self.combiner.public
        valid: list[list[PartialDecryption]] = [[] for _ in requests]
        answered = 0
        missing: list[int] = []
        refused: dict[int, str] = {}
        rejected: dict[int, str] = {}
        # custodians that did not answer last time are asked last (a dead node costs its timeout once)
        for custodian in sorted(self.custodians, key=lambda c: c.index in self._silent):
            if answered >= public.threshold:
                break
            try:
                answers = custodian.answer_all(requests)
                self._silent.discard(custodian.index)
            except CustodianUnavailable as exc:
                log.warning("custodian %s did not answer: %s", self._name(custodian.index), exc)
                missing.append(custodian.index)
                self._silent.add(custodian.index)
                continue
            except DecryptionRefused as exc:
                log.warning("custodian %s refused: %s", self._name(custodian.index), exc)
                refused[custodian.index] = str(exc)
                continue
            if (reason := _wrong_answers(public, custodian.index, requests, answers)) is not None:
                rejected[custodian.index] = reason
                continue
            for slot, answer in zip(valid, answers):
                slot.append(answer)
            answered += 1
        self._record(rejected)
        if answered < public.threshold:
            raise ThresholdDecryptionError(
                f"{answered} of the {public.threshold} custodians needed answered correctly; "
                f"missing: {', '.join(self._name(i) for i in sorted(missing)) or 'none'}; "
                + (f"refused: {', '.join(f'{self._name(i)} ({why})' for i, why in sorted(refused.items()))}; " if refused else "")
                + f"rejected: {', '.join(f'{self._name(i)} ({why})' for i, why in sorted(rejected.items())) or 'none'}",
                missing=tuple(sorted(missing)), rejected=tuple(sorted(rejected)),
            )
        return valid

    def _record(self, rejected: Mapping[int, str]) -> None:
        for index, why in rejected.items():
            log.warning("custodian %s sent a wrong partial decryption: %s", self._name(index), why)
            self.rejected[index] = why

    def _name(self, index: int) -> str:
        return self.names.get(index, f"custodian-{index}")


class Custody(ABC):
    """Threshold key custody in place of a private key: a public key, and custodians to ask for partial decryptions."""

    @property
    @abstractmethod
    def public(self) -> ThresholdPublicKey: ...

    @property
    def public_key(self) -> PaillierPublicKey:
        """The Paillier public key participants encrypt under."""
        return self.public.public_key

    @abstractmethod
    def key_holder(self, config: CodecConfig) -> ThresholdKeyHolder:
        """A :class:`ThresholdKeyHolder` asking these custodians, for the round codec ``config``."""


@dataclass(frozen=True)
class ThresholdCustody(Custody):
    """A federation's threshold key material in place of a private key: custodians in this process.

    Each custodian holds one share (:class:`fl_node.crypto.threshold.Custodian`), as a node
    would beside its worker; ``offline`` custodians do not answer (dropouts).

    Attributes
    ----------
    shares : tuple[KeyShare, ...]
    names : Mapping[int, str]
        Custodian index → name in errors.
    offline : frozenset[int] (default: none)
    gate : LedgerGate | None (default: None)
        The ledger check every custodian applies before answering.
    """

    shares: tuple[KeyShare, ...]
    names: Mapping[int, str] = field(default_factory=dict)
    offline: frozenset[int] = frozenset()
    gate: LedgerGate | None = None

    @property
    def public(self) -> ThresholdPublicKey:
        return self.shares[0].public

    def key_holder(self, config: CodecConfig) -> ThresholdKeyHolder:
        custodians: list[CustodianEndpoint] = [
            _Unavailable(share.index) if share.index in self.offline else LocalCustodian(share, config, self.gate)
            for share in self.shares
        ]
        return ThresholdKeyHolder(self.public, config, custodians, self.names)


@dataclass(frozen=True)
class _Unavailable:
    index: int

    def answer(self, request: DecryptionRequest) -> PartialDecryption:
        raise CustodianUnavailable(f"custodian {self.index} is offline")

    def answer_all(self, requests: Sequence[DecryptionRequest]) -> list[PartialDecryption]:
        raise CustodianUnavailable(f"custodian {self.index} is offline")


def _wrong_answers(public: ThresholdPublicKey, index: int, requests: Sequence[DecryptionRequest], answers: Sequence[PartialDecryption]) -> str | None:
    """Why custodian ``index``'s answers to ``requests`` are not all valid partial decryptions (None when they are)."""
    if len(answers) != len(requests):
        return f"answered {len(answers)} of {len(requests)} requests"
    for request, answer in zip(requests, answers):
        if answer.index != index:
            return f"answered as custodian {answer.index}"
        if (reason := verify_partial(public, request.update.ciphertexts, answer)) is not None:
            return reason
    return None


def round_error_bound(scheme: PublicScheme, summed: SummedUpdate) -> float:
    """Largest per-parameter difference between this round's new global vector and the exact one.

    ``K * q / sum(w_k)`` for K summed participants and quantization step ``q`` (float32
    rounding for plaintext rounds), given the same clipped inputs.
    """
    return scheme.error_bound(len(summed.participant_ids)) / summed.weight
