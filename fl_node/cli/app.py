"""Root typer app, shared options, and the one place where errors become exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from fl_node.errors import FlNodeError
from fl_node.transport.deployment import check_poll_interval
from incentive.atomic import write_atomic
from incentive.errors import IncentiveError

app = typer.Typer(
    name="fedledger",
    help="Blockchain-incentivized federated learning: encrypted updates, an on-chain incentive ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
bench_app = typer.Typer(help="Benchmarks that write JSON figures.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")

console = Console()
err_console = Console(stderr=True)

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2


class BadInput(Exception):
    """Raised by CLI code for invalid options; becomes exit code 2."""


def int_list(text: str, flag: str) -> tuple[int, ...]:
    """The comma-separated integers of option ``flag`` (``_`` separators allowed); BadInput otherwise."""
    try:
        values = tuple(int(v.replace("_", "")) for v in text.split(",") if v.strip())
    except ValueError:
        raise BadInput(f"{flag} must be comma-separated integers, got {text!r}") from None
    if not values:
        raise BadInput(f"{flag} needs at least one value")
    return values


def poll_interval_flag(value: float) -> float:
    """``--poll-interval``'s value when it is in range (:func:`~fl_node.transport.deployment.check_poll_interval`); BadInput otherwise."""
    try:
        return check_poll_interval(value)
    except ValueError as exc:
        raise BadInput(f"--poll-interval: {exc}") from None


def write_json(path: Path | None, payload: dict[str, Any]) -> None:
    """Write a command's results to ``path`` (parents created, atomically), if a path was given."""
    if path is None:
        return
    write_atomic(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")


JsonOption = typer.Option(None, "--json", help="Write the results as JSON to this path.", dir_okay=False)


def _register_commands() -> None:
    """Import every sibling module of this package; each attaches its commands to ``app``/``bench_app``."""
    import importlib
    import pkgutil

    import fl_node.cli as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name != "app":
            importlib.import_module(f"fl_node.cli.{info.name}")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app, mapping known errors to exit codes."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
    _register_commands()
    try:
        # Outside standalone mode click returns the code of a typer.Exit instead of exiting.
        code = app(args=args, standalone_mode=False)
    except (FlNodeError, IncentiveError, BadInput) as exc:
        if debug:
            raise
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_BAD_INPUT)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        sys.exit(130)
    except Exception as exc:  # click usage errors and anything unexpected
        import click

        if isinstance(exc, click.exceptions.UsageError):
            exc.show()
            sys.exit(EXIT_BAD_INPUT)
        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if debug:
            raise
        err_console.print(f"[red]error:[/red] {type(exc).__name__}: {exc}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_BAD_INPUT)
    if isinstance(code, int) and code:
        sys.exit(code)
