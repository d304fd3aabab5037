"""Jinja2 rendering of the explorer's pages, shared by the live server and the static export.

Every page links to the others by relative file names (``index.html``, ``members.html``,
``task-1.html``, ``round-3.html``, ``audit.html``), so the served site and an exported folder
are the same site. Chart.js is served from the npm package in ``node_modules``: no CDN.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from fl_node.explorer import formatting
from incentive.chain import REPO_ROOT

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
CHART_JS = REPO_ROOT / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js"

_COPY_ICON = (
    '<svg viewBox="0 0 16 16" width="12" height="12" aria-hidden="true"><rect x="5" y="5" width="9" height="9" rx="1.5" '
    'fill="none" stroke="currentColor" stroke-width="1.5"/><path d="M3 11V3a1 1 0 0 1 1-1h7" fill="none" '
    'stroke="currentColor" stroke-width="1.5"/></svg>'
)
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{64}|0x[0-9a-fA-F]{40}|\bround (\d+)")


def static_files() -> dict[str, Path]:
    """The files served under ``static/``: the stylesheet, the page script and Chart.js."""
    return {
        "explorer.css": STATIC / "explorer.css",
        "explorer.js": STATIC / "explorer.js",
        "chart.umd.min.js": CHART_JS,
    }


def hexchip(value: str | None, names: dict[str, str] | None = None, keep: int = 6) -> Markup:
    """A shortened address or hash with the full value on hover and a copy button."""
    if not value:
        return Markup('<span class="muted">—</span>')
    label = (names or {}).get(value)
    shown = escape(formatting.short(value, keep))
    name = Markup(f'<span class="who">{escape(label)}</span> ') if label else Markup("")
    return Markup(
        f'{name}<code class="hex" title="{escape(value)}" data-full="{escape(value)}">{shown}</code>'
        f'<button class="copy" type="button" data-copy="{escape(value)}" title="copy {escape(value)}" aria-label="copy">{_COPY_ICON}</button>'
    )


def linkify(text: str, names: dict[str, str] | None = None) -> Markup:
    """An audit detail with its addresses and hashes as chips and ``round N`` as links to the round."""
    out = []
    last = 0
    for match in _ADDRESS.finditer(text):
        out.append(escape(text[last : match.start()]))
        if match.group(1):
            out.append(Markup(f'<a href="round-{int(match.group(1))}.html">round {int(match.group(1))}</a>'))
        else:
            out.append(hexchip(match.group(0), names))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def number(text: str, value: int | float | None, css: str = "num") -> Markup:
    """A readable number whose exact on-chain value is in ``data-value`` and on hover."""
    if value is None:
        return Markup('<span class="muted">—</span>')
    return Markup(f'<span class="{css}" data-value="{value}" title="{value}">{escape(text)}</span>')


class Renderer:
    """Renders page contexts into HTML.

    Parameters
    ----------
    live : bool
        Served pages poll for new blocks and offer the audit button; exported pages are static.
    """

    def __init__(self, live: bool):
        self.live = live
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        f = formatting
        self.env.filters.update(
            short=f.short,
            utc=f.utc,
            integer=f.integer,
            hexchip=hexchip,
            linkify=linkify,
        )
        self.env.globals.update(
            tokens=lambda v, sym="FRW": number(f.tokens(v, sym), v),
            eth=lambda v: number(f.eth(v), v),
            fraction=lambda v: number(f.fraction(v), v),
            percent=lambda v: number(f.percent(v), v) if v is not None else number("", None),
            count=lambda v: number(f.integer(v), v),
            tojson=lambda v: Markup(json.dumps(v).replace("</", "<\\/")),
        )

    def render(self, template: str, context: dict[str, Any]) -> str:
        """The HTML of ``template`` with ``context`` (plus ``live``)."""
        return self.env.get_template(template).render(live=self.live, **context)

    def error(self, status: int, message: str, context: dict[str, Any] | None = None) -> str:
        """A page that says what is wrong."""
        frame = {"ledger_address": None, "chain_id": None, "head": None, "tasks_nav": [], "names": {}}
        return self.render("error.html", {**frame, **(context or {}), "page": "error", "status": status, "message": message})
