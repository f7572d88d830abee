"""The study's report: plotly figures, one HTML page, and the same summary saved for optuna-dashboard.

Figures are laid out from results that were computed elsewhere (the study, compare and pipeline stages); nothing here
changes a number. plotly is imported here (and in ``_figures``) only, when a figure is made.

- :func:`best_so_far_figure`: best validation accuracy so far against cumulative cost, one line per study
  (the search starts at the probes' cost), the grid's best and the matching target drawn across.
- :func:`intermediate_values_figure`: each trial's validation accuracy per epoch; pruned trials end in a
  cross, diverged ones in a red line.
- :func:`importances_figure`: Optuna's parameter importances (its default evaluator); a figure that says
  so when there are too few completed trials.
- :func:`write_report` / :func:`save_to_dashboard`: the HTML page and the dashboard note + figures.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._core import ConfigError, report_file, write_text
from ..compare import outcome_of
from ..study import keys

if TYPE_CHECKING:  # pragma: no cover
    from ..compare import StudyResult

_log = logging.getLogger(__name__)

_COLORS = {"search": "#1f77b4", "grid": "#7f7f7f", "random": "#ff7f0e"}
_OUTCOME_COLORS = {"completed": "#1f77b4", "pruned": "#ff7f0e", "diverged": "#d62728", "fail": "#7f7f7f"}
#: Figure ids as stored for optuna-dashboard (valid HTML ids).
FIGURE_IDS = ("best-vs-cost", "lr-trials", "intermediate-values", "param-importances", "range-test", "momentum-runs")
_SOURCE_COLORS = {"suggestion": "#2ca02c", "prior": "#1f77b4", "wide": "#ff7f0e", "incumbent": "#9467bd",
                  "narrow band": "#1f77b4", "enqueued": "#2ca02c"}


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


def _num(v: float | None, spec: str = ",.0f") -> str:
    return "-" if v is None else format(v, spec)


def best_so_far_figure(result: StudyResult, *, x: str = "examples") -> Any:
    """Best validation accuracy so far against cumulative cost (``x``: ``examples``, ``epochs`` or
    ``seconds``), one line per study. The search's line starts at the probes' cost.

    Example:
        >>> fig = best_so_far_figure(ht.load_result("resnet-mnist5k"))  # doctest: +SKIP
    """
    import plotly.graph_objects as go

    if x not in ("examples", "epochs", "seconds"):
        raise ConfigError(f"x must be examples, epochs or seconds, but got x={x!r}.")
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
            text.append(f"trial {p.number} ({p.outcome}): {_pct(p.value)}")
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=role, line_shape="hv",
                                 line={"color": _COLORS.get(role)}, text=text, connectgaps=False,
                                 hovertemplate="%{text}<br>best so far %{y:.4f}<br>" + x + " %{x:,.4g}"))
        if o.probe_cost is not None:
            fig.add_vline(x=getattr(o.probe_cost, x), line_dash="dot", line_color=_COLORS.get(role),
                          annotation_text="probes", annotation_position="bottom right")
    c = result.comparison
    if c.grid_best_value is not None:
        fig.add_hline(y=c.grid_best_value, line_dash="dash", line_color=_COLORS["grid"],
                      annotation_text=f"grid best {_pct(c.grid_best_value)}")
        if c.target is not None and c.target < c.grid_best_value:
            # the noise band of the grid's best (+- match_z standard errors), or the tolerance below it
            top = c.grid_best_value + (c.grid_best_value - c.target if c.rule == "se" else 0.0)
            fig.add_hrect(y0=c.target, y1=top, fillcolor=_COLORS["grid"], opacity=0.12, line_width=0,
                          annotation_text=f"grid best +- {c.margin}" if c.rule == "se" else f"within {c.margin}",
                          annotation_position="bottom left")
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
    fig.update_layout(title=f"{result.name}: best validation accuracy against cost", xaxis_title=label,
                      yaxis_title="best validation accuracy so far", template="plotly_white",
                      legend={"orientation": "h", "y": -0.2})
    return fig


def intermediate_values_figure(trials: Any, *, title: str = "validation accuracy per epoch") -> Any:
    """Each finished trial's validation accuracy per epoch (from its stored ``curve``); pruned trials end
    in a cross, diverged ones are red.

    Args:
        trials: Optuna ``FrozenTrial`` objects (e.g. ``study.get_trials()``).
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
    fig.update_layout(title=title, xaxis_title="epoch", yaxis_title="validation accuracy", template="plotly_white")
    return fig


