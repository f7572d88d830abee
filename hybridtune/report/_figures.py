"""Plotly figures, made from results: the probes' (range test, momentum runs) and the study report's.

A flat module of functions: each takes a frozen result (or stored trials) and returns a
``plotly.graph_objects.Figure`` (``fig.write_html(path)`` saves it); plotly is imported when a figure is made. No
computation happens here beyond laying out what the result holds (and Optuna's parameter importances).

- :func:`best_so_far_figure`: best validation accuracy so far against cumulative cost, one line per study
  (the search starts at the probes' cost), the grid's best and the matching target drawn across.
- :func:`lr_trials_figure`: the search's trials against the LR, by what drew them.
- :func:`intermediate_values_figure`: each trial's validation accuracy per epoch; pruned trials end in a
  cross, diverged ones in a red line.
- :func:`importances_figure`: Optuna's parameter importances (its default evaluator); a figure that says
  so when there are too few completed trials.
- :func:`study_figures`: every figure of the study's report, by id (:data:`FIGURE_IDS`), built once for
  the HTML page and the dashboard.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._core import ConfigError
from ..compare import outcome_of
from ..study import keys

if TYPE_CHECKING:
    from ..compare import StudyResult
    from ..probes import MomentumRun, RangeTestResult

_log = logging.getLogger(__name__)

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


# ----------------------------------------------------------------------------------------------
# The study's report

_COLORS = {"search": "#1f77b4", "grid": "#7f7f7f", "random": "#ff7f0e"}
_OUTCOME_COLORS = {"completed": "#1f77b4", "pruned": "#ff7f0e", "diverged": "#d62728", "fail": "#7f7f7f"}
#: Figure ids as stored for optuna-dashboard (valid HTML ids).
FIGURE_IDS = ("best-vs-cost", "lr-trials", "intermediate-values", "param-importances", "range-test", "momentum-runs")
_SOURCE_COLORS = {"suggestion": "#2ca02c", "prior": "#1f77b4", "wide": "#ff7f0e", "incumbent": "#9467bd",
                  "narrow band": "#1f77b4", "enqueued": "#2ca02c", "momentum probe": "#8c564b",
                  "promoted": "#d62728"}


def pct(v: float | None) -> str:
    """A fraction as a percent with two decimals (``-`` for ``None``), as the report's figures and text show it."""
    return "-" if v is None else f"{100 * v:.2f}%"


def metric_label(result: StudyResult) -> str:
    """What the figures call a study's objective: ``validation accuracy``, or a metric of the task's own by its
    name with the way it improves, ``validation rmse (lower is better)``."""
    if result.is_accuracy:
        return "validation accuracy"
    better = "lower" if result.direction == "minimize" else "higher"
    return f"validation {result.metric_name} ({better} is better)"


