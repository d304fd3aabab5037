"""Key custodians beside ``fedledger node join``: each node's share stays in its own process, the coordinator asks over Flower.

Under threshold custody every member node that holds a key share (``node join --key-share``)
is one custodian. Its share is opened in the node's long-lived process, next to its Ethereum
key (:mod:`fl_node.transport.worker`), and never leaves it. The coordinator's threshold key
holder reaches it with a Flower ``query.decrypt`` message (:class:`FlowerCustodian`): a batch of
decryption requests, each an encrypted sum with its round and coalition, plus the task's spec
and the coalitions' committed blobs. The node answers (:class:`NodeCustodian`) only when every
request passes the ledger check of :class:`~fl_node.hfl.decryptions.LedgerGate`: the round is
an open round of the task, the sum's hash is on the decryption record for exactly that
coalition, and the sum is the product of the blobs whose hashes the participants committed
(the blobs come with the request; the node checks them against the commitments on chain).

The coordinator learns who holds which share from the nodes' ``query`` info: the nodes
connected at the start, and, whenever a decryption needs a share no node has announced, the
nodes connected since (:class:`CustodianDirectory`): a custodian may connect after the run
started. A custodian whose node is not connected, or that does not answer in time, is missing;
a refusal is reported as the node's; any t answers decrypt
(:class:`~fl_node.hfl.keyholder.ThresholdKeyHolder`).

Wire format
    Request ConfigRecord ``decrypt``: ``task`` (int), ``requests`` (JSON list of
    ``{"round", "participants"}``), ``spec`` (bytes), ``sums`` (list of bytes, one per request),
    ``blobs`` (list of bytes: the committed blobs the requests' coalitions need).
    Reply ConfigRecord ``partials``: ``ok``, then ``partials`` (JSON list, one per request, as
    :func:`~fl_node.crypto.threshold.partial_to_json`) or ``error``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_hash.auto import keccak
from flwr.app import ConfigRecord, Message, RecordDict
from flwr.serverapp import Grid

from fl_node.artifacts import ArtifactStore
from fl_node.crypto.codec import CodecConfig, EncryptedUpdate
from fl_node.crypto.threshold import KeyShare, PartialDecryption, ThresholdPublicKey, partial_from_json, partial_to_json
from fl_node.errors import ArtifactError, CryptoError, CustodianUnavailable, DecryptionRefused
from fl_node.hfl.decryptions import DecryptionRequest, LedgerGate
from fl_node.hfl.keyholder import Custody, CustodianEndpoint, LocalCustodian, ThresholdKeyHolder
from fl_node.hfl.spec import FederationSpec
from incentive.ledger import LedgerClient, to_bytes32

log = logging.getLogger(__name__)

#: Flower message type of a partial-decryption request (the ClientApp's ``query("decrypt")``).
DECRYPT_MESSAGE = "query.decrypt"
#: Info keys a custodian node adds to its ``query`` answer.
INDEX_KEY, FINGERPRINT_KEY = "custodian-index", "custodian-key"


# ---------------------------------------------------------------- the node's side


class _Blobs:
    """The committed blobs that came with a request, by keccak256 (the store a node's :class:`LedgerGate` reads)."""

    def __init__(self, blobs: Sequence[bytes]) -> None:
        self._by_hash = {keccak(blob): blob for blob in blobs}

    def get(self, digest: bytes) -> bytes:
        try:
            return self._by_hash[bytes(digest)]
        except KeyError:
            raise ArtifactError(f"the committed blob 0x{bytes(digest).hex()} did not come with the request") from None


@dataclass
class NodeCustodian:
    """A node's key custodian: one share, opened in the node's process, answering only what the ledger records.

    Attributes
    ----------
    share : KeyShare
    ledger : LedgerClient
        The node's own connection to the chain (the gate reads rounds, commitments and the record from it).
    """

    share: KeyShare
    ledger: LedgerClient

    @property
    def public(self) -> ThresholdPublicKey:
        return self.share.public

    def info(self) -> dict[str, Any]:
        """What the coordinator needs to ask this custodian: its index and its key's fingerprint."""
        return {INDEX_KEY: self.share.index, FINGERPRINT_KEY: self.public.fingerprint.hex()}

    def answer(self, task_id: int, spec: FederationSpec, requests: Sequence[Mapping[str, Any]], sums: Sequence[bytes], blobs: Sequence[bytes]) -> list[PartialDecryption]:
        """Partial decryptions of ``sums`` after checking every request against the ledger.

        Raises
        ------
        DecryptionRefused
            A request off the record, of another task, under another key, or not built from the
            committed blobs (named).
        """
        if not spec.encrypt or spec.paillier_public_key().n != self.public.n:
            raise DecryptionRefused(f"task {task_id} is not encrypted under this custodian's key {self.public.fingerprint.hex()[:16]}")
        if len(requests) != len(sums):
            raise DecryptionRefused(f"{len(requests)} requests came with {len(sums)} sums")
        for round_id in {int(r["round"]) for r in requests}:
            if self.ledger.round(round_id).task_id != task_id:
                raise DecryptionRefused(f"round {round_id} is not a round of task {task_id}")
        scheme = spec.scheme()
        try:
            batch = [
                DecryptionRequest(int(r["round"]), tuple(str(p) for p in r["participants"]), EncryptedUpdate.from_bytes(s, self.public.public_key))
                for r, s in zip(requests, sums)
            ]
        except (CryptoError, KeyError, TypeError, ValueError) as exc:
            raise DecryptionRefused(f"malformed request: {exc}") from exc
        custodian = LocalCustodian(self.share, spec.codec, LedgerGate(self.ledger, _Blobs(blobs), scheme))
        return custodian.answer_all(batch)


# ---------------------------------------------------------------- the coordinator's side


@dataclass
class CommittedBlobs:
    """The coordinator's copies of the blobs participants committed, by round and account (sent along with requests)."""

    ledger: LedgerClient
    store: ArtifactStore
    _commitments: dict[int, dict[str, bytes]] = field(default_factory=dict)

    def blobs(self, requests: Sequence[DecryptionRequest]) -> list[bytes]:
        """The committed blob of every participant named in ``requests``, each once."""
        out: dict[bytes, bytes] = {}
        for request in requests:
            rid = int(request.round_id or 0)
            known = self._commitments.get(rid)
            if known is None or any(pid not in known for pid in request.participant_ids):
                known = {p.account: to_bytes32(p.commitment) for p in self.ledger.participants(rid)}
                self._commitments[rid] = known
            for pid in request.participant_ids:
                digest = known.get(pid)
                if digest is not None and digest not in out:
                    out[digest] = self.store.get(digest)
        return list(out.values())


@dataclass
class CustodianDirectory:
    """Which member node holds which custodian share of ``key``, as the nodes announce it, kept up to date during the run.

    The nodes connected when the run starts are read first (:meth:`add`). A share that no
    node has announced is looked for again whenever a decryption needs it (:meth:`holder`):
    the nodes connected now that hold no known share are asked for their info (at most once
    per ``rediscover_s``), so a custodian whose node connects after the run started is found
    and asked like the others. A share's first claimant keeps it (a node announcing a share
    it does not hold cannot answer for it: its partial decryptions fail verification).

    Attributes
    ----------
    key : ThresholdPublicKey
    grid : Grid
    ask_infos : Callable[[list[int]], Mapping[int, Mapping[str, Any]]]
        Node ids → each answering node's ``query`` info (``address``, ``name``, the share it holds).
    node_of : Callable[[str], int | None]
        The SuperNode id of a member's node now, as the transport identified it (None when unknown).
    rediscover_s : float (default: 5.0)
    holders : dict[int, str]
        Custodian index → the address of the member holding it.
    names : dict[int, str]
        Custodian index → the holding member's name, for errors.
    """

    key: ThresholdPublicKey
    grid: Grid
    ask_infos: Callable[[list[int]], Mapping[int, Mapping[str, Any]]]
    node_of: Callable[[str], int | None]
    rediscover_s: float = 5.0
    holders: dict[int, str] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    _answered_from: dict[str, int] = field(default_factory=dict, repr=False)
    _asked_at: float = field(default=float("-inf"), repr=False)

    def add(self, infos: Mapping[int, Mapping[str, Any]]) -> list[int]:
        """Record the shares announced in ``infos`` (node id → info); the indices newly held."""
        found = []
        for node_id, info in infos.items():
            index, fingerprint, address = info.get(INDEX_KEY), info.get(FINGERPRINT_KEY), str(info.get("address"))
            if index is None:
                continue
            if fingerprint != self.key.fingerprint.hex() or not isinstance(index, int) or not 1 <= index <= self.key.custodians:
                log.warning("%s announces custodian share %s of key %s, not one of this task's key: ignored", address, index, str(fingerprint)[:16])
                continue
            holder = self.holders.setdefault(index, address)
            if holder != address:
                log.warning("%s announces custodian share %d, already held by %s: ignored", address, index, holder)
                continue
            self._answered_from[address] = int(node_id)
            if index not in self.names:
                self.names[index] = str(info.get("name") or address)
                found.append(index)
        return found

    def holder(self, index: int) -> str | None:
        """The address of the member holding share ``index``; looks among the nodes connected now when none is known."""
        if index not in self.holders and time.monotonic() - self._asked_at >= self.rediscover_s:
            self.rediscover()
        return self.holders.get(index)

    def rediscover(self) -> None:
        """Ask the connected nodes that hold no known share for their info, and record the shares they announce."""
        known = {self._answered_from.get(a) for a in self.holders.values()} | {self.node_of(a) for a in self.holders.values()}
        others = sorted(nid for nid in self.grid.get_node_ids() if nid not in known)
        if others:
            for index in self.add(self.ask_infos(others)):
                log.info("key custodian %d: %s connected after the run started; it will be asked", index, self.names[index])
        self._asked_at = time.monotonic()

    def node_id(self, address: str) -> int | None:
        """The connected SuperNode of ``address``: the transport's identification, else the node that announced the share."""
        live = set(self.grid.get_node_ids())
        for node_id in (self.node_of(address), self._answered_from.get(address)):
            if node_id is not None and node_id in live:
                return node_id
        return None

    def describe(self) -> str:
        """Custodian index → holder, one line."""
        return ", ".join(f"{i}: {self.names.get(i, 'not held')}" for i in range(1, self.key.custodians + 1))


@dataclass
class FlowerCustodian:
    """Custodian ``index``, asked through the SuperNode of the member that holds it (looked up in ``directory`` at each request).

    Attributes
    ----------
    index : int
    directory : CustodianDirectory
        Which node holds the share, and the Grid the request goes through.
    task_id : int
    spec_bytes : bytes
    blobs : CommittedBlobs
    timeout_s : float (default: 120.0)
    poll_s : float (default: 0.1)
        How often the reply is pulled (and the node's connection checked).
    """

    index: int
    directory: CustodianDirectory
    task_id: int
    spec_bytes: bytes
    blobs: CommittedBlobs
    timeout_s: float = 120.0
    poll_s: float = 0.1

    def answer(self, request: DecryptionRequest) -> PartialDecryption:
        return self.answer_all([request])[0]

    def answer_all(self, requests: Sequence[DecryptionRequest]) -> list[PartialDecryption]:
        """One ``query.decrypt`` message with the whole batch.

        Raises
        ------
        CustodianUnavailable
            No connected node announced the share, the holder's node is not connected, its reply
            is a Flower error, or none came within ``timeout_s``.
        DecryptionRefused
            The node refused (its reason).
        """
        address = self.directory.holder(self.index)
        if address is None:
            raise CustodianUnavailable(f"no member node announced custodian share {self.index}")
        node_id = self.directory.node_id(address)
        if node_id is None:
            raise CustodianUnavailable(f"no SuperNode of {address} is connected")
        record = ConfigRecord({
            "task": self.task_id,
            "requests": json.dumps([{"round": r.round_id, "participants": list(r.participant_ids)} for r in requests]),
            "spec": self.spec_bytes,
            "sums": [r.update.to_bytes() for r in requests],
            "blobs": self.blobs.blobs(requests),
        })
        message = Message(RecordDict({"decrypt": record}), dst_node_id=node_id, message_type=DECRYPT_MESSAGE, ttl=self.timeout_s + 60)
        reply = self._exchange(message, node_id, address)
        if reply.has_error():
            raise CustodianUnavailable(f"Flower error from {address}: {reply.error.reason}")
        return partials_from_reply(reply.content, len(requests))

    def _exchange(self, message: Message, node_id: int, address: str) -> Message:
        """Push ``message`` and pull its reply; give up when the node leaves the federation or after ``timeout_s``."""
        grid = self.directory.grid
        (message_id,) = grid.push_messages([message])
        deadline = time.monotonic() + self.timeout_s
        while True:
            for reply in grid.pull_messages([message_id]):
                if reply.metadata.reply_to_message_id == message_id:
                    return reply
            if node_id not in set(grid.get_node_ids()):
                raise CustodianUnavailable(f"the SuperNode of {address} left the federation")
            if time.monotonic() > deadline:
                raise CustodianUnavailable(f"{address} did not answer within {self.timeout_s:.0f} s")
            time.sleep(self.poll_s)


def partials_from_reply(content: RecordDict, expected: int) -> list[PartialDecryption]:
    """A custodian node's ``partials`` record as its partial decryptions.

    Raises
    ------
    DecryptionRefused
        The node answered with an error (its refusal, e.g. a sum off the ledger's record).
    CustodianUnavailable
        A malformed reply (treated as no answer).
    """
    record = content.get("partials")
    if not isinstance(record, ConfigRecord):
        raise CustodianUnavailable("malformed reply: no partials record")
    if record.get("ok") is not True:
        raise DecryptionRefused(str(record.get("error", "no reason given"))[:500])
    try:
        partials = [partial_from_json(p) for p in json.loads(str(record["partials"]))]
    except (KeyError, TypeError, ValueError, CryptoError) as exc:
        raise CustodianUnavailable(f"malformed reply: {exc}") from None
    if len(partials) != expected:
        raise CustodianUnavailable(f"malformed reply: {len(partials)} partial decryptions for {expected} requests")
    return partials


def partials_to_json(partials: Sequence[PartialDecryption]) -> str:
    """The ``partials`` field of a reply."""
    return json.dumps([partial_to_json(p) for p in partials])


@dataclass(frozen=True)
class NodeCustody(Custody):
    """Threshold custody by the member nodes: the coordinator holds the public key and asks the nodes.

    Attributes
    ----------
    key : ThresholdPublicKey
    custodians : tuple[CustodianEndpoint, ...]
        One endpoint per custodian index 1..N (:class:`FlowerCustodian`, or not held).
    names : Mapping[int, str]
        Custodian index → the holding member's name, for errors.
    """

    key: ThresholdPublicKey
    custodians: tuple[CustodianEndpoint, ...]
    names: Mapping[int, str] = field(default_factory=dict)

    @property
    def public(self) -> ThresholdPublicKey:
        return self.key

    def key_holder(self, config: CodecConfig) -> ThresholdKeyHolder:
        return ThresholdKeyHolder(self.key, config, list(self.custodians), self.names)


def node_custody(
    grid: Grid,
    key: ThresholdPublicKey,
    infos: Mapping[int, Mapping[str, Any]],
    node_of: Callable[[str], int | None],
    ask_infos: Callable[[list[int]], Mapping[int, Mapping[str, Any]]],
    task_id: int,
    spec_bytes: bytes,
    blobs: CommittedBlobs,
    timeout_s: float = 120.0,
) -> NodeCustody:
    """The custodians of ``key``: those announced in ``infos`` (the nodes connected at the start), and any that connect later.

    ``ask_infos`` reads the info of nodes that connect later (see :class:`CustodianDirectory`).
    """
    directory = CustodianDirectory(key, grid, ask_infos, node_of)
    directory.add(infos)
    log.info("key custodians: %s", directory.describe())
    endpoints = tuple(FlowerCustodian(index, directory, task_id, spec_bytes, blobs, timeout_s) for index in range(1, key.custodians + 1))
    return NodeCustody(key, endpoints, directory.names)
