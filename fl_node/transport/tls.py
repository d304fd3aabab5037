"""Consortium certificates and SuperNode authentication keys (the ``cryptography`` package).

The consortium's certificate authority (CA) signs the SuperLink's server certificate, whose
subject alternative names are the host names and IP addresses nodes dial. Nodes trust only the
CA (``flower-supernode --root-certificates ca.crt``), so a SuperLink without a certificate from
this CA is refused by every node. The CA's private key stays with whoever runs
``fedledger consortium certs``: it is needed only to issue certificates.

Each node also holds a SuperNode authentication key (ECDSA P-384, the curve Flower 1.42 signs
with): the private key in OpenSSH format for ``flower-supernode --auth-supernode-private-key``,
the public key in OpenSSH format for ``flwr supernode register``. :func:`auth_key_hash` is the
keccak256 of the public key's DER SubjectPublicKeyInfo: the ``nodeKeyHash`` the node records on
chain when it joins, so the SuperLink can admit exactly the keys of active members.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from eth_hash.auto import keccak

from fl_node.crypto.secret_files import make_private_dir, write_secret_file
from fl_node.errors import CertificateError

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
SERVER_CERT = "superlink.crt"
SERVER_KEY = "superlink.key"
#: Certificates are valid this long from the moment they are made.
VALIDITY_DAYS = 825
AUTH_CURVE = ec.SECP384R1()
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


@dataclass(frozen=True)
class CertPaths:
    """The files of a consortium certificate folder.

    Attributes
    ----------
    ca_cert, ca_key : Path
        The consortium CA's certificate (given to every node) and private key (kept offline).
    server_cert, server_key : Path
        The SuperLink's certificate and private key (``--ssl-certfile`` / ``--ssl-keyfile``).
    """

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path

    @classmethod
    def in_folder(cls, folder: Path | str) -> CertPaths:
        folder = Path(folder)
        return cls(folder / CA_CERT, folder / CA_KEY, folder / SERVER_CERT, folder / SERVER_KEY)

    def require_server_files(self) -> CertPaths:
        """Check the files the SuperLink needs exist and parse, and that the CA signed the server certificate."""
        for path in (self.ca_cert, self.server_cert, self.server_key):
            if not path.is_file():
                raise CertificateError(f"{path}: no such file (make the folder with `fedledger consortium certs --out DIR --host …`)")
        ca = load_certificate(self.ca_cert)
        server = load_certificate(self.server_cert)
        _load_private_key(self.server_key)
        try:
            server.verify_directly_issued_by(ca)
        except (ValueError, TypeError, Exception) as exc:  # InvalidSignature has no common base
            raise CertificateError(f"{self.server_cert} was not issued by the CA in {self.ca_cert} ({exc.__class__.__name__})") from None
        return self


def parse_host(value: str) -> x509.GeneralName:
    """A subject alternative name from a host name or an IP address; CertificateError otherwise."""
    text = value.strip()
    try:
        return x509.IPAddress(ipaddress.ip_address(text))
    except ValueError:
        pass
    if not _DNS_NAME.match(text) or text.replace(".", "").isdigit():
        raise CertificateError(f"--host {value!r} is neither an IP address nor a DNS name")
    return x509.DNSName(text.lower())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fedledger consortium"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _write_public(path: Path, data: bytes, overwrite: bool) -> None:
    """A public file, written atomically like a secret, then made world-readable."""
    write_secret_file(path, data, overwrite=overwrite)
    path.chmod(0o644)


def write_consortium_certs(out: Path | str, hosts: Sequence[str], *, overwrite: bool = False, now: dt.datetime | None = None) -> CertPaths:
    """Write a new consortium CA and a SuperLink certificate for ``hosts`` into ``out``.

    Parameters
    ----------
    out : Path | str
        Folder (created 0700). Key files are written 0600, certificates 0644, each atomically.
    hosts : Sequence[str]
        Host names and IP addresses nodes use to reach the SuperLink (at least one).
    overwrite : bool (default: False)
        False refuses a folder that already holds any of the four files.
    now : datetime | None (default: the current time)

    Raises
    ------
    CertificateError
        No host, a host that is neither a name nor an address, or existing files without ``overwrite``.
    """
    if not hosts:
        raise CertificateError("give at least one --host (the name or IP address nodes use to reach the SuperLink)")
    names = list(dict.fromkeys(parse_host(h) for h in hosts))
    paths = CertPaths.in_folder(out)
    existing = [str(p) for p in (paths.ca_cert, paths.ca_key, paths.server_cert, paths.server_key) if p.exists()]
    if existing and not overwrite:
        raise CertificateError(f"{existing[0]} exists; refusing to overwrite consortium certificates (choose another --out)")
    now = now or dt.datetime.now(dt.timezone.utc)
    until = now + dt.timedelta(days=VALIDITY_DAYS)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("fedledger consortium CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0].strip()))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(until)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    make_private_dir(out)
    write_secret_file(paths.ca_key, _pem_key(ca_key), overwrite=overwrite)
    write_secret_file(paths.server_key, _pem_key(server_key), overwrite=overwrite)
    _write_public(paths.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM), overwrite)
    _write_public(paths.server_cert, server_cert.public_bytes(serialization.Encoding.PEM), overwrite)
    return paths


def load_certificate(path: Path | str) -> x509.Certificate:
    """A PEM certificate; CertificateError naming the file when it is missing or not a certificate."""
    path = Path(path)
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except OSError as exc:
        raise CertificateError(f"{path}: cannot read certificate ({exc.strerror})") from None
    except ValueError:
        raise CertificateError(f"{path}: not a PEM certificate") from None


def _load_private_key(path: Path) -> None:
    try:
        serialization.load_pem_private_key(path.read_bytes(), None)
    except OSError as exc:
        raise CertificateError(f"{path}: cannot read key ({exc.strerror})") from None
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise CertificateError(f"{path}: not an unencrypted PEM private key") from None


def require_ca_certificate(path: Path | str) -> Path:
    """Check ``path`` is a CA certificate (a node's ``--root-cert``); returns it."""
    cert = load_certificate(path)
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise CertificateError(f"{path}: not a CA certificate (give the consortium's ca.crt)")
    return Path(path)


@dataclass(frozen=True)
class AuthKeyPaths:
    """A node's SuperNode authentication key pair (OpenSSH format, ECDSA P-384)."""

    private: Path
    public: Path

    @classmethod
    def beside(cls, private: Path | str) -> AuthKeyPaths:
        private = Path(private)
        return cls(private, private.with_name(private.name + ".pub"))


def write_auth_keypair(private: Path | str, *, overwrite: bool = False) -> AuthKeyPaths:
    """Create a SuperNode authentication key pair: ``private`` (0600) and ``private``.pub."""
    paths = AuthKeyPaths.beside(private)
    key = ec.generate_private_key(AUTH_CURVE)
    write_secret_file(
        paths.private,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()),
        overwrite=overwrite,
    )
    _write_public(paths.public, key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH) + b"\n", True)
    return paths


