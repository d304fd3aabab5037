"""Consortium certificates and SuperNode authentication keys: files, modes, chains of trust, refusals."""

from __future__ import annotations

import stat
import subprocess
import sys

import pytest
from cryptography import x509

from fl_node.errors import CertificateError
from fl_node.transport.tls import (
    CertPaths,
    auth_key_hash,
    ensure_auth_keypair,
    load_auth_private_key,
    load_auth_public_key,
    load_certificate,
    require_ca_certificate,
    write_auth_keypair,
    write_consortium_certs,
)


FEDLEDGER = [sys.executable, "-c", "from fl_node.cli import main; main()"]


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_certs_are_signed_by_the_ca_with_the_hosts_as_names(tmp_path):
    paths = write_consortium_certs(tmp_path / "certs", ["10.1.2.3", "SuperLink.Example.org"])

    server = load_certificate(paths.server_cert)
    ca = load_certificate(paths.ca_cert)
    server.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["10.1.2.3"]
    assert names.get_values_for_type(x509.DNSName) == ["superlink.example.org"]
    assert _mode(paths.ca_key) == 0o600 and _mode(paths.server_key) == 0o600
    assert _mode(paths.ca_cert) == 0o644 and _mode(tmp_path / "certs") == 0o700
    assert require_ca_certificate(paths.ca_cert) == paths.ca_cert
    assert paths.require_server_files() == paths


def test_certs_refuse_bad_hosts_and_existing_files_and_change_nothing(tmp_path):
    with pytest.raises(CertificateError, match="neither an IP address nor a DNS name"):
        write_consortium_certs(tmp_path / "a", ["not a host"])
    assert not (tmp_path / "a").exists()
    with pytest.raises(CertificateError, match="at least one --host"):
        write_consortium_certs(tmp_path / "a", [])
    paths = write_consortium_certs(tmp_path / "b", ["127.0.0.1"])
    before = paths.ca_cert.read_bytes()
    with pytest.raises(CertificateError, match="refusing to overwrite"):
        write_consortium_certs(tmp_path / "b", ["127.0.0.1"])
    assert paths.ca_cert.read_bytes() == before


def test_a_server_certificate_from_another_ca_and_a_non_ca_root_are_refused(tmp_path):
    ours = write_consortium_certs(tmp_path / "ours", ["127.0.0.1"])
    theirs = write_consortium_certs(tmp_path / "theirs", ["127.0.0.1"])
    mixed = CertPaths(ours.ca_cert, ours.ca_key, theirs.server_cert, theirs.server_key)

    with pytest.raises(CertificateError, match="was not issued by the CA"):
        mixed.require_server_files()
    with pytest.raises(CertificateError, match="not a CA certificate"):
        require_ca_certificate(ours.server_cert)
    (tmp_path / "junk.crt").write_text("hello")
    with pytest.raises(CertificateError, match="not a PEM certificate"):
        require_ca_certificate(tmp_path / "junk.crt")


def test_auth_keys_are_p384_openssh_and_hash_the_same_from_either_half(tmp_path):
    paths = write_auth_keypair(tmp_path / "keys" / "auth")

    private = load_auth_private_key(paths.private)
    public = load_auth_public_key(paths.public)
    assert private.curve.name == "secp384r1"
    assert paths.public.read_text().startswith("ecdsa-sha2-nistp384 ")
    assert auth_key_hash(public) == auth_key_hash(private.public_key())
    assert len(auth_key_hash(public)) == 32
    assert _mode(paths.private) == 0o600
    other = write_auth_keypair(tmp_path / "other")
    assert auth_key_hash(load_auth_public_key(other.public)) != auth_key_hash(public)
    # an existing key is kept, not replaced
    assert ensure_auth_keypair(paths.private) == paths
    assert auth_key_hash(load_auth_private_key(paths.private).public_key()) == auth_key_hash(public)


def test_a_non_key_file_is_refused_in_one_line(tmp_path):
    (tmp_path / "auth").write_text("not a key")
    with pytest.raises(CertificateError, match="not an unencrypted OpenSSH private key"):
        load_auth_private_key(tmp_path / "auth")


def test_cli_certs_writes_the_folder_and_refuses_bad_input_with_exit_2(tmp_path):
    ok = subprocess.run(
        [*FEDLEDGER, "consortium", "certs", "--out", str(tmp_path / "c"), "--host", "127.0.0.1"],
        capture_output=True, text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "c" / "ca.crt").is_file() and (tmp_path / "c" / "superlink.key").is_file()
    bad = subprocess.run(
        [*FEDLEDGER, "consortium", "certs", "--out", str(tmp_path / "d"), "--host", "no spaces"],
        capture_output=True, text=True,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "neither an IP address" in bad.stderr
    assert not (tmp_path / "d").exists()
