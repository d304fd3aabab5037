"""`fedledger consortium local --hosts netns`: chain and SuperLink on one network host, each node on its own, over TLS with node authentication."""

from __future__ import annotations

import ipaddress
import json
import subprocess
from pathlib import Path

import pytest

from fl_node.cli.app import main
from fl_node.transport.netns import netns_available

pytestmark = [pytest.mark.slow, pytest.mark.skipif(netns_available() is not None, reason=str(netns_available()))]


def _netns_names() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_separate_hosts_with_tls_and_auth_finish_audited_with_the_in_process_model(tmp_path: Path) -> None:
    before = _netns_names()
    out = tmp_path / "netns.json"
    main(["consortium", "local", "--hosts", "netns", "--nodes", "3", "--rounds", "2", "--key-bits", "1024",
          "--work-dir", str(tmp_path / "run"), "--json", str(out)])  # returns only on exit code 0
    payload = json.loads(out.read_text())

    assert payload["tls"] is True and payload["auth"] is True
    addresses = [h["address"] for h in payload["hosts"]]
    assert len(addresses) == 4 and len(set(addresses)) == 4
    assert not any(ipaddress.ip_address(a).is_loopback for a in addresses)
    assert payload["rounds_completed"] == 2 and payload["audit"]["ok"] is True
    assert payload["in_process"]["same_final_model"] is True
    assert isinstance(payload["overhead_s_per_round"], float)
    assert _netns_names() == before


def test_insecure_is_refused_across_hosts(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["consortium", "local", "--hosts", "netns", "--insecure"])
    assert exit_info.value.code == 2
    assert "plaintext only on 127.0.0.0/8" in capsys.readouterr().err
