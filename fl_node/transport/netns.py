"""Separate network hosts on one Linux machine: network namespaces joined by veth links (root only).

:class:`NetnsHosts` makes one *hub* namespace (the chain and the SuperLink) and one namespace
per node. Inside the hub a bridge joins the hub's ends of the nodes' veth pairs, so every host
has its own address on one private /24 (``10.X.Y.0/24``, ``X.Y`` drawn at random) that exists
only inside these namespaces: nothing is routed to or from the machine's own network. Each
namespace's loopback is up (a SuperNode's local API and the worker's socket stay on the node).

Names carry a random tag, so concurrent runs do not collide. Leaving the ``with`` block (also on
an exception) kills whatever still runs in the namespaces and deletes them, which deletes their
links too; every wait is bounded.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

from fl_node.errors import NetnsError
from fl_node.transport.processes import kill_until_gone

log = logging.getLogger(__name__)

#: Namespaces and links made by fedledger start with this.
PREFIX = "fl"
_IP_TIMEOUT_S = 10.0


def netns_available(euid: int | None = None) -> str | None:
    """None when namespaces can be made here (as ``euid``, default: this process's), else why not (one line)."""
    if (os.geteuid() if euid is None else euid) != 0:
        return "network namespaces need root (`ip netns add`); run as root or use --hosts loopback"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed; install iproute2 or use --hosts loopback"
    return None


def _ip(*args: str, netns: str | None = None) -> None:
    cmd = ["ip", *(["-n", netns] if netns else []), *args]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=_IP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise NetnsError(f"`{' '.join(cmd)}` did not finish within {_IP_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        raise NetnsError(f"`{' '.join(cmd)}` failed: {done.stderr.strip() or done.returncode}")


@dataclass(frozen=True)
class Host:
    """One namespace: its role (``hub`` or ``node N``), name and address."""

    role: str
    netns: str
    address: str

    def command(self, cmd: Sequence[str]) -> list[str]:
        """``cmd`` run inside this namespace (``ip netns exec`` execs it: the pid is the command's)."""
        return ["ip", "netns", "exec", self.netns, *cmd]


@dataclass
class NetnsHosts:
    """A hub and ``n_nodes`` node namespaces on one private /24; use as a context manager.

    Attributes
    ----------
    n_nodes : int
    tag : str
        Random hex in every name this instance makes.
    hub : Host | None, nodes : list[Host]
        Set once :meth:`create` has run.
    """

    n_nodes: int
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    hub: Host | None = None
    nodes: list[Host] = field(default_factory=list)
    _made: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 1 <= self.n_nodes <= 200:
            raise NetnsError(f"between 1 and 200 node hosts, got {self.n_nodes}")
        raw = int(self.tag, 16)
        self.subnet = ipaddress.ip_network(f"10.{200 + raw % 50}.{(raw >> 8) % 256}.0/24")

    @property
    def hosts(self) -> list[Host]:
        return ([self.hub] if self.hub else []) + self.nodes

    def _name(self, suffix: str) -> str:
        return f"{PREFIX}{self.tag}{suffix}"  # at most 2 + 6 + 5 characters: fits an interface name (15)

    def create(self) -> NetnsHosts:
        """Make the namespaces, the bridge and the links; on any failure remove what was made and raise."""
        reason = netns_available()
        if reason:
            raise NetnsError(reason)
        addresses = list(self.subnet.hosts())
        try:
            hub_ns = self._add_netns(self._name("h"))
            _ip("link", "set", "lo", "up", netns=hub_ns)
            bridge = "br0"
            _ip("link", "add", bridge, "type", "bridge", netns=hub_ns)
            _ip("addr", "add", f"{addresses[0]}/{self.subnet.prefixlen}", "dev", bridge, netns=hub_ns)
            _ip("link", "set", bridge, "up", netns=hub_ns)
            self.hub = Host("hub", hub_ns, str(addresses[0]))
            for k in range(1, self.n_nodes + 1):
                node_ns = self._add_netns(self._name(f"n{k}"))
                _ip("link", "set", "lo", "up", netns=node_ns)
                outer, inner = self._name(f"v{k}"), self._name(f"p{k}")
                # made in the hub, one end moved into the node: nothing touches the machine's own namespace
                _ip("link", "add", outer, "type", "veth", "peer", "name", inner, "netns", node_ns, netns=hub_ns)
                _ip("link", "set", outer, "master", bridge, netns=hub_ns)
                _ip("link", "set", outer, "up", netns=hub_ns)
                _ip("addr", "add", f"{addresses[k]}/{self.subnet.prefixlen}", "dev", inner, netns=node_ns)
                _ip("link", "set", inner, "up", netns=node_ns)
                self.nodes.append(Host(f"node {k}", node_ns, str(addresses[k])))
        except BaseException:
            self.remove()
            raise
        return self

    def _add_netns(self, name: str) -> str:
        _ip("netns", "add", name)
        self._made.append(name)
        return name

    def remove(self) -> None:
        """Kill every process left in the namespaces made, then delete them (and with them their links)."""
        for name in reversed(self._made):
            inode = _netns_inode(name)
            _kill_holders(name, inode)
            try:
                _ip("netns", "del", name)
            except NetnsError as exc:
                log.warning("%s", exc)
            # a process that opened the namespace before the kill (``ip netns exec`` between its open
            # and its setns) enters it afterwards: the namespace lives on unnamed while it does
            _kill_holders(name, inode)
        self._made.clear()
        self.hub = None
        self.nodes = []

    def __enter__(self) -> NetnsHosts:
        return self.create()

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _netns_inode(name: str) -> int | None:
    try:
        return os.stat(f"/run/netns/{name}").st_ino
    except OSError:
        return None


def _holders(inode: int) -> list[int]:
    """Pids of the processes inside the namespace ``inode`` or holding a descriptor on it."""
    link = f"net:[{inode}]"
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            links = [os.readlink(f"{entry.path}/ns/net")]
            links += [os.readlink(fd.path) for fd in os.scandir(f"{entry.path}/fd")]
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if link in links:
            pids.append(int(entry.name))
    return pids


def _kill_holders(name: str, inode: int | None) -> None:
    """SIGKILL everything in or holding namespace ``name`` until none is left (bounded wait).

    Quiet twice in a row: a process between ``ip netns exec``'s open and its setns shows up late.
    """
    if inode is not None:
        kill_until_gone(lambda: _holders(inode), f"network namespace {name}", quiet_checks=2)