def lr_trials_figure(result: StudyResult, trials: Any, *, title: str | None = None) -> Any:
    """Each finished search trial's last validation accuracy against its 1cycle peak LR (the search's LR
    parameter: at the probes' batch size when the space has one), coloured by what drew it: the range
    test's ``suggestion``, the ``prior``, the ``wide`` space or around the ``incumbent`` (``--space prior``),
    or the ``narrow band``. Pruned trials are open circles at their last epoch, diverged ones crosses at
    the bottom. On the LR axis: the search's bounds and, for ``--space prior``, the prior's density.
    """
    import math

    import plotly.graph_objects as go
    from optuna.trial import TrialState

    space = result.space or {}
    lr_name = "base_lr" if space.get("ref_batch_size") else "lr"
    fig = go.Figure()
    groups: dict[str, list[tuple[float, float, str, str]]] = {}
    for t in trials:
        if lr_name not in t.params or not t.state.is_finished():
            continue
        source = "suggestion" if t.user_attrs.get(keys.SOURCE) else \
            str(t.user_attrs.get(keys.SOURCE_DRAW) or "narrow band")
        outcome = outcome_of(t)
        accs = [e.get("val_acc") for e in t.user_attrs.get(keys.CURVE) or [] if e.get("val_acc") is not None]
        y = 0.0 if outcome in (keys.OUTCOME_DIVERGED, keys.OUTCOME_FAILED) or t.state == TrialState.FAIL \
            else (accs[-1] if accs else t.value or 0.0)
        symbol = "x" if y == 0.0 else "circle-open" if t.state == TrialState.PRUNED else "circle"
        note = f"trial {t.number} ({outcome})"
        if t.user_attrs.get(keys.SUGGESTION_MOVE):  # a suggestion that followed the trials before it
            note += f", moved {t.user_attrs[keys.SUGGESTION_MOVE]} on the evidence"
        if isinstance(t.user_attrs.get(keys.LOSS_RISE), (int, float)):
            note += f", loss climbed {t.user_attrs[keys.LOSS_RISE]:.2f} at its peak LR"
        groups.setdefault(source, []).append((float(t.params[lr_name]), float(y), symbol, note))
    for source, pts in groups.items():
        fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="markers", name=source,
                                 marker={"symbol": [p[2] for p in pts], "size": 10,
                                         "color": _SOURCE_COLORS.get(source, "#7f7f7f")},
                                 text=[p[3] for p in pts], hovertemplate="%{text}<br>LR %{x:.3g}: %{y:.4f}"))
    lo, hi = (space.get("lr") or (None, None))
    if lo and hi:  # a trace, not add_vline: plotly misplaces a vline's annotation on a log axis
        label = "wide bounds" if space.get("source") == "prior-guided" else "search band"
        fig.add_trace(go.Scatter(x=[lo, lo, None, hi, hi], y=[0, 1, None, 0, 1], mode="lines", name=label,
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
                      yaxis_title="validation accuracy at the last epoch", template="plotly_white",
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


def report_figures(result: StudyResult, *, storage: Any) -> dict[str, Any]:
    """Every figure of the report, by id (see :data:`FIGURE_IDS`), built from ``result`` and the stored
    trials."""
    import optuna

    from ._figures import momentum_runs_figure, range_test_figure

    figs: dict[str, Any] = {}
    figs["best-vs-cost"] = best_so_far_figure(result)
    search = optuna.load_study(study_name=result.name, storage=storage)
    figs["lr-trials"] = lr_trials_figure(result, search.get_trials(deepcopy=False))
    figs["intermediate-values"] = intermediate_values_figure(
        search.get_trials(deepcopy=False), title=f"{result.name}: validation accuracy per epoch (search)")
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
            s.get_trials(deepcopy=False), title=f"{o.study_name}: validation accuracy per epoch")
        figs[f"{role}-param-importances"] = importances_figure(s)
    return figs


# ----------------------------------------------------------------------------------------------
# Summary text


def _pm(x: Any, *, signed: bool = False) -> str:
    """``mean +- se`` of a test score (percent) or of a difference (signed points)."""
    if x is None:
        return "-"
    se = "" if x.se is None else f" +- {100 * x.se:.2f}"
    return f"{100 * x.mean:+.2f}{se}" if signed else f"{100 * x.mean:.2f}{se}%"


def summary_rows(result: StudyResult) -> list[dict[str, str]]:
    """The comparison as strings, one row per study (for the HTML, markdown and terminal tables)."""
    rows = []
    c = result.comparison
    for role, o in result.outcomes.items():
        m = c.rows[role]
        rows.append({
            "study": role, "best val": _pct(o.best_value),
            "trials": f"{o.n_trials} ({o.n_complete}/{o.n_pruned}/{o.n_diverged})",
            "examples": _num(o.cost.examples), "epochs": _num(o.cost.epochs, ",.1f"),
            "seconds": _num(o.cost.seconds, ",.1f"),
            "cost/grid": "-" if m.total_ratio is None else f"{m.total_ratio:.3f}",
            "match at": ("-" if c.target is None else "no" if m.cost_to_match is None else
                         f"{m.cost_to_match.examples:,} ({m.trials_to_match})"),
            "ratio": "-" if m.cost_ratio is None else f"{m.cost_ratio:.3f}",
            "test": _pm(o.test_score),
            "vs grid": "-" if m.difference_vs_grid is None else _pm(m.difference_vs_grid, signed=True),
        })
    return rows


def explain_lines(result: StudyResult) -> list[str]:
    """What the table's columns mean, the budget, the verdict and the normalised score: plain sentences,
    shared by the terminal, the report and the dashboard note."""
    c = result.comparison
    seeds = next((m.test_score.seeds for m in c.rows.values() if m.test_score is not None), ())
    lines = ["trials: finished (completed/pruned/diverged); cost/grid: the study's training examples (the probes "
             "included for the search) / the grid's"]
    if seeds:
        lines.append(f"test: the study's chosen configuration retrained on seeds {', '.join(map(str, seeds))} "
                     f"(the same for every study), test accuracy mean +- standard error; vs grid: the paired "
                     f"difference with the grid, in points")
    if c.grid_best_value is not None:
        lines.append(f"match at: training examples (probes included) when a study's best validation accuracy "
                     f"first reached {_pct(c.target)}, the grid's best {_pct(c.grid_best_value)} less {c.margin} "
                     f"(trials it took); ratio: those examples / the grid's total")
    b = result.budget
    if b is not None:
        frac = "" if b.get("fraction") is None else f" ({b['fraction']:g} of the grid's {b['grid_examples']:,})"
        also = ", and the same for the random baseline" if result.random is not None else ""
        lines.append(f"budget: {b['examples']:,} training examples{frac} for the search, its probes included{also}")
    if result.random is not None and c.search_vs_random is not None:
        score = "undefined" if c.normalised_score is None else f"{c.normalised_score:.2f}"
        lines.append(f"priors' gain over random search on test: {_pm(c.search_vs_random, signed=True)} points; "
                     f"normalised score (search - random) / (grid - random): {score}"
                     + (f" ({c.normalised_note})" if c.normalised_score is None else ""))
    return lines


def summary_markdown(result: StudyResult) -> str:
    """The markdown note saved for optuna-dashboard."""
    rows = summary_rows(result)
    cols = list(rows[0]) if rows else []
    lines = [f"# hybridtune study `{result.name}`", ""]
    if result.found_nothing:
        lines += [f"**The study found nothing.** {w[0].upper() + w[1:]}" for w in result.warnings
                  if "found nothing" in w] + [""]
    verdict = result.verdict or result.no_verdict
    if verdict:
        lines += [f"**Verdict**: {verdict}", ""]
    t = result.task
    if t:
        lines.append(f"Task: **{t.get('model')}** on **{(t.get('data') or {}).get('name')}**, optimizer "
                     f"`{t.get('optimizer')}`; {result.config.get('epochs')} epochs of 1cycle per trial.")
        lines.append("")
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(r[k] for k in cols) + " |" for r in rows]
    lines.append("")
    for line in explain_lines(result):
        lines += [line[0].upper() + line[1:] + ".", ""]
    p = result.priors
    if p is not None:
        mom = "" if p.momentum is None else f", momentum {p.momentum:g} (band {list(p.momentum_band or ())})"
        lines.append(f"**Priors** (batch size {p.batch_size}): LR band [{p.lr_min:.3g}, {p.lr_max:.3g}]{mom}; "
                     f"probes cost {p.cost.examples:,} examples, {p.cost.seconds:.1f} s.")
        lines.append("")
        lines.append(f"> {p.reasoning}")
        lines.append("")
    if result.space:
        sp = result.space
        lo, hi = sp.get("lr", (None, None))
        where = f" at batch size {sp['ref_batch_size']}" if sp.get("ref_batch_size") else ""
        mom = f"; momentum {list(sp['momentum'])}" if sp.get("momentum") else ""
        lines.append(f"**Search space**: 1cycle peak LR [{lo:.3g}, {hi:.3g}]{where} ({sp.get('lr_rule')}); batch "
                     f"sizes {sp.get('batch_sizes')}{mom}; weight decay {sp.get('weight_decay')} or 0.")
        lines.append("")
    for role, o in result.outcomes.items():
        if o.best_config:
            hp = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                           for k, v in o.best_config.items() if v is not None)
            lines.append(f"- best **{role}** (trial {o.best_trial}): {hp}")
    lines.append("")
    a = result.artefacts
    if a:
        lines.append(f"**Take it home**: the chosen recipe `{a['recipe']}` and the weights of its first test retrain "
                     f"`{a['checkpoint']}` (trial {a['trial']}); `hybridtune.load_checkpoint` gives the model, "
                     f"`hybridtune export` writes them again.")
        lines.append("")
    for w in result.warnings:
        lines.append(f"**Warning**: {w}")
        lines.append("")
    lines.append("Figures: see *Custom plots*. Made by hybridtune.")
    return "\n".join(lines)


