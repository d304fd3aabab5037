"""Offline Solidity compilation with an on-disk artifact cache.

The contracts in ``contracts/`` are compiled through py-solc-x with ``solc_binary=`` the
repository's solc shim (``contracts/bin/solc``, a node script around the npm ``solc`` package),
because no native solc can be installed or downloaded here.

Every source file the contracts import (OpenZeppelin included) is read here and sent inline in the
standard-JSON input, so the compiler sees exactly the bytes that were hashed. The cache key is
the SHA-256 of that input (sources, settings) and the compiler's full version string: a cached
artifact is used only when all of them are unchanged, so a stale cache is never used.

Where things are looked up (each can be overridden by an environment variable):

``FEDLEDGER_CONTRACTS``     the contracts directory (default: ``<repo>/contracts``)
``FEDLEDGER_NODE_MODULES``  npm packages: ``solc``, ``@openzeppelin`` (default: ``<repo>/node_modules``)
``FEDLEDGER_SOLC``          the solc executable (default: the shim ``<repo>/contracts/bin/solc``)
``FEDLEDGER_CACHE``         the cache directory (default: ``<repo>/.fedledger/cache`` when the
                            repository is writable, else ``$XDG_CACHE_HOME/fedledger``)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from incentive.atomic import write_atomic
from incentive.errors import CompileError

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLC_SHIM_RELATIVE = Path("bin") / "solc"
#: Compiled when no source list is given: the ledger, its token, and the test-only attacker.
DEFAULT_SOURCES = ("FederationLedger.sol", "RewardToken.sol", "test/ReentrantMember.sol")
#: Compiler settings; the EVM target is one that py-evm (eth-tester) and anvil both execute. The
#: optimizer is tuned for many runs, as many as keep the ledger under the 24 KiB code limit
#: (22.9 KiB at 2,000 runs; 20,000 runs would need 26 KiB): a ledger is deployed once and
#: finalizes rounds for years (see docs/ledger.md).
SETTINGS: dict[str, Any] = {
    "evmVersion": "cancun",
    "optimizer": {"enabled": True, "runs": 2000},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}
CACHE_FORMAT = 1

_IMPORT_RE = re.compile(r"""^\s*import\s+(?:[^;"']*?\s+from\s+)?["']([^"']+)["']""", re.MULTILINE)


@dataclass(frozen=True)
class ContractArtifact:
    """ABI and bytecode of one compiled contract.

    Attributes
    ----------
    name : str
        Contract name, e.g. ``"FederationLedger"``.
    source : str
        Source unit the contract was compiled from, e.g. ``"FederationLedger.sol"``.
    abi : list[dict]
        The contract's ABI.
    bytecode : str
        Creation bytecode, ``0x``-prefixed hex.
    deployed_bytecode : str
        Runtime bytecode, ``0x``-prefixed hex.
    """

    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str


@dataclass(frozen=True)
class Toolchain:
    """Where the sources, the npm packages and the cache live.

    Attributes
    ----------
    contracts_dir : Path
        Directory of the ``.sol`` sources (imports of ``./x.sol`` resolve here).
    node_modules : Path
        npm packages: ``solc`` (behind the shim) and ``@openzeppelin/contracts``.
    cache_dir : Path
        Where compiled artifacts and the compiler's version string are cached.
    solc_binary : Path
        The solc executable (default: the shim ``contracts/bin/solc``).
    """

    contracts_dir: Path
    node_modules: Path
    cache_dir: Path
    solc_binary: Path

    @classmethod
    def default(cls) -> Toolchain:
        """The repository's toolchain, with the environment overrides described above."""
        contracts_dir = Path(os.environ.get("FEDLEDGER_CONTRACTS", REPO_ROOT / "contracts"))
        node_modules = Path(os.environ.get("FEDLEDGER_NODE_MODULES", REPO_ROOT / "node_modules"))
        return cls(
            contracts_dir=contracts_dir,
            node_modules=node_modules,
            cache_dir=default_cache_dir(),
            solc_binary=Path(os.environ.get("FEDLEDGER_SOLC", REPO_ROOT / "contracts" / SOLC_SHIM_RELATIVE)),
        )


