"""The one HTML page builder and its one stylesheet, for the study's report and every other page (range test,
sweep, landscape, procedure): a page opens offline, plotly.js embedded once."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f4f4f4}blockquote{color:#555;border-left:3px solid #ccc;margin:1em 0;padding-left:1em}
.fig{margin:2em 0}"""


def html_page(title: str, figures: Sequence[tuple[str, str | None, Any]], *, body_html: str = "") -> str:
    """One self-contained HTML page: ``body_html`` (headings, text, tables), then the figures, each
    ``(id, heading, figure)`` in a ``<div class='fig'>`` anchored at ``id`` (its plot ``plot-<id>``), under an
    ``<h2>`` heading unless that is ``None``. plotly.js is embedded once, with the first figure.

    Args:
        title: the browser tab's title (escaped here).
        figures: ``(id, heading, plotly figure)`` in page order; ids are valid HTML ids, unique on the page.
        body_html: what comes before the figures, as HTML.
    """
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body>", body_html]
    for i, (fid, heading, fig) in enumerate(figures):
        parts.append(f"<div class='fig' id='{fid}'>")
        if heading is not None:
            parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=i == 0, div_id=f"plot-{fid}"))
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def table_html(rows: list[dict[str, Any]]) -> str:
    """Rows of one dict each as an HTML table (floats to 4 significant digits, ``None`` as ``-``)."""
    if not rows:
        return ""
    head = "".join(f"<th>{k}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in r.values()) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "-" if v is None else str(v)
