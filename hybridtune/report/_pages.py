"""Self-contained HTML pages of the range test, the probes and the diagnostics (sweep, landscape,
procedure), assembled from their results and figures; the study's report is :func:`write_report`.

Each ``*_page`` function writes one file (its folder created) and returns its path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._core import write_text
from ..diagnostics import LandscapeResult, ProcedureResult, SweepResult
from ..probes import Priors, RangeTestResult
from ._diagnostic_figures import (checks_figure, landscape_figure, lr_ramp_figure, momentum_ramp_figure, valley_figure,
                                  width_figure)
from ._figures import momentum_runs_figure, range_test_figure


def html_page(title: str, figures: Sequence[tuple[str, Any]], *, intro_html: str = "") -> str:
    """One self-contained HTML page: a title, an intro and figures (plotly.js embedded once)."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
             "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
             "</style></head><body>", f"<h1>{title}</h1>", intro_html]
    for i, (heading, fig) in enumerate(figures):
        parts.append(f"<h2>{heading}</h2>")
        parts.append(fig.to_html(full_html=False, include_plotlyjs="inline" if i == 0 else False))
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


def _write(path: str | Path, html: str) -> Path:
    return write_text(path, html, what="the page path")


def range_test_page(result: RangeTestResult, path: str | Path, *, priors: Priors | None = None,
                    title: str = "hybridtune range test") -> Path:
    """The range test's figure, and the short momentum runs' when ``priors`` holds them.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
        >>> r = ht.lr_range_test(task, steps=30, batch_size=32)  # doctest: +SKIP
        >>> range_test_page(r, "runs/lr.html").name  # doctest: +SKIP
        'lr.html'
    """
    figures = [range_test_figure(result)]
    if priors is not None and priors.momentum_runs:
        figures.append(momentum_runs_figure(priors.momentum_runs))
    return _write(path, html_page(title, [(fig.layout.title.text or "", fig) for fig in figures]))


def sweep_page(result: SweepResult, path: str | Path, *, title: str = "Sweep") -> Path:
    """The sweep's valley plot, and its time-against-size plot when it ran several widths."""
    figures = [("The valley", valley_figure(result))]
    if result.width_runs:
        figures.append(("Time against model size", width_figure(result)))
    return _write(path, html_page(title, figures))


def landscape_page(result: LandscapeResult, path: str | Path, *, title: str = "Landscape") -> Path:
    """Both weight-space line searches on one page."""
    return _write(path, html_page(title, [("Line searches", landscape_figure(result))]))


def procedure_page(result: ProcedureResult, path: str | Path, *, title: str = "Procedure") -> Path:
    """The procedure's report: the chosen setting, the checks' verdicts, the red flags and the figures
    (the LR ramp, the momentum ramp when one ran, the checks against the chosen constant setting).

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu")
        >>> r = ht.procedure(task, epochs=2, batch_size=32, ramp_epochs=3, momentum_epochs=2)  # doctest: +SKIP
        >>> procedure_page(r, "runs/procedure.html").name  # doctest: +SKIP
        'procedure.html'
    """
    r = result
    flags = [{"check": f.name, "flag": "RED FLAG" if f.triggered else "ok", "finding": f.message}
             for f in r.red_flags]
    intro = (f"<p>Chosen: LR {r.lr:.3g} ({r.lr_ramp.reasoning}); momentum {r.momentum:.3g}.</p>"
             "<h2>Verdicts</h2><ul>" + "".join(f"<li>{c.verdict}</li>" for c in r.checks) + "</ul>"
             "<h2>Red flags</h2>" + table_html(flags))
    figures = [("LR raised every epoch", lr_ramp_figure(r))]
    if r.momentum_ramp is not None:
        figures.append(("Momentum raised every epoch", momentum_ramp_figure(r)))
    figures.append(("Checks", checks_figure(r)))
    return _write(path, html_page(title, figures, intro_html=intro))
