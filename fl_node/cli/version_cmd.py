"""`fedledger version`: the installed release."""

from importlib.metadata import version

from fl_node.cli.app import app, console


@app.command("version")
def version_command() -> None:
    """Print the fedledger version."""
    console.print(version("fedledger"))
