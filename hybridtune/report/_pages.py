"""Self-contained HTML pages of the range test, the probes and the diagnostics (sweep, landscape,
procedure), assembled from their results and figures with the one page builder (:func:`._html.html_page`) that
the study's report (:func:`write_report`) uses too.

Each ``*_page`` function writes one file (its folder created) and returns its path.
"""

from __future__ import annotations

import html
from pathlib import Path

from .._core import write_text
from ..diagnostics import LandscapeResult, ProcedureResult, SweepResult
from ..probes import Priors, RangeTestResult
from ._diagnostic_figures import (checks_figure, landscape_figure, lr_ramp_figure, momentum_ramp_figure, valley_figure,
                                  width_figure)
from ._figures import momentum_runs_figure, range_test_figure
from ._html import html_page, table_html


def _write(path: str | Path, page: str) -> Path:
    return write_text(path, page, what="the page path")


def _h1(title: str) -> str:
    return f"<h1>{html.escape(title)}</h1>"


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
    figures = [("range-test", range_test_figure(result))]
    if priors is not None and priors.momentum_runs:
        figures.append(("momentum-runs", momentum_runs_figure(priors.momentum_runs)))
    return _write(path, html_page(title, [(fid, fig.layout.title.text or "", fig) for fid, fig in figures],
                                  body_html=_h1(title)))


def sweep_page(result: SweepResult, path: str | Path, *, title: str = "Sweep") -> Path:
    """The sweep's valley plot, and its time-against-size plot when it ran several widths."""
    figures = [("valley", "The valley", valley_figure(result))]
    if result.width_runs:
        figures.append(("model-size", "Time against model size", width_figure(result)))
    return _write(path, html_page(title, figures, body_html=_h1(title)))


def landscape_page(result: LandscapeResult, path: str | Path, *, title: str = "Landscape") -> Path:
    """Both weight-space line searches on one page."""
    return _write(path, html_page(title, [("line-searches", "Line searches", landscape_figure(result))],
                                  body_html=_h1(title)))


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
    figures = [("lr-ramp", "LR raised every epoch", lr_ramp_figure(r))]
    if r.momentum_ramp is not None:
        figures.append(("momentum-ramp", "Momentum raised every epoch", momentum_ramp_figure(r)))
    figures.append(("checks", "Checks", checks_figure(r)))
    return _write(path, html_page(title, figures, body_html=_h1(title) + "\n" + intro))
