"""`fedledger consortium certs`: the consortium's CA and the SuperLink's TLS certificate."""

from __future__ import annotations

from pathlib import Path

import typer

from fl_node.cli.app import JsonOption, console, write_json
from fl_node.cli.consortium_cmd import consortium_app


@consortium_app.command("certs")
def certs_command(
    out: Path = typer.Option(..., "--out", help="Folder to write ca.crt, ca.key, superlink.crt, superlink.key into.", file_okay=False),
    hosts: list[str] = typer.Option(..., "--host", help="Host name or IP address nodes dial to reach the SuperLink (repeatable)."),
    json_path: Path | None = JsonOption,
) -> None:
    """Write a consortium CA and a SuperLink server certificate for the given hosts (keys 0600; refuses to overwrite)."""
    from fl_node.transport.tls import write_consortium_certs

    paths = write_consortium_certs(out, hosts)
    console.print(f"wrote the consortium CA [bold]{paths.ca_cert}[/bold] (give it to every node) and its key {paths.ca_key} (keep it offline)")
    console.print(f"wrote the SuperLink certificate {paths.server_cert} for {', '.join(hosts)} and its key {paths.server_key}")
    console.print(f"serve with `fedledger serve --certs {out} --address HOST:PORT …`; nodes join with `--root-cert ca.crt`")
    write_json(
        json_path,
        {"ca_cert": str(paths.ca_cert), "ca_key": str(paths.ca_key), "server_cert": str(paths.server_cert), "server_key": str(paths.server_key), "hosts": list(hosts)},
    )
