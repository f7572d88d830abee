"""Plotly figures, made from results. plotly is imported here only, and only when a figure is made.

A flat module of functions: each takes a frozen result and returns a ``plotly.graph_objects.Figure``
(``fig.write_html(path)`` saves it). No computation happens here beyond laying out what the result holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..probes import MomentumRun, RangeTestResult

_SUGGESTION_STYLE = {
    "hybridtune": ("#d62728", "solid"),
    "steepest": ("#2ca02c", "dot"),
    "valley": ("#9467bd", "dash"),
    "min_div10": ("#8c564b", "dashdot"),
}


def _finite_pairs(xs: Sequence[float], ys: Sequence[float | None]) -> tuple[list[float], list[float]]:
    pairs = [(x, y) for x, y in zip(xs, ys) if y is not None and math.isfinite(y) and math.isfinite(x)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def range_test_figure(result: RangeTestResult, *, title: str | None = None) -> Any:
    """Loss against LR on a log axis: raw and smoothed loss, each suggestion, and the band shaded.

    With validation mode on, the validation loss at its LRs is drawn too.

    Args:
        result: a :class:`hybridtune.RangeTestResult`.
        title: the figure title (default: optimizer, mode and why the sweep stopped).

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="cnn", data="synthetic:n=400", device="cpu")
        >>> fig = ht.range_test_figure(ht.lr_range_test(task, steps=60, batch_size=32))
        >>> fig.layout.xaxis.type
        'log'
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    x, y = _finite_pairs(result.lrs, result.losses)
    fig.add_trace(go.Scatter(x=x, y=y, mode="markers", name="loss (raw)", marker={"size": 4, "opacity": 0.45},
                             hovertemplate="lr %{x:.3g}<br>loss %{y:.4g}<extra></extra>"))
    xs, ys = _finite_pairs(result.lrs, result.smoothed)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=f"loss (moving average, beta {result.smooth:g})",
                             hovertemplate="lr %{x:.3g}<br>smoothed %{y:.4g}<extra></extra>"))
    if result.val_losses:
        xv, yv = _finite_pairs(result.val_lrs, result.val_losses)
        fig.add_trace(go.Scatter(x=xv, y=yv, mode="lines+markers", name="validation loss (fixed subset)"))
    if result.band is not None:
        fig.add_vrect(x0=result.band.lr_min, x1=result.band.lr_max, fillcolor="#d62728", opacity=0.12,
                      line_width=0, annotation_text="band", annotation_position="top left")
    finite = [v for v in y if math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    for name, lr in result.suggestions.items():
        color, dash = _SUGGESTION_STYLE.get(name, ("#7f7f7f", "dot"))
        label = "hybridtune lr_max" if name == "hybridtune" else name
        fig.add_trace(go.Scatter(x=[lr, lr], y=[lo, hi], mode="lines", name=f"{label}: {lr:.3g}",
                                 line={"color": color, "dash": dash, "width": 2}))
    fig.update_xaxes(type="log", title="learning rate")
    fig.update_yaxes(title="training loss")
    if finite:
        # the blow-up would squash the interesting part: show up to a little above the start
        start = finite[0]
        fig.update_yaxes(range=[lo - 0.05 * (start - lo + 1e-9), max(start, lo) + 0.6 * (start - lo + 1e-9)])
    fig.update_layout(title=title or f"LR range test: {result.optimizer}, {result.mode} sweep, "
                                     f"{len(result.lrs)} steps ({result.stopped})",
                      template="plotly_white", legend={"orientation": "h", "y": -0.2})
    return fig


def momentum_runs_figure(runs: Sequence[MomentumRun], *, title: str | None = None) -> Any:
    """The short momentum runs: training loss per step (left) and validation loss per epoch (right).

    Args:
        runs: :class:`hybridtune.MomentumRun` results, e.g. ``priors.momentum_runs``.
        title: the figure title.

    Example:
        >>> import hybridtune as ht
        >>> task = ht.Task(model="cnn", data="synthetic:n=400", optimizer="momentum", device="cpu")
        >>> fig = ht.momentum_runs_figure(ht.momentum_runs(task, lr=0.05, momenta=(0.95, 0.9), batch_size=32))
        >>> len(fig.data)
        4
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("training loss per step", "validation loss per epoch"))
    ok = [r for r in runs if r.val_loss is not None]
    best = min(ok, key=lambda r: r.val_loss).momentum if ok else None  # type: ignore[arg-type,return-value]
    for r in runs:
        name = f"momentum {r.momentum:g}" + (" (best)" if r.momentum == best else "")
        width = 3 if r.momentum == best else 1.5
        sx, sy = _finite_pairs(list(range(1, len(r.step_losses) + 1)), r.step_losses)
        fig.add_trace(go.Scatter(x=sx, y=sy, mode="lines", name=name, legendgroup=name, line={"width": width}),
                      row=1, col=1)
        ex, ey = _finite_pairs(list(range(1, len(r.val_losses) + 1)), r.val_losses)
        fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines+markers", name=name, legendgroup=name, showlegend=False,
                                 line={"width": width}), row=1, col=2)
    fig.update_xaxes(title="step", row=1, col=1)
    fig.update_xaxes(title="epoch", row=1, col=2)
    fig.update_yaxes(title="loss", row=1, col=1)
    fig.update_layout(title=title or "Short momentum runs (Smith): best by validation loss",
                      template="plotly_white")
    return fig
