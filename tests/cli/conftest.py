"""Shared by the CLI tests: running a command that must be refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fl_node.cli.app import main


@pytest.fixture
def refused(capsys: pytest.CaptureFixture[str]) -> Callable[[list[str]], str]:
    """Run ``fedledger ARGS`` expecting a refusal: exit 2, no traceback, one line (wrapped at most once).

    Returns the error's text with its whitespace folded, so a wrapped line reads as one.
    """

    def run(args: list[str]) -> str:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) <= 2
        return " ".join(err.split())

    return run
