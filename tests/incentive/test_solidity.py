"""Offline compilation and the artifact cache: keyed by every source, the compiler and the settings."""

from __future__ import annotations

import json
from pathlib import Path
import shutil
from dataclasses import fields, replace

import pytest
import solcx

from incentive import solidity
from incentive.errors import CompileError
from incentive.ledger import LedgerEvent
from incentive.ledger.records import snake_case
from incentive.rewards import PROPORTIONAL, policy_named
from incentive.solidity import Toolchain, collect_sources, compile_contracts, compiler_version, ledger_artifacts

PAIR = {
    "Main.sol": 'pragma solidity 0.8.28;\nimport {Base} from "./lib/Base.sol";\ncontract Main is Base { function f() external pure returns (uint256) { return VALUE; } }\n',
    "lib/Base.sol": "pragma solidity 0.8.28;\ncontract Base { uint256 internal constant VALUE = 1; }\n",
}


def make_toolchain(root):
    """The repository's compiler and npm packages, a private contracts dir and cache under ``root``."""
    sources = root / "contracts"
    for name, text in PAIR.items():
        (sources / name).parent.mkdir(parents=True, exist_ok=True)
        (sources / name).write_text(text)
    return replace(Toolchain.default(), contracts_dir=sources, cache_dir=root / "cache")


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """A cache holding the compiled PAIR (compiled once per module)."""
    toolchain = make_toolchain(tmp_path_factory.mktemp("warm"))
    compile_contracts(("Main.sol",), toolchain)
    return toolchain.cache_dir


@pytest.fixture
def toolchain(tmp_path, warm_cache):
    """A private copy of the PAIR sources and of the warm cache."""
    toolchain = make_toolchain(tmp_path)
    shutil.copytree(warm_cache, toolchain.cache_dir)
    return toolchain


def counting_compiler(monkeypatch):
    calls = []
    real = solcx.compile_standard

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(solcx, "compile_standard", spy)
    return calls


def test_the_ledger_compiles_with_its_openzeppelin_imports_hashed():
    sources = collect_sources(solidity.DEFAULT_SOURCES, Toolchain.default())

    assert {"@openzeppelin/contracts/access/AccessControl.sol", "@openzeppelin/contracts/utils/ReentrancyGuard.sol",
            "@openzeppelin/contracts/token/ERC20/ERC20.sol", "FederationLedger.sol"} <= sources.keys()
    artifacts = ledger_artifacts()
    assert {"FederationLedger", "RewardToken", "ReentrantMember"} <= artifacts.keys()
    assert len(artifacts["FederationLedger"].deployed_bytecode) // 2 - 1 < 24_576  # EIP-170 code size limit


def test_a_second_compile_is_served_from_the_cache(toolchain, monkeypatch):
    calls = counting_compiler(monkeypatch)

    first = compile_contracts(("Main.sol",), toolchain)
    second = compile_contracts(("Main.sol",), toolchain)

    assert calls == []
    assert first == second and set(first) == {"Main"}
    assert first["Main"].abi[0]["name"] == "f" and first["Main"].bytecode.startswith("0x6080")
    assert len(list(toolchain.cache_dir.glob("artifacts-*.json"))) == 1


def test_editing_an_imported_file_invalidates_the_cache(toolchain, monkeypatch):
    before = compile_contracts(("Main.sol",), toolchain)  # from the warm cache
    calls = counting_compiler(monkeypatch)
    (toolchain.contracts_dir / "lib" / "Base.sol").write_text(PAIR["lib/Base.sol"].replace("= 1;", "= 2;"))

    after = compile_contracts(("Main.sol",), toolchain)

    assert calls == [1]
    assert after["Main"].bytecode != before["Main"].bytecode


def test_other_settings_or_compiler_mean_another_key():
    sources = {"A.sol": "contract A {}"}
    base = solidity.standard_json_input(sources)
    other_settings = json.loads(json.dumps(base))
    other_settings["settings"]["optimizer"]["runs"] = 999

    keys = {
        solidity.cache_key("0.8.28+commit.7893614a", base),
        solidity.cache_key("0.8.28+commit.7893614a", other_settings),
        solidity.cache_key("0.8.29+commit.00000000", base),
        solidity.cache_key("0.8.28+commit.7893614a", solidity.standard_json_input({"A.sol": "contract A { }"})),
    }
    assert len(keys) == 4


def test_a_corrupt_cache_entry_is_compiled_again(toolchain, monkeypatch):
    (entry,) = toolchain.cache_dir.glob("artifacts-*.json")
    entry.write_text("{ not json")
    calls = counting_compiler(monkeypatch)

    artifacts = compile_contracts(("Main.sol",), toolchain)

    assert calls == [1] and "Main" in artifacts
    assert json.loads(entry.read_text())["contracts"]["Main"]["abi"]


def test_the_compiler_version_is_asked_once_and_remembered(toolchain):
    solidity._compiler_version_cached.cache_clear()

    version = compiler_version(toolchain)

    assert version.startswith("0.8.28+commit.")
    (memo,) = toolchain.cache_dir.glob("solc-version-*.txt")
    memo.write_text("0.8.28+commit.cached\n")
    solidity._compiler_version_cached.cache_clear()
    assert compiler_version(toolchain) == "0.8.28+commit.cached"
    solidity._compiler_version_cached.cache_clear()


def test_missing_sources_and_compile_errors_are_named(toolchain):
    (toolchain.contracts_dir / "Broken.sol").write_text("pragma solidity 0.8.28;\ncontract Broken { function }\n")

    with pytest.raises(CompileError, match="'Absent.sol' not found"):
        compile_contracts(("Absent.sol",), toolchain)
    with pytest.raises(CompileError, match="Solidity compilation failed"):
        compile_contracts(("Broken.sol",), toolchain)


def test_event_dataclasses_are_the_abi_events():
    """Each ledger event is declared once, as a dataclass whose fields are the ABI's arguments."""
    abi = ledger_artifacts()["FederationLedger"].abi
    declared = {e["name"]: [snake_case(i["name"]) for i in e["inputs"]] for e in abi if e["type"] == "event"}
    registered = {
        name: [f.name for f in fields(cls) if f.name not in ("block_number", "tx_hash", "log_index")]
        for name, cls in LedgerEvent.registry.items()
    }
    assert registered == declared


def test_the_ledger_names_its_reward_policy_and_the_mirror_exists():
    """The ledger's composed policy module reports a name that the Python mirror answers to."""
    abi = ledger_artifacts()["FederationLedger"].abi
    assert any(e.get("name") == "rewardPolicy" for e in abi)
    assert policy_named("ProportionalRewardPolicy") is PROPORTIONAL


def test_every_event_and_error_of_the_ledger_carries_natspec():
    """Each ``event`` and ``error`` declared in the ledger's sources has a /// comment right above it."""
    contracts = Path(solidity.REPO_ROOT) / "contracts"
    missing = []
    sources = [s for s in sorted(contracts.rglob("*.sol")) if s.relative_to(contracts).parts[0] not in {"test", "invariant"}]
    assert len(sources) >= 6
    for source in sources:
        lines = source.read_text().splitlines()
        for number, line in enumerate(lines):
            if line.strip().startswith(("event ", "error ")) and not lines[number - 1].strip().startswith("///"):
                missing.append(f"{source.relative_to(contracts)}:{number + 1}: {line.strip()}")
    assert missing == []
