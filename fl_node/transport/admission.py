"""Which SuperNodes the SuperLink admits: exactly the authentication keys of the ledger's active members.

Each node records ``nodeKeyHash`` = :func:`~fl_node.transport.tls.auth_key_hash` of its SuperNode
authentication key when it joins the ledger, and hands the public key (``auth.pub``) to the
consortium's operator. :class:`MemberKeys` registers on the SuperLink (running with
``--enable-supernode-auth``) every offered key whose hash is an active member's, and unregisters a
key as soon as its member may no longer commit (leaving, left, or its stake below the minimum), so such
a SuperNode is refused when it connects, not only at its first round. A key whose hash no member
recorded is never registered: a stranger's SuperNode with a self-made key never gets a task.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from fl_node.transport.deployment import register_supernode, unregister_supernode
from fl_node.transport.tls import auth_key_hash, load_auth_public_key
from incentive.ledger import LedgerClient, to_bytes32

log = logging.getLogger(__name__)

#: ``flwr supernode register`` commands run at once.
REGISTER_WORKERS = 4


def active_member_key_hashes(ledger: LedgerClient) -> dict[bytes, str]:
    """``nodeKeyHash`` → address of every member that may commit now (active, at the minimum stake or exempt)."""
    minimum = ledger.min_stake()
    out = {}
    for member in ledger.members():
        if member.may_commit(minimum):
            out[to_bytes32(member.node_key_hash)] = member.address
    return out


@dataclass(frozen=True)
class AdmissionChange:
    """One refresh: keys registered now, keys withdrawn now, keys offered that no active member recorded."""

    registered: tuple[str, ...]
    withdrawn: tuple[str, ...]
    strangers: tuple[str, ...]


@dataclass
class MemberKeys:
    """Keeps the SuperLink's registered keys equal to the offered keys of active members.

    Attributes
    ----------
    ledger : LedgerClient
    env : Mapping[str, str]
        Flower environment whose ``flwr`` connection reaches the SuperLink's Control API.
    """

    ledger: LedgerClient
    env: Mapping[str, str]
    registered: dict[bytes, tuple[int, str]] = field(default_factory=dict)  # key hash → (node id, key file)

    def refresh(self, public_keys: Sequence[Path]) -> AdmissionChange:
        """Register offered keys of active members, withdraw registered keys of members no longer active."""
        active = active_member_key_hashes(self.ledger)
        offered = {}
        for path in public_keys:
            offered[auth_key_hash(load_auth_public_key(path))] = path
        added, withdrawn, strangers = [], [], []
        for digest, (node_id, path) in list(self.registered.items()):
            if digest not in active:
                unregister_supernode(node_id, self.env)
                del self.registered[digest]
                withdrawn.append(str(path))
                log.info("withdrew SuperNode %d (%s): its member is no longer active", node_id, path)
        admit = {}
        for digest, path in offered.items():
            if digest in self.registered:
                continue
            if digest not in active:
                strangers.append(str(path))
                continue
            admit[digest] = path
        # each registration is a `flwr` command: run a few at once, so many joining nodes wait less
        with ThreadPoolExecutor(max_workers=REGISTER_WORKERS) as pool:
            futures = {d: pool.submit(register_supernode, admit[d], self.env, name=active[d]) for d in admit}
        failures = []
        for digest, future in futures.items():
            if future.exception() is not None:
                failures.append(future.exception())
                continue
            self.registered[digest] = (future.result(), str(admit[digest]))
            added.append(str(admit[digest]))
            log.info("admitted SuperNode %d of member %s (%s)", future.result(), active[digest], admit[digest])
        if failures:  # the others are recorded: a later refresh does not register them twice
            raise failures[0]
        return AdmissionChange(tuple(added), tuple(withdrawn), tuple(strangers))