def best_so_far_figure(result: StudyResult, *, x: str = "examples") -> Any:
    """Best validation accuracy so far against cumulative cost (``x``: ``examples``, ``epochs`` or
    ``seconds``), one line per study. The search's line starts at the probes' cost.

    Example:
        >>> fig = best_so_far_figure(ht.load_result("resnet-mnist5k"))  # doctest: +SKIP
    """
    import plotly.graph_objects as go

    if x not in ("examples", "epochs", "seconds"):
        raise ConfigError(f"x must be examples, epochs or seconds, but got x={x!r}.")
    # a metric of the task's own (rmse...) is shown as itself, in its units, with the way it improves
    metric = metric_label(result)
    show = pct if result.is_accuracy else (lambda v: "-" if v is None else f"{v:.4g}")
    fig = go.Figure()
    for role, o in result.outcomes.items():
        xs: list[float] = []
        ys: list[float | None] = []
        text: list[str] = []
        if o.probe_cost is not None:
            xs.append(getattr(o.probe_cost, x))
            ys.append(None)
            text.append("probes")
        for p in o.history:
            xs.append(getattr(p.cumulative, x))
            ys.append(p.best_so_far)
            text.append(f"trial {p.number} ({p.outcome}): {show(p.value)}")
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=role, line_shape="hv",
                                 line={"color": _COLORS.get(role)}, text=text, connectgaps=False,
                                 hovertemplate="%{text}<br>best so far %{y:.4f}<br>" + x + " %{x:,.4g}"))
        if o.probe_cost is not None:
            fig.add_vline(x=getattr(o.probe_cost, x), line_dash="dot", line_color=_COLORS.get(role),
                          annotation_text="probes", annotation_position="bottom right")
    c = result.comparison
    if c.grid_best_value is not None:
        fig.add_hline(y=c.grid_best_value, line_dash="dash", line_color=_COLORS["grid"],
                      annotation_text=f"grid best {show(c.grid_best_value)}")
        if c.target is not None and c.target != c.grid_best_value:
            # the noise band of the grid's best (+- match_z standard errors), or the tolerance below it
            top = c.grid_best_value + (c.grid_best_value - c.target if c.rule == "se" else 0.0)
            # the margin in the metric's units: points of accuracy, or a plain number (rmse) for another metric
            margin = c.margin if result.is_accuracy else (
                f"{c.match_z:g} standard error{'' if c.match_z == 1 else 's'} "
                f"({abs(c.grid_best_value - c.target):.4g})")
            fig.add_hrect(y0=min(c.target, top), y1=max(c.target, top), fillcolor=_COLORS["grid"], opacity=0.12,
                          line_width=0, annotation_text=f"grid best +- {margin}" if c.rule == "se" else
                          f"within {margin}", annotation_position="bottom left")
        for role, m in c.rows.items():
            if m.cost_to_match is not None and role != "grid":
                fig.add_trace(go.Scatter(x=[getattr(m.cost_to_match, x)], y=[c.target], mode="markers",
                                         marker={"symbol": "star", "size": 14, "color": _COLORS.get(role)},
                                         name=f"{role} matches the grid", showlegend=True))
    if result.budget is not None and x == "examples":
        fig.add_vline(x=result.budget["examples"], line_dash="dashdot", line_color="#2ca02c",
                      annotation_text="budget", annotation_position="bottom right")
    label = {"examples": "cumulative training examples", "epochs": "cumulative epochs",
             "seconds": "cumulative wall seconds"}[x]
    fig.update_layout(title=f"{result.name}: best {metric} against cost", xaxis_title=label,
                      yaxis_title=f"best {metric} so far", template="plotly_white",
                      legend={"orientation": "h", "y": -0.2})
    return fig


