"""`fedledger bench misbehaviour`: do free-riders and label-flippers end up at the bottom of the ledger?"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
import typer
from rich.progress import Progress
from rich.table import Table

from fl_node.cli.app import BadInput, JsonOption, bench_app, console, write_json
from fl_node.demo import DemoConfig, run_demo, setup_federation
from fl_node.task import CustodyConfig, DataConfig, ScoringConfig, TaskConfig
from incentive.chain import embedded_chain
from incentive.fixedpoint import from_fixed


def _ranking(result) -> dict[str, object]:
    """Who is where: the misbehaving nodes' places and whether they out-earned any honest node."""
    ledger = result.federation.ledger
    rows = [
        (n.behaviour_name, ledger.member(n.participant_id).cumulative_score, ledger.member(n.participant_id).total_reward)
        for n in result.federation.nodes
    ]
    bad = [r for r in rows if r[0] != "honest"]
    honest = [r for r in rows if r[0] == "honest"]
    lowest = sorted(rows, key=lambda r: r[1])[: len(bad)]
    return {
        "misbehaving_lowest": all(r[0] != "honest" for r in lowest),
        "misbehaving_never_out_earn_honest": max(r[2] for r in bad) <= min(r[2] for r in honest),
        "nodes": [{"behavior": b, "score": from_fixed(s), "reward": w / 10**18} for b, s, w in rows],
        "final_accuracy": result.rounds[-1].test_accuracy,
        "centralized_accuracy": result.centralized_accuracy,
        "audit_ok": result.audit.ok,
    }


@bench_app.command("misbehaviour")
def bench_misbehaviour(
    datasets: str = typer.Option("breast_cancer,digits", "--datasets", help="Comma-separated datasets."),
    seeds: int = typer.Option(5, "--seeds", help="Seeds 0..K-1 per dataset."),
    nodes: int = typer.Option(8, "--nodes"),
    free_riders: int = typer.Option(2, "--free-riders"),
    label_flippers: int = typer.Option(1, "--label-flippers"),
    rounds: int = typer.Option(8, "--rounds"),
    scorer: str = typer.Option("gtg", "--scorer"),
    key_bits: int = typer.Option(2048, "--key-bits"),
    json_path: Path | None = JsonOption,
) -> None:
    """Run the demo federation over datasets and seeds; count how often the misbehaving nodes rank lowest."""
    names = [d.strip() for d in datasets.split(",") if d.strip()]
    if not names or seeds < 1:
        raise BadInput("give at least one dataset and one seed")
    torch.set_num_threads(1)
    runs: dict[str, list[dict[str, object]]] = {name: [] for name in names}
    with Progress(console=console) as progress, tempfile.TemporaryDirectory() as tmp:
        bar = progress.add_task("federations", total=len(names) * seeds)
        for name in names:
            for seed in range(seeds):
                task = TaskConfig(
                    data=DataConfig(dataset=name, nodes=nodes),
                    custody=CustodyConfig(key_bits=key_bits),
                    scoring=ScoringConfig(scorer=scorer),
                    rounds=rounds,
                    seed=seed,
                )
                config = DemoConfig(task, free_riders, label_flippers)
                federation = setup_federation(config, embedded_chain(), Path(tmp) / f"{name}-{seed}")
                runs[name].append({"seed": seed, **_ranking(run_demo(federation))})
                progress.advance(bar)
    summary = {
        name: {
            "misbehaving_lowest_seeds": sum(r["misbehaving_lowest"] for r in rs),
            "never_out_earn_seeds": sum(r["misbehaving_never_out_earn_honest"] for r in rs),
            "seeds": len(rs),
            "mean_final_accuracy": sum(r["final_accuracy"] for r in rs) / len(rs),
            "mean_centralized_accuracy": sum(r["centralized_accuracy"] for r in rs) / len(rs),
        }
        for name, rs in runs.items()
    }
    table = Table(title=f"{free_riders} free-riders + {label_flippers} label-flippers among {nodes} nodes, {scorer}")
    for column in ("dataset", "misbehaving lowest", "never out-earn honest", "accuracy", "centralized"):
        table.add_column(column)
    for name, s in summary.items():
        table.add_row(
            name, f"{s['misbehaving_lowest_seeds']}/{s['seeds']}", f"{s['never_out_earn_seeds']}/{s['seeds']}",
            f"{s['mean_final_accuracy']:.3f}", f"{s['mean_centralized_accuracy']:.3f}",
        )
    console.print(table)
    write_json(
        json_path,
        {"nodes": nodes, "free_riders": free_riders, "label_flippers": label_flippers, "rounds": rounds,
         "scorer": scorer, "key_bits": key_bits, "summary": summary, "runs": runs},
    )
