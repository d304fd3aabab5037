"""Network namespaces as separate hosts: own addresses, reachable from each other, removed afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from fl_node.errors import NetnsError
from fl_node.transport.netns import NetnsHosts, netns_available

needs_root = pytest.mark.skipif(netns_available() is not None, reason=str(netns_available()))

SERVER = "import socket,sys; s=socket.socket(); s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(); c,_=s.accept(); c.sendall(b'ok'); c.close()"
CLIENT = "import socket,sys; s=socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5); print(s.recv(2).decode())"


def _netns_names() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


@needs_root
def test_each_host_has_its_own_address_and_nodes_reach_the_hub():
    before = _netns_names()
    with NetnsHosts(2) as hosts:
        addresses = [h.address for h in hosts.hosts]
        assert len(set(addresses)) == 3 and not any(a.startswith("127.") for a in addresses)
        assert {h.netns for h in hosts.hosts} <= _netns_names() - before
        server = subprocess.Popen(hosts.hub.command([sys.executable, "-c", SERVER, hosts.hub.address, "18555"]))
        try:
            deadline = time.monotonic() + 10
            while True:
                reply = subprocess.run(
                    hosts.nodes[1].command([sys.executable, "-c", CLIENT, hosts.hub.address, "18555"]), capture_output=True, text=True
                )
                if reply.returncode == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert reply.stdout.strip() == "ok", reply.stderr
        finally:
            server.kill()
            server.wait()
        # a node's loopback is its own: nothing of the hub listens there
        own = subprocess.run(hosts.nodes[0].command(["ip", "-br", "addr"]), capture_output=True, text=True).stdout
        assert hosts.nodes[0].address in own and hosts.hub.address not in own
    assert _netns_names() == before


@needs_root
def test_namespaces_and_their_processes_are_removed_on_failure():
    before = _netns_names()
    with pytest.raises(RuntimeError, match="boom"):
        with NetnsHosts(1) as hosts:
            sleeper = subprocess.Popen(hosts.nodes[0].command(["sleep", "60"]))
            raise RuntimeError("boom")
    assert sleeper.wait(timeout=10) != 0
    assert _netns_names() == before


def test_a_bad_node_count_is_refused():
    with pytest.raises(NetnsError, match="between 1 and 200"):
        NetnsHosts(0)


def test_without_root_it_says_why():
    assert "need root" in str(netns_available(euid=1000))
    if os.geteuid() != 0:
        with pytest.raises(NetnsError, match="need root"):
            NetnsHosts(1).create()
