"""The `fedledger` command. Sub-command groups live in sibling modules and register here."""

from fl_node.cli.app import app, main

__all__ = ["app", "main"]
