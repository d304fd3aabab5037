"""PNG figures of a federation: accuracy per round beside the centralized baseline, contributions per node."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from incentive.atomic import write_atomic  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> None:
    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, format=Path(path).suffix[1:].lower() or "png", dpi=120)
    plt.close(fig)
    write_atomic(path, image.getvalue())


def plot_accuracy(
    path: Path,
    federated: Sequence[float],
    centralized: Sequence[float],
    *,
    title: str,
    federated_label: str = "federated (encrypted)",
) -> None:
    """Test accuracy per round, federated vs centralized with the same budget, in percent."""
    rounds = np.arange(1, len(federated) + 1)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(rounds, 100 * np.asarray(federated), marker="o", label=federated_label)
    ax.plot(rounds, 100 * np.asarray(centralized), marker="s", label="centralized, same budget")
    ax.set_xlabel("round")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)


def plot_contributions(path: Path, per_round: Mapping[str, Sequence[float]], *, title: str = "cumulative contribution") -> None:
    """Cumulative contribution score per node over the rounds (one line per node)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, values in per_round.items():
        ax.plot(np.arange(1, len(values) + 1), np.cumsum(values), marker=".", label=label)
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xlabel("round")
    ax.set_ylabel("cumulative score")
    ax.set_title(title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    _save(fig, path)


def plot_robustness(path: Path, rows: Sequence[Mapping[str, object]]) -> None:
    """Test accuracy against attacker fraction, one panel per dataset × attack, one line per defence."""
    panels = sorted({(str(r["dataset"]), str(r["attack"])) for r in rows})
    cols = min(len(panels), 5)
    n_rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(n_rows, cols, figsize=(3.2 * cols, 2.8 * n_rows), squeeze=False, sharey=False)
    for ax, (dataset, attack) in zip(axes.flat, panels):
        mine = [r for r in rows if r["dataset"] == dataset and r["attack"] == attack]
        for defence in dict.fromkeys(str(r["defence"]) for r in mine):
            points = sorted((float(r["fraction"]), float(r["accuracy"])) for r in mine if r["defence"] == defence)
            ax.plot([100 * f for f, _ in points], [100 * a for _, a in points], marker="o", label=defence)
        ax.set_title(f"{dataset}: {attack}", fontsize=9)
        ax.set_xlabel("attackers (%)")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    _save(fig, path)


def plot_privacy(path: Path, rows: Sequence[Mapping[str, object]], *, title: str, level: str = "client") -> None:
    """Test accuracy against the privacy budget ε (∞: no DP) at ``level`` (client or record), with the non-private accuracy as a line."""
    private = sorted((float(r["epsilon"]), float(r["accuracy"])) for r in rows if np.isfinite(float(r["epsilon"])))
    public = [float(r["accuracy"]) for r in rows if not np.isfinite(float(r["epsilon"]))]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([e for e, _ in private], [100 * a for _, a in private], marker="o", label=f"{level}-level DP (RDP accountant)")
    if public:
        ax.axhline(100 * public[0], color="gray", linestyle="--", label="no DP (ε = ∞)")
    ax.set_xscale("log")
    ax.set_xlabel("ε (δ fixed)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)


def plot_scaling(
    path: Path, lines: Mapping[str, Sequence[tuple[float, float]]], *, xlabel: str, ylabel: str, title: str, exponents: Mapping[str, float] | None = None
) -> None:
    """Cost against size on log-log axes, one line per label; the fitted exponent (if given) joins the label."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, points in lines.items():
        points = [(x, y) for x, y in points if y > 0]
        if not points:
            continue
        xs, ys = zip(*sorted(points))
        slope = (exponents or {}).get(label)
        ax.plot(xs, ys, marker="o", label=label if slope is None else f"{label} (slope {slope:.2f})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    _save(fig, path)
