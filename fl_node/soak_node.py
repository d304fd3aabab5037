"""A consortium node process that misbehaves on request: the node side of the Flower soak.

``python -m fl_node.soak_node CONFIG.json`` runs what ``fedledger node join`` runs (join the
ledger if needed, the node worker, a SuperNode) with its runtime wrapped in a
:class:`FaultyRuntime`. The soak arms a fault by writing the node's fault file; the next train
request for a round at or after the one named carries it out, once:

``late``
    The node stalls until its round is no longer open (past the deadline), then tries to commit:
    the ledger refuses the late commitment, and its reply comes after the aggregator stopped waiting.
``equivocate``
    The node commits its blob's hash, then signs and sends an update with one payload bit flipped:
    signed evidence of a blob that differs from its commitment, so the aggregator slashes it.

Each fault carried out is appended to the node's fault log (JSON lines) with what happened.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from eth_hash.auto import keccak

from fl_node.hfl.envelope import SignedBlob, seal, sign_blob
from fl_node.transport.node import NodeConfig, NodeRuntime, prepare_node, serve_node
from incentive.atomic import write_atomic
from incentive.errors import ChainError, LedgerRevert
from incentive.ledger import RoundStatus

#: Node faults a fault file may arm.
NODE_FAULTS = ("late", "equivocate")
#: Longest a late node stalls waiting for its round to close.
LATE_WAIT_S = 300.0


class NodeFaultInjected(Exception):
    """The node failed its round on purpose (the reply names the fault)."""


def arm_fault(path: Path, fault: str, from_round: int) -> None:
    """Arm ``fault`` for the node's next train request of a round ``>= from_round``."""
    if fault not in NODE_FAULTS:
        raise ValueError(f"unknown node fault {fault!r} (known: {', '.join(NODE_FAULTS)})")
    write_atomic(path, json.dumps({"fault": fault, "from_round": from_round}))


def read_fault_log(path: Path) -> list[dict[str, Any]]:
    """The faults a node carried out (one dict per line of its fault log)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass
class FaultyRuntime:
    """A :class:`NodeRuntime` that carries out an armed fault (see the module docstring) on one train request.

    Attributes
    ----------
    inner : NodeRuntime
    fault_file : Path
        Where the soak arms a fault; removed when the fault is carried out (an equivocation only
        once the node has trained and committed: a refused plan leaves it armed).
    fault_log : Path
        JSON lines: ``{"round", "fault", "outcome"}`` per fault carried out.
    """

    inner: NodeRuntime
    fault_file: Path
    fault_log: Path

    @property
    def address(self) -> str:
        return self.inner.address

    def info(self) -> dict[str, Any]:
        return self.inner.info()

    def _armed(self, round_id: int) -> str | None:
        """The fault armed for ``round_id`` (None when none is, or only for a later round)."""
        try:
            armed = json.loads(self.fault_file.read_text())
        except (OSError, ValueError):
            return None
        if round_id < int(armed.get("from_round", 0)):
            return None
        return str(armed.get("fault"))

    def _record(self, round_id: int, fault: str, outcome: str) -> None:
        with self.fault_log.open("a") as out:
            out.write(json.dumps({"round": round_id, "fault": fault, "outcome": outcome}) + "\n")

    def train(self, header: dict[str, Any], binary: dict[str, bytes]) -> tuple[dict[str, Any], dict[str, bytes]]:
        round_id = int(header["round"])
        fault = self._armed(round_id)
        if fault == "late":
            self.fault_file.unlink(missing_ok=True)
            outcome = self._late(round_id)
            self._record(round_id, fault, outcome)
            raise NodeFaultInjected(f"missed the deadline of round {round_id}: {outcome}")
        reply, reply_binary = self.inner.train(header, binary)  # a plan refused leaves the fault armed
        if fault == "equivocate":
            self.fault_file.unlink(missing_ok=True)
            signed = SignedBlob.parse(reply_binary["blob"])
            payload = bytearray(signed.payload)
            payload[len(payload) // 2] ^= 0x01
            forged = sign_blob(seal(signed.header, bytes(payload), signed.proof), self.inner.account)
            self._record(round_id, fault, f"committed 0x{keccak(reply_binary['blob']).hex()}, sent a signed blob 0x{keccak(forged).hex()}")
            return reply, {"blob": forged}
        return reply, reply_binary

    def _late(self, round_id: int) -> str:
        """Stall until the round is no longer open, then try to commit: what the ledger answered."""
        ledger = self.inner.ledger
        deadline = time.monotonic() + LATE_WAIT_S
        while time.monotonic() < deadline:
            try:
                if ledger.round(round_id).status != RoundStatus.OPEN:
                    break
            except ChainError:
                pass  # the chain may be restarting: keep waiting
            time.sleep(0.5)
        else:
            return f"round still open after {LATE_WAIT_S:.0f} s; did not commit"
        try:
            ledger.commit(self.inner.account, round_id, keccak(b"late commitment of round %d" % round_id))
        except LedgerRevert as exc:
            return f"late commitment refused: {exc.error_name}"
        except ChainError as exc:
            return f"late commitment failed: {exc}"
        return "late commitment ACCEPTED"


def node_config_to_json(config: NodeConfig, fault_file: Path, fault_log: Path) -> str:
    """The JSON this module's ``main`` reads: the node's settings and its fault files."""
    fields = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(config).items()}
    return json.dumps({"node": fields, "fault_file": str(fault_file), "fault_log": str(fault_log)})


def node_config_from_json(text: str) -> tuple[NodeConfig, Path, Path]:
    """Inverse of :func:`node_config_to_json`."""
    data = json.loads(text)
    fields = dict(data["node"])
    for name in ("key", "data", "work_dir", "root_cert", "auth_key"):
        if fields.get(name) is not None:
            fields[name] = Path(fields[name])
    for name in ("id_columns", "drop"):
        fields[name] = tuple(fields.get(name, ()))
    return NodeConfig(**fields), Path(data["fault_file"]), Path(data["fault_log"])


def main(argv: list[str] | None = None) -> int:
    """Run one faulty node until SIGTERM/SIGINT (the passphrase comes from the keystore environment variable)."""
    args = sys.argv[1:] if argv is None else argv
    config, fault_file, fault_log = node_config_from_json(Path(args[0]).read_text())
    torch.set_num_threads(1)  # as `node join`: fair to the co-hosted parties
    runtime, _ = prepare_node(config)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return serve_node(FaultyRuntime(runtime, fault_file, fault_log), config, stop)


if __name__ == "__main__":
    sys.exit(main())