def _md_to_html(md: str) -> str:
    """The few markdown constructs :func:`summary_markdown` uses, as HTML (no dependency)."""
    out: list[str] = []
    table: list[list[str]] = []

    def inline(s: str) -> str:
        import re

        s = html.escape(s)
        s = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", s)
        s = re.sub(r"\*(.+?)\*", r"<i>\1</i>", s)
        return re.sub(r"`(.+?)`", r"<code>\1</code>", s)

    def flush() -> None:
        if table:
            head, *rest = table
            rest = [r for r in rest if not all(set(c) <= {"-"} for c in r)]
            out.append("<table><thead><tr>" + "".join(f"<th>{inline(c)}</th>" for c in head) + "</tr></thead><tbody>"
                       + "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>" for r in rest)
                       + "</tbody></table>")
            table.clear()

    for line in md.splitlines():
        if line.startswith("|"):
            table.append([c.strip() for c in line.strip().strip("|").split("|")])
            continue
        flush()
        if line.startswith("# "):
            out.append(f"<h1>{inline(line[2:])}</h1>")
        elif line.startswith("> "):
            out.append(f"<blockquote>{inline(line[2:])}</blockquote>")
        elif line.startswith("- "):
            out.append(f"<li>{inline(line[2:])}</li>")
        elif line.strip():
            out.append(f"<p>{inline(line)}</p>")
    flush()
    return "\n".join(out)


