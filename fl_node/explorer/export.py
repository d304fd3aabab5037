"""A static copy of the explorer: the same pages as files, for an audit report or a consortium's website.

Every page is rendered in memory first; only when all of them rendered is anything written, so
a bad ledger address or an unreadable chain leaves the target folder untouched.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from fl_node.explorer.render import Renderer, static_files
from fl_node.explorer.views import Explorer
from incentive.atomic import write_atomic


def export_site(explorer: Explorer, out: Path, audit: bool = True) -> list[Path]:
    """Write every page of ``explorer`` (overview, members, each task, each round, audit) under ``out``.

    Parameters
    ----------
    explorer : Explorer
    out : Path
        Target folder (created); existing files of the same names are replaced.
    audit : bool (default: True)
        Run the audit of the latest task and include its result.

    Returns
    -------
    list[Path]
        The files written, pages first.

    Raises
    ------
    PageError
        The ledger cannot be read (nothing is written).
    """
    renderer = Renderer(live=False)
    pages: dict[str, str] = {
        "index.html": renderer.render("overview.html", explorer.overview()),
        "members.html": renderer.render("members.html", explorer.members()),
    }
    ledger, _ = explorer.attach()
    for task_id in range(1, ledger.task_count() + 1):
        pages[f"task-{task_id}.html"] = renderer.render("task.html", explorer.task(task_id))
    downloads: dict[str, Path] = {}
    for round_id in range(1, ledger.round_count() + 1):
        context = explorer.round(round_id)
        pages[f"round-{round_id}.html"] = renderer.render("round.html", context)
        for model in context["models"]:
            if model["status"].path is not None:
                downloads[f"{model['status'].digest}.bin"] = model["status"].path
    if ledger.task_count():
        pages["audit.html"] = renderer.render("audit.html", explorer.audit(None, run=audit))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, html in pages.items():
        write_atomic(out / name, html)
        written.append(out / name)
    (out / "static").mkdir(exist_ok=True)
    for name, source in static_files().items():
        shutil.copyfile(source, out / "static" / name)
        written.append(out / "static" / name)
    if downloads:
        (out / "artifacts").mkdir(exist_ok=True)
        for name, source in downloads.items():
            shutil.copyfile(source, out / "artifacts" / name)
            written.append(out / "artifacts" / name)
    return written
