"""`fedledger task init`: a commented task file; the rule that a task file and task flags do not mix."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import click
import typer

from fl_node.cli.app import BadInput, app, console
from incentive.atomic import write_atomic

task_app = typer.Typer(help="Task files: everything that defines a federation task, for serve and demo.", no_args_is_help=True)
app.add_typer(task_app, name="task")


@task_app.command("init")
def init_command(
    out: Path = typer.Option(Path("task.toml"), "--out", help="Where to write the task file.", dir_okay=False),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a task file holding every task option with its default and a comment."""
    from fl_node.task_file import task_template

    if out.exists() and not force:
        raise BadInput(f"{out} exists; give --force to overwrite it or another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, task_template())
    console.print(f"wrote {out}; edit it, then `fedledger serve --task {out} …` or `fedledger demo --task {out}`")


def refuse_task_flags(ctx: typer.Context, params: Iterable[str]) -> None:
    """BadInput if any of ``params`` was given on the command line together with a task file."""
    given = [
        next(o for o in p.opts if o.startswith("--"))
        for p in ctx.command.params
        if p.name in set(params) and ctx.get_parameter_source(p.name) == click.core.ParameterSource.COMMANDLINE
    ]
    if given:
        raise BadInput(f"{', '.join(given)} {'conflicts' if len(given) == 1 else 'conflict'} with --task FILE: set {'it' if len(given) == 1 else 'them'} in the task file")
