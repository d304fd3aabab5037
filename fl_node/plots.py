"""PNG figures of a federation: accuracy per round beside the centralized baseline, contributions per node."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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