def default_cache_dir() -> Path:
    """``$FEDLEDGER_CACHE``, else ``<repo>/.fedledger/cache`` if writable, else the user cache dir."""
    if env := os.environ.get("FEDLEDGER_CACHE"):
        return Path(env)
    if os.access(REPO_ROOT, os.W_OK) and (REPO_ROOT / "contracts").is_dir():
        return REPO_ROOT / ".fedledger" / "cache"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "fedledger"


def collect_sources(entry_points: tuple[str, ...], toolchain: Toolchain) -> dict[str, str]:
    """Read the entry points and, transitively, every file they import.

    Parameters
    ----------
    entry_points : tuple[str, ...]
        Source unit names relative to ``toolchain.contracts_dir``.
    toolchain : Toolchain
        Where sources and npm packages are.

    Returns
    -------
    dict[str, str]
        Source unit name -> file content, sorted by name.

    Raises
    ------
    CompileError
        When a source or an import cannot be found.
    """
    sources: dict[str, str] = {}
    pending = list(entry_points)
    while pending:
        unit = pending.pop()
        if unit in sources:
            continue
        path = _locate(unit, toolchain)
        content = path.read_text(encoding="utf-8")
        sources[unit] = content
        for target in _IMPORT_RE.findall(content):
            pending.append(_resolve_import(unit, target))
    return dict(sorted(sources.items()))


def _resolve_import(importer: str, target: str) -> str:
    """Solidity's source-unit-name rule: ``./`` and ``../`` are relative to the importing unit."""
    if not target.startswith((".", "/")):
        return target
    parts: list[str] = importer.split("/")[:-1]
    for part in target.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part not in (".", ""):
            parts.append(part)
    return "/".join(parts)


def _locate(unit: str, toolchain: Toolchain) -> Path:
    for root in (toolchain.contracts_dir, toolchain.node_modules):
        candidate = root / unit
        if candidate.is_file():
            return candidate
    raise CompileError(
        f"Solidity source {unit!r} not found under {toolchain.contracts_dir} or {toolchain.node_modules}"
        " (run `make setup` for node_modules, or set FEDLEDGER_CONTRACTS / FEDLEDGER_NODE_MODULES)"
    )


def compiler_version(toolchain: Toolchain) -> str:
    """The compiler's full version string, e.g. ``0.8.28+commit.7893614a.Emscripten.clang``.

    Asking the shim costs ~0.3 s (a node start), so the answer is cached on disk, keyed by the
    content of the shim and of the npm ``solc`` package's ``package.json`` and ``soljson.js``
    size/mtime: upgrading the npm package or editing the shim asks again.
    """
    return _compiler_version_cached(toolchain.solc_binary, toolchain.node_modules, toolchain.cache_dir)


