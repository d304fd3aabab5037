"""TLS options of `serve`, `node join` and `chain fund`: plaintext refused off loopback, missing pieces named, exit 2, nothing started."""

from __future__ import annotations

from pathlib import Path

import pytest

from fl_node.cli.app import main
from incentive.chain import write_key_file

LEDGER = "0x" + "11" * 20


def _serve(tmp_path: Path, *extra: str) -> list[str]:
    key = tmp_path / "k.key"
    if not key.exists():
        from eth_account import Account

        write_key_file(key, Account.create())
    return ["serve", "--rpc", "http://127.0.0.1:9", "--ledger", LEDGER, "--aggregator-key", str(key), "--evaluator-key", str(key),
            "--task", "1", "--work-dir", str(tmp_path / "serve"), *extra]


def test_serve_needs_certs_or_loopback_insecure(tmp_path: Path, refused) -> None:
    assert "give --certs DIR" in refused(_serve(tmp_path))
    assert "plaintext only on 127.0.0.0/8" in refused(_serve(tmp_path, "--insecure", "--address", "0.0.0.0:9092"))
    assert "no such file" in refused(_serve(tmp_path, "--certs", str(tmp_path / "nocerts")))
    main(["consortium", "certs", "--out", str(tmp_path / "certs"), "--host", "127.0.0.1"])
    assert "--node-keys DIR" in refused(_serve(tmp_path, "--certs", str(tmp_path / "certs")))
    assert "is not HOST:PORT" in refused(_serve(tmp_path, "--insecure", "--address", "nohostport"))
    assert "--poll-interval: the poll interval must be above 0" in refused(_serve(tmp_path, "--insecure", "--poll-interval", "0"))
    assert not (tmp_path / "serve" / "superlink").exists()


def test_node_join_needs_a_root_cert_or_loopback_insecure(tmp_path: Path, refused) -> None:
    base = ["node", "join", "--rpc", "http://127.0.0.1:9", "--ledger", LEDGER, "--key", str(tmp_path / "k.json"),
            "--data", str(tmp_path / "d.csv"), "--label", "y", "--work-dir", str(tmp_path / "node")]
    assert "give --root-cert" in refused([*base, "--superlink", "10.0.0.1:9092"])
    assert "plaintext only on 127.0.0.0/8" in refused([*base, "--superlink", "10.0.0.1:9092", "--insecure"])
    assert "exclude each other" in refused([*base, "--superlink", "10.0.0.1:9092", "--insecure", "--root-cert", "x"])
    assert "at most 3 s, got 5" in refused([*base, "--superlink", "127.0.0.1:9092", "--insecure", "--poll-interval", "5"])
    assert not (tmp_path / "node").exists()


def test_chain_fund_refuses_a_bad_address(refused) -> None:
    assert "is not an address" in refused(["chain", "fund", "--rpc", "http://127.0.0.1:9", "--to", "0x12", "--eth", "1"])


@pytest.mark.anvil
def test_chain_fund_sends_the_amount(anvil) -> None:
    from eth_account import Account

    from incentive.chain import connect

    to = Account.create().address
    main(["chain", "fund", "--rpc", anvil.url, "--to", to, "--eth", "1.25"])  # returns only on exit code 0
    assert connect(anvil.url).balance(to) == 125 * 10**16