_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f4f4f4}blockquote{color:#555;border-left:3px solid #ccc;margin:1em 0;padding-left:1em}
.fig{margin:2em 0}"""


def write_report(result: StudyResult, path: str | Path, *, storage: Any) -> Path:
    """Write the HTML report (plotly.js inlined once, so it opens offline) and return its path.

    Args:
        result: from :func:`hybridtune.run_study` or :func:`hybridtune.load_result`.
        path: a file (``.html``) or a folder (``report.html`` is written in it).
        storage: the storage the result came from (the per-trial curves are read from it).

    Example:
        >>> write_report(result, "runs/resnet-mnist5k/", storage=url)  # doctest: +SKIP
        PosixPath('runs/resnet-mnist5k/report.html')
    """

    target = report_file(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"the report path must be a writable folder or .html file, but got {str(path)!r} "
                          f"({exc.strerror}).") from None
    figs = report_figures(result, storage=storage)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>hybridtune: {html.escape(result.name)}"
             f"</title><style>{_CSS}</style></head><body>", _md_to_html(summary_markdown(result))]
    first = True
    for fid, fig in figs.items():
        parts.append(f"<div class='fig' id='{fid}'>")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=True if first else False, div_id=f"plot-{fid}"))
        parts.append("</div>")
        first = False
    parts.append("</body></html>")
    write_text(target, "\n".join(parts), what="the report path")
    _log.info("wrote %s", target)
    return target


def save_to_dashboard(result: StudyResult, *, storage: Any) -> None:
    """Save the summary into the studies so optuna-dashboard shows it: a markdown note on every study,
    the figures (``optuna_dashboard.save_plotly_graph_object``) and the costs and comparison as study user
    attributes. Saving again replaces them (fixed graph-object ids)."""
    import optuna
    from optuna_dashboard import save_note, save_plotly_graph_object

    note = summary_markdown(result)
    figs = report_figures(result, storage=storage)
    comparison = result.comparison.to_dict()
    for role, o in result.outcomes.items():
        study = optuna.load_study(study_name=o.study_name, storage=storage)
        save_note(study, note)
        study.set_user_attr(keys.COST, o.cost.to_dict())
        study.set_user_attr(keys.COMPARISON, comparison)
        for fid, fig in figs.items():
            mine = fid.startswith(f"{role}-") if role != "search" else not fid.startswith(("grid-", "random-"))
            if mine or fid == "best-vs-cost":
                save_plotly_graph_object(study, fig, graph_object_id=fid)

