"""Run Slither over the Foundry project and fail on any finding that is not triaged.

A finding is keyed by its detector and the code it points at (contract, function signature,
variable or expression), never by line numbers, so editing other parts of a contract keeps its
triage valid. The triage file (``contracts/slither.triage.json``) lists each accepted finding
with the reason it is accepted.

Usage: ``python contracts/ci/slither_gate.py [--slither PATH] [--triage FILE] [--write-new]``.
Exit status: 0 when every finding is triaged, 1 otherwise, 2 when Slither itself failed.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TRIAGE = REPO_ROOT / "contracts" / "slither.triage.json"
REPORT = REPO_ROOT / "out" / "slither.json"
IMPACTS = ("High", "Medium", "Low", "Informational", "Optimization")


def element_key(element: dict) -> str:
    """Name an element of a finding without its source position.

    Parameters
    ----------
    element : dict
        One entry of a Slither result's ``elements``.

    Returns
    -------
    str
        ``Contract.function(signature)`` for a function, with ``: expression`` for a node and
        ``: variable`` for a local variable.
    """
    fields = element.get("type_specific_fields", {})
    parent = fields.get("parent", {})
    kind = element["type"]
    if kind in ("function", "event", "modifier"):
        return f"{parent.get('name', '?')}.{fields.get('signature', element['name'])}"
    if kind == "node":
        return f"{element_key(parent)}: {element['name']}"
    if kind == "variable" and parent.get("type") == "function":
        return f"{element_key(parent)}: {element['name']}"
    if kind == "variable" and parent:
        return f"{parent.get('name', '?')}.{element['name']}"
    return f"{kind} {element['name']}"


def finding_key(result: dict) -> str:
    """Key of one Slither result: its detector and the first element it names."""
    return f"{result['check']} @ {element_key(result['elements'][0])}"


def run_slither(slither: str) -> list[dict]:
    """Run Slither on the repository's Foundry project and return its detector results."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.unlink(missing_ok=True)
    env = dict(os.environ, FOUNDRY_OUT="out/forge-slither")
    proc = subprocess.run(
        [slither, ".", "--json", str(REPORT)], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    if not REPORT.is_file():
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit("slither produced no report")
    report = json.loads(REPORT.read_text())
    if not report.get("success"):
        raise SystemExit(f"slither failed: {report.get('error')}")
    return report.get("results", {}).get("detectors", [])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slither", default="slither", help="the slither executable")
    parser.add_argument("--triage", type=Path, default=DEFAULT_TRIAGE, help="triage file")
    parser.add_argument(
        "--write-new", action="store_true", help="append untriaged findings with reason TODO (then edit)"
    )
    args = parser.parse_args()
    try:
        results = run_slither(args.slither)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    triage = json.loads(args.triage.read_text()) if args.triage.is_file() else {"findings": []}
    accepted = {entry["key"]: entry for entry in triage["findings"]}
    found = {finding_key(r): r for r in results}
    untriaged = [k for k in found if k not in accepted or not accepted[k].get("reason", "").strip()]
    stale = [k for k in accepted if k not in found]

    by_impact = collections.Counter(r["impact"] for r in results)
    open_by_impact = collections.Counter(found[k]["impact"] for k in untriaged)
    summary = ", ".join(f"{i}: {by_impact[i]} ({open_by_impact[i]} untriaged)" for i in IMPACTS if by_impact[i])
    print(f"slither: {len(results)} findings [{summary or 'none'}], {len(untriaged)} untriaged")
    for key in stale:
        print(f"  triaged but no longer reported (remove it): {key}")
    for key in untriaged:
        r = found[key]
        print(f"  UNTRIAGED {r['impact']}: {key}\n    {r['description'].strip().splitlines()[0]}")
    if args.write_new and untriaged:
        for key in untriaged:
            triage["findings"].append({"key": key, "impact": found[key]["impact"], "reason": ""})
        args.triage.write_text(json.dumps(triage, indent=2) + "\n")
    return 1 if untriaged else 0


if __name__ == "__main__":
    sys.exit(main())