@cache
def _compiler_version_cached(solc_binary: Path, node_modules: Path, cache_dir: Path) -> str:
    if not solc_binary.is_file():
        raise CompileError(f"solc shim not found at {solc_binary}")
    fingerprint = hashlib.sha256(solc_binary.read_bytes())
    solc_pkg = node_modules / "solc"
    for name in ("package.json", "soljson.js"):
        path = solc_pkg / name
        if not path.is_file():
            raise CompileError(f"npm package solc is missing ({path}); run `make setup`")
        stat = path.stat()
        fingerprint.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    fingerprint.update((solc_pkg / "package.json").read_bytes())
    memo = cache_dir / f"solc-version-{fingerprint.hexdigest()[:24]}.txt"
    if memo.is_file():
        return memo.read_text().strip()
    from solcx.wrapper import get_version_str_from_solc_binary

    try:
        full = subprocess.check_output([str(solc_binary), "--version"], encoding="utf8", timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise CompileError(f"cannot run the solc shim {solc_binary}: {exc}") from exc
    match = re.search(r"Version:\s*(\S+)", full)
    version = match.group(1) if match else get_version_str_from_solc_binary(solc_binary)
    write_atomic(memo, version + "\n")
    return version


def standard_json_input(sources: dict[str, str]) -> dict[str, Any]:
    """The compiler's standard-JSON input: every source inline, the fixed settings."""
    return {
        "language": "Solidity",
        "sources": {unit: {"content": content} for unit, content in sources.items()},
        "settings": SETTINGS,
    }


def cache_key(compiler: str, input_json: dict[str, Any]) -> str:
    """SHA-256 of the cache format, the compiler version and the canonical standard-JSON input."""
    digest = hashlib.sha256()
    digest.update(f"fedledger-artifacts-v{CACHE_FORMAT}\n{compiler}\n".encode())
    digest.update(json.dumps(input_json, sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()


def compile_contracts(
    entry_points: tuple[str, ...] = DEFAULT_SOURCES, toolchain: Toolchain | None = None
) -> dict[str, ContractArtifact]:
    """Compile (or load from cache) the contracts defined in ``entry_points``.

    Parameters
    ----------
    entry_points : tuple[str, ...] (default: the ledger, its token and the test attacker)
        Source unit names relative to the contracts directory.
    toolchain : Toolchain | None (default: ``Toolchain.default()``)
        Where the sources, npm packages and cache are.

    Returns
    -------
    dict[str, ContractArtifact]
        Contract name -> artifact, for the contracts defined in the entry points.

    Raises
    ------
    CompileError
        Missing sources or npm packages, or a compiler error.
    """
    toolchain = toolchain or Toolchain.default()
    sources = collect_sources(entry_points, toolchain)
    input_json = standard_json_input(sources)
    compiler = compiler_version(toolchain)
    key = cache_key(compiler, input_json)
    path = toolchain.cache_dir / f"artifacts-{key}.json"
    if path.is_file():
        try:
            cached = json.loads(path.read_text())
            if cached.get("key") == key:
                log.debug("solidity: cache hit %s", path.name)
                return _artifacts(cached["contracts"], entry_points)
        except (OSError, ValueError, KeyError):
            log.warning("solidity: unreadable cache entry %s, compiling again", path)
    log.info("solidity: compiling %d source files with solc %s", len(sources), compiler)
    contracts = _run_compiler(input_json, toolchain)
    write_atomic(path, json.dumps({"key": key, "compiler": compiler, "contracts": contracts}))
    return _artifacts(contracts, entry_points)


def _run_compiler(input_json: dict[str, Any], toolchain: Toolchain) -> dict[str, dict[str, Any]]:
    import solcx
    from solcx.exceptions import SolcError

    try:
        output = solcx.compile_standard(
            input_json, solc_binary=toolchain.solc_binary, allow_paths=[str(toolchain.contracts_dir)]
        )
    except SolcError as exc:
        raise CompileError(f"Solidity compilation failed:\n{exc}") from exc
    except OSError as exc:
        raise CompileError(f"cannot run the solc shim {toolchain.solc_binary}: {exc}") from exc
    unexpected = set(output.get("sources", {})) - set(input_json["sources"])
    if unexpected:  # an import the collector missed would make the cache key incomplete
        raise CompileError(f"the compiler read sources outside the hashed input: {sorted(unexpected)}")
    contracts: dict[str, dict[str, Any]] = {}
    for unit, defined in output.get("contracts", {}).items():
        for name, data in defined.items():
            contracts[name] = {
                "source": unit,
                "abi": data["abi"],
                "bytecode": "0x" + data["evm"]["bytecode"]["object"],
                "deployed_bytecode": "0x" + data["evm"]["deployedBytecode"]["object"],
            }
    return contracts


def _artifacts(contracts: dict[str, dict[str, Any]], entry_points: tuple[str, ...]) -> dict[str, ContractArtifact]:
    wanted = set(entry_points)
    return {
        name: ContractArtifact(
            name=name,
            source=data["source"],
            abi=data["abi"],
            bytecode=data["bytecode"],
            deployed_bytecode=data["deployed_bytecode"],
        )
        for name, data in contracts.items()
        if data["source"] in wanted
    }


@cache
def ledger_artifacts() -> dict[str, ContractArtifact]:
    """The default contracts, compiled once per process (then served from the disk cache)."""
    return compile_contracts()