def intermediate_values_figure(trials: Any, *, title: str = "validation accuracy per epoch",
                               metric: str = "validation accuracy") -> Any:
    """Each finished trial's validation metric per epoch (from its stored ``curve``); pruned trials end
    in a cross, diverged ones are red.

    Args:
        trials: Optuna ``FrozenTrial`` objects (e.g. ``study.get_trials()``).
        title: the figure's title.
        metric: the y axis's name (:func:`metric_label` of the study's result).
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    shown: set[str] = set()
    for t in sorted(trials, key=lambda t: t.number):
        curve = t.user_attrs.get(keys.CURVE)
        if not curve:
            continue
        outcome = str(t.user_attrs.get(keys.OUTCOME, t.state.name.lower()))
        pts = [(e["epoch"], e["val_acc"]) for e in curve if e.get("val_acc") is not None]
        if not pts:
            pts = [(0, None)]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        color = _OUTCOME_COLORS.get(outcome, "#7f7f7f")
        symbols = ["circle"] * (len(xs) - 1) + ["x" if outcome == "pruned" else
                                                 "triangle-down" if outcome == "diverged" else "circle"]
        sizes = [5] * (len(xs) - 1) + [11 if outcome in ("pruned", "diverged") else 5]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=outcome, legendgroup=outcome,
                                 showlegend=outcome not in shown, line={"color": color, "width": 1.5},
                                 opacity=0.85, marker={"symbol": symbols, "size": sizes, "color": color},
                                 hovertemplate=f"trial {t.number} ({outcome})<br>epoch %{{x}}: %{{y:.4f}}"))
        shown.add(outcome)
    fig.update_layout(title=title, xaxis_title="epoch", yaxis_title=metric, template="plotly_white")
    return fig


def lr_trials_figure(result: StudyResult, trials: Any, *, title: str | None = None) -> Any:
    """Each finished search trial's last validation metric against its 1cycle peak LR (the search's LR
    parameter: at the probes' batch size when the space has one), coloured by what drew it: the range
    test's ``suggestion``, the ``prior``, the ``wide`` space or around the ``incumbent`` (``--space prior``),
    or the ``narrow band``; on the multi-fidelity ladder also the ``promoted`` trials (a rung's best, trained
    again longer: larger markers the higher the rung) and the probes' ``momentum probe`` runs. Pruned trials
    are open circles at their last epoch, diverged ones crosses at the worst end (the bottom; the top for a
    minimised metric). On the LR axis: the search's bounds and, for ``--space prior``, the prior's density.
    """
    import plotly.graph_objects as go
    from optuna.trial import TrialState

    space = result.space or {}
    lr_name = "base_lr" if space.get("ref_batch_size") else "lr"
    fig = go.Figure()
    groups: dict[str, list[tuple[float, Any, str, str, int]]] = {}
    for t in trials:
        if lr_name not in t.params or not t.state.is_finished():
            continue
        if t.user_attrs.get(keys.SOURCE) == keys.PROBE_SOURCE:
            source = "momentum probe"
        elif keys.PROMOTED_FROM in t.user_attrs:  # the ladder: a rung's best, trained again longer
            source = "promoted"
        else:
            source = "suggestion" if t.user_attrs.get(keys.SOURCE) else \
                str(t.user_attrs.get(keys.SOURCE_DRAW) or "narrow band")
        outcome = outcome_of(t)
        accs = [e.get("val_acc") for e in t.user_attrs.get(keys.CURVE) or [] if e.get("val_acc") is not None]
        lost = outcome in (keys.OUTCOME_DIVERGED, keys.OUTCOME_FAILED) or t.state == TrialState.FAIL
        y = None if lost else (accs[-1] if accs else t.value)
        symbol = "x" if lost or y is None else "circle-open" if t.state == TrialState.PRUNED else "circle"
        note = f"trial {t.number} ({outcome})"
        if t.user_attrs.get(keys.FIDELITY) is not None:  # on the ladder: its schedule's length
            note += f", {t.user_attrs[keys.FIDELITY]} epochs" + (
                f", promoted from trial {t.user_attrs[keys.PROMOTED_FROM]}" if keys.PROMOTED_FROM in t.user_attrs
                else "")
        if t.user_attrs.get(keys.SUGGESTION_MOVE):  # a suggestion that followed the trials before it
            note += f", moved {t.user_attrs[keys.SUGGESTION_MOVE]} on the evidence"
        if isinstance(t.user_attrs.get(keys.LOSS_RISE), (int, float)):
            note += f", loss climbed {t.user_attrs[keys.LOSS_RISE]:.2f} at its peak LR"
        size = 10 + 3 * int(t.user_attrs.get(keys.RUNG) or 0)
        groups.setdefault(source, []).append((float(t.params[lr_name]), y, symbol, note, size))
    # a lost trial (diverged, failed, no value) sits at the worst end: 0 for an accuracy, above the others
    # for a minimised metric, where 0 would read as the best
    values = [p[1] for pts in groups.values() for p in pts if p[1] is not None and math.isfinite(p[1])]
    minimize = result.direction == "minimize"
    worst = (1.05 * max(values) if values else 1.0) if minimize else 0.0
    groups = {src: [(p[0], worst if p[1] is None or not math.isfinite(p[1]) else float(p[1]), p[2], p[3], p[4])
                    for p in pts] for src, pts in groups.items()}
    span = [min([0.0, *values]), max([1.0, worst, *values])]
    for source, pts in groups.items():
        fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="markers", name=source,
                                 marker={"symbol": [p[2] for p in pts], "size": [p[4] for p in pts],
                                         "color": _SOURCE_COLORS.get(source, "#7f7f7f")},
                                 text=[p[3] for p in pts], hovertemplate="%{text}<br>LR %{x:.3g}: %{y:.4f}"))
    lo, hi = (space.get("lr") or (None, None))
    if lo and hi:  # a trace, not add_vline: plotly misplaces a vline's annotation on a log axis
        label = "wide bounds" if space.get("source") == "prior-guided" else "search band"
        fig.add_trace(go.Scatter(x=[lo, lo, None, hi, hi], y=[*span, None, *span], mode="lines", name=label,
                                 line={"color": "#7f7f7f", "dash": "dash"}, hoverinfo="skip"))
    prior = ((result.prior_sampler or {}).get("params") or {}).get(lr_name)
    if prior and lo and hi:
        centre, sigma = math.log10(prior["centre"]), min(2.0, 0.5 / prior["confidence"])
        xs = [10 ** (math.log10(lo) + (math.log10(hi) - math.log10(lo)) * i / 200) for i in range(201)]
        dens = [math.exp(-0.5 * ((math.log10(x) - centre) / sigma) ** 2) for x in xs]
        fig.add_trace(go.Scatter(x=xs, y=dens, mode="lines", name=f"prior (confidence {prior['confidence']:.2f})",
                                 line={"color": "#1f77b4", "dash": "dot"}, yaxis="y2", hoverinfo="skip"))
        fig.update_layout(yaxis2={"title": "prior density (peak = 1)", "overlaying": "y", "side": "right",
                                  "range": [0, 1.05], "showgrid": False})
    fig.update_xaxes(type="log", title=f"{lr_name} (1cycle peak{' at the probes batch size' if lr_name == 'base_lr' else ''})")
    fig.update_layout(title=title or f"{result.name}: the search's trials against the LR, by source",
                      yaxis_title=f"{metric_label(result)} at the last epoch", template="plotly_white",
                      legend={"orientation": "h", "y": -0.2})
    return fig


def param_importances(study: Any) -> dict[str, float]:
    """Optuna's parameter importances of ``study`` (its default evaluator), parameters with one value
    dropped. Raises ``ValueError``/``RuntimeError`` as Optuna does when there are too few trials."""
    import optuna
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        raise ValueError(f"importances need at least 2 completed trials, but the study has {len(complete)}")
    varying = sorted({k for t in complete for k in t.params
                      if len({repr(u.params.get(k)) for u in complete}) > 1})
    if not varying:
        raise ValueError("importances need a parameter that varies across completed trials")
    return dict(optuna.importance.get_param_importances(study, params=varying))


def importances_figure(study: Any, *, title: str | None = None) -> Any:
    """A bar chart of :func:`param_importances`, or a figure that says why there is none."""
    import warnings

    import plotly.graph_objects as go

    title = title or f"{study.study_name}: parameter importances"
    try:
        with warnings.catch_warnings():
            # PED-ANOVA warns when few trials make its two quantiles coincide; the figure says what it got
            warnings.simplefilter("ignore", UserWarning)
            imp = param_importances(study)
    except Exception as exc:  # too few trials, one value per parameter, evaluator limits
        fig = go.Figure()
        fig.add_annotation(text=f"no importances: {exc}", showarrow=False, x=0.5, y=0.5, xref="paper",
                           yref="paper")
        fig.update_layout(title=title, template="plotly_white", xaxis_visible=False, yaxis_visible=False)
        return fig
    names = list(imp)[::-1]
    fig = go.Figure(go.Bar(x=[imp[n] for n in names], y=names, orientation="h",
                           text=[f"{imp[n]:.2f}" for n in names], textposition="auto"))
    fig.update_layout(title=title, xaxis_title="importance (Optuna's default evaluator)", template="plotly_white")
    return fig


def study_figures(result: StudyResult, *, storage: Any) -> dict[str, Any]:
    """Every figure of the study's report, by id (see :data:`FIGURE_IDS`; a baseline's own figures are
    ``grid-...`` and ``random-...``), built from ``result`` and the stored trials. :func:`hybridtune.write_report`
    and :func:`hybridtune.save_to_dashboard` take them (``figures=``), so a run builds them once for both.

    Args:
        result: from :func:`hybridtune.run_study` or :func:`hybridtune.load_result`.
        storage: the storage the result came from (the per-trial curves are read from it).

    Example:
        >>> figs = study_figures(ht.load_result("resnet-mnist5k"), storage=url)  # doctest: +SKIP
        >>> list(figs)[:2]  # doctest: +SKIP
        ['best-vs-cost', 'lr-trials']
    """
    import optuna

    figs: dict[str, Any] = {}
    figs["best-vs-cost"] = best_so_far_figure(result)
    search = optuna.load_study(study_name=result.name, storage=storage)
    figs["lr-trials"] = lr_trials_figure(result, search.get_trials(deepcopy=False))
    metric = metric_label(result)
    figs["intermediate-values"] = intermediate_values_figure(
        search.get_trials(deepcopy=False), title=f"{result.name}: {metric} per epoch (search)", metric=metric)
    figs["param-importances"] = importances_figure(search)
    if result.priors is not None:
        try:
            figs["range-test"] = range_test_figure(result.priors.range_test)
            if result.priors.momentum_runs:
                figs["momentum-runs"] = momentum_runs_figure(result.priors.momentum_runs)
        except Exception as exc:  # a figure must never sink the report
            _log.warning("could not draw the probe figures: %s", exc)
    for role in keys.BASELINE_ROLES:
        o = result.outcomes.get(role)
        if o is None:
            continue
        s = optuna.load_study(study_name=o.study_name, storage=storage)
        figs[f"{role}-intermediate-values"] = intermediate_values_figure(
            s.get_trials(deepcopy=False), title=f"{o.study_name}: {metric} per epoch", metric=metric)
        figs[f"{role}-param-importances"] = importances_figure(s)
    return figs