def ensure_auth_keypair(private: Path | str) -> AuthKeyPaths:
    """The key pair at ``private`` (its public half rewritten from it), made when it does not exist yet."""
    paths = AuthKeyPaths.beside(private)
    if not paths.private.exists():
        return write_auth_keypair(paths.private)
    key = load_auth_private_key(paths.private)
    _write_public(paths.public, key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH) + b"\n", True)
    return paths


def load_auth_private_key(path: Path | str) -> ec.EllipticCurvePrivateKey:
    """A SuperNode authentication private key (OpenSSH, ECDSA on a NIST curve)."""
    path = Path(path)
    try:
        key = serialization.load_ssh_private_key(path.read_bytes(), None)
    except OSError as exc:
        raise CertificateError(f"{path}: cannot read authentication key ({exc.strerror})") from None
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise CertificateError(f"{path}: not an unencrypted OpenSSH private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertificateError(f"{path}: an authentication key must be ECDSA (P-384), got {type(key).__name__}")
    return key


def load_auth_public_key(path: Path | str) -> ec.EllipticCurvePublicKey:
    """A SuperNode authentication public key (OpenSSH format)."""
    path = Path(path)
    try:
        key = serialization.load_ssh_public_key(path.read_bytes())
    except OSError as exc:
        raise CertificateError(f"{path}: cannot read authentication public key ({exc.strerror})") from None
    except (ValueError, UnsupportedAlgorithm):
        raise CertificateError(f"{path}: not an OpenSSH public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise CertificateError(f"{path}: an authentication key must be ECDSA (P-384), got {type(key).__name__}")
    return key


def auth_key_hash(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """keccak256 of the key's DER SubjectPublicKeyInfo: the node's ``nodeKeyHash`` on chain."""
    return keccak(public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def split_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) as (host, port); CertificateError when malformed."""
    host, sep, port = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CertificateError(f"{address!r} is not HOST:PORT")
    return host, int(port)


def require_plaintext_allowed(address: str) -> None:
    """Refuse plaintext (``--insecure``) to or on any address outside 127.0.0.0/8: it would leave the host."""
    host, _ = split_address(address)
    try:
        loopback = ipaddress.ip_address(host) in ipaddress.ip_network("127.0.0.0/8")
    except ValueError:
        loopback = False
    if not loopback:
        raise CertificateError(
            f"--insecure is refused for {address}: plaintext only on 127.0.0.0/8; use TLS (the consortium's certificates)"
        )
