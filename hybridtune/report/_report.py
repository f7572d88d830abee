"""The study's report: one HTML page and the same summary saved for optuna-dashboard, composed from the
figures (:mod:`._figures`) and the summary text made here.

Nothing here changes a number: the results were computed elsewhere (the study, compare and pipeline stages).

- :func:`summary_rows` / :func:`explain_lines` / :func:`summary_markdown`: the comparison as text, shared by the
  terminal, the HTML page and the dashboard note.
- :func:`write_report` / :func:`save_to_dashboard`: the HTML page and the dashboard note + figures.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._core import ConfigError, report_file, write_text
from ..study import keys
from ._figures import pct, study_figures
from ._html import html_page

if TYPE_CHECKING:  # pragma: no cover
    from ..compare import StudyResult

_log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------------
# Summary text


def _num(v: float | None, spec: str = ",.0f") -> str:
    return "-" if v is None else format(v, spec)


def _pm(x: Any, *, signed: bool = False, accuracy: bool = True) -> str:
    """``mean +- se`` of a test score (percent) or of a difference (signed points); for a metric that is not
    an accuracy, plain numbers in its units."""
    if x is None:
        return "-"
    if not accuracy:
        se = "" if x.se is None else f" +- {x.se:.4g}"
        return f"{x.mean:+.4g}{se}" if signed else f"{x.mean:.4g}{se}"
    se = "" if x.se is None else f" +- {100 * x.se:.2f}"
    return f"{100 * x.mean:+.2f}{se}" if signed else f"{100 * x.mean:.2f}{se}%"


def value_text(result: StudyResult, v: float | None) -> str:
    """A validation or test value as the report shows it: a percent for an accuracy, else a number in the
    metric's units."""
    if result.is_accuracy:
        return pct(v)
    return "-" if v is None else f"{v:.4g}"


def summary_rows(result: StudyResult) -> list[dict[str, str]]:
    """The comparison as strings, one row per study (for the HTML, markdown and terminal tables)."""
    rows = []
    c = result.comparison
    for role, o in result.outcomes.items():
        m = c.rows[role]
        rows.append({
            "study": role, "best val": value_text(result, o.best_value),
            "trials": f"{o.n_trials} ({o.n_complete}/{o.n_pruned}/{o.n_diverged})",
            "examples": _num(o.cost.examples), "epochs": _num(o.cost.epochs, ",.1f"),
            "seconds": _num(o.cost.seconds, ",.1f"),
            "cost/grid": "-" if m.total_ratio is None else f"{m.total_ratio:.3f}",
            "match at": ("-" if c.target is None else "no" if m.cost_to_match is None else
                         f"{m.cost_to_match.examples:,} ({m.trials_to_match})"),
            "ratio": "-" if m.cost_ratio is None else f"{m.cost_ratio:.3f}",
            "test": _pm(o.test_score, accuracy=result.is_accuracy),
            "vs grid": "-" if m.difference_vs_grid is None else _pm(m.difference_vs_grid, signed=True,
                                                                    accuracy=result.is_accuracy),
        })
    return rows


def explain_lines(result: StudyResult) -> list[str]:
    """What the table's columns mean, the budget, the verdict and the normalised score: plain sentences,
    shared by the terminal, the report and the dashboard note."""
    c = result.comparison
    seeds = next((m.test_score.seeds for m in c.rows.values() if m.test_score is not None), ())
    lines = ["trials: finished (completed/pruned/diverged); cost/grid: the study's training examples (the probes "
             "included for the search) / the grid's"]
    acc = result.is_accuracy
    metric = "accuracy" if acc else result.metric_name
    units = "points" if acc else "its units"
    # a difference in a minimised metric's units is better below zero: say which way it reads
    vs_grid = units if acc else (f"{units} (the study's minus the grid's: "
                                 f"{'below' if result.direction == 'minimize' else 'above'} 0 is better)")
    if seeds:
        lines.append(f"test: the study's chosen configuration retrained on seeds {', '.join(map(str, seeds))} "
                     f"(the same for every study), test {metric} mean +- standard error; vs grid: the paired "
                     f"difference with the grid, in {vs_grid}")
    if c.grid_best_value is not None and not acc:
        side = "less" if result.direction == "maximize" else "plus"
        lines.append(f"match at: training examples (probes included) when a study's best validation {metric} "
                     f"first reached {value_text(result, c.target)} ({result.direction}d), the grid's best "
                     f"{value_text(result, c.grid_best_value)} {side} {abs(c.grid_best_value - c.target):.4g} "
                     f"(trials it took); ratio: those examples / the grid's total")
    elif c.grid_best_value is not None:
        lines.append(f"match at: training examples (probes included) when a study's best validation accuracy "
                     f"first reached {pct(c.target)}, the grid's best {pct(c.grid_best_value)} less {c.margin} "
                     f"(trials it took); ratio: those examples / the grid's total")
    b = result.budget
    if b is not None:
        frac = "" if b.get("fraction") is None else f" ({b['fraction']:g} of the grid's {b['grid_examples']:,})"
        also = ", and the same for the random baseline" if result.random is not None else ""
        lines.append(f"budget: {b['examples']:,} training examples{frac} for the search, its probes included{also}")
    if result.random is not None and c.search_vs_random is not None:
        score = "undefined" if c.normalised_score is None else f"{c.normalised_score:.2f}"
        lines.append(f"priors' gain over random search on test: "
                     f"{_pm(c.search_vs_random, signed=True, accuracy=acc)} {units}; "
                     f"normalised score (search - random) / (grid - random): {score}"
                     + (f" ({c.normalised_note})" if c.normalised_score is None else ""))
    return lines


def ladder_markdown(result: StudyResult) -> list[str]:
    """The search's multi-fidelity ladder (one row per rung) and its trials (length and source), as markdown
    lines; none for a study without a ladder."""
    if not result.ladder:
        return []
    lines = ["**The ladder** (successive halving over complete 1cycle schedules: each rung's best trained again, "
             "from scratch, at the next length; the choice is the best of the longest rung):", "",
             "| rung | epochs | planned | probes' runs | finished | best val | sent up |", "|---|---|---|---|---|---|---|"]
    for r in result.ladder:
        sent = ", ".join(map(str, r["promoted"])) or "-"
        lines.append(f"| {r['rung']} | {r['epochs']} | {r['planned']} | {r['probes']} | {r['finished']} | "
                     f"{value_text(result, r['best'])} | {sent} |")
    lines += ["", "| trial | epochs | source | outcome | val |", "|---|---|---|---|---|"]
    for p in result.search.history:
        lines.append(f"| {p.number} | {p.fidelity if p.fidelity is not None else '-'} | {p.source or 'sampler'} | "
                     f"{p.outcome} | {value_text(result, p.value)} |")
    lines.append("")
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
        # a metric of the task's own is named with its way up, at the top (accuracy goes without saying)
        metric = "" if result.is_accuracy else (
            f"; metric **{result.metric_name}**, {'lower' if result.direction == 'minimize' else 'higher'} is "
            f"better" + (", in the targets' units" if result.metric_name == "rmse" else ""))
        lines.append(f"Task: **{t.get('model')}** on **{(t.get('data') or {}).get('name')}**, optimizer "
                     f"`{t.get('optimizer')}`{metric}; {result.config.get('epochs')} epochs of 1cycle per trial.")
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
    lines += ladder_markdown(result)
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


def write_report(result: StudyResult, path: str | Path, *, storage: Any,
                 figures: Mapping[str, Any] | None = None) -> Path:
    """Write the HTML report (plotly.js inlined once, so it opens offline) and return its path.

    Args:
        result: from :func:`hybridtune.run_study` or :func:`hybridtune.load_result`.
        path: a file (``.html``) or a folder (``report.html`` is written in it).
        storage: the storage the result came from (the per-trial curves are read from it).
        figures: the figures, by id, when already built (:func:`hybridtune.study_figures`); built here when ``None``.

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
    figs = study_figures(result, storage=storage) if figures is None else figures
    page = html_page(f"hybridtune: {result.name}", [(fid, None, fig) for fid, fig in figs.items()],
                     body_html=_md_to_html(summary_markdown(result)))
    write_text(target, page, what="the report path")
    _log.info("wrote %s", target)
    return target


def save_to_dashboard(result: StudyResult, *, storage: Any, figures: Mapping[str, Any] | None = None) -> None:
    """Save the summary into the studies so optuna-dashboard shows it: a markdown note on every study,
    the figures (``optuna_dashboard.save_plotly_graph_object``) and the costs and comparison as study user
    attributes. Saving again replaces them (fixed graph-object ids).

    Args:
        result: from :func:`hybridtune.run_study` or :func:`hybridtune.load_result`.
        storage: the storage the result came from; the note and figures are saved there.
        figures: the figures, by id, when already built (:func:`hybridtune.study_figures`); built here when ``None``.

    Example:
        >>> save_to_dashboard(ht.load_result("resnet-mnist5k", storage=url), storage=url)  # doctest: +SKIP
    """
    import optuna
    from optuna_dashboard import save_note, save_plotly_graph_object

    note = summary_markdown(result)
    figs = study_figures(result, storage=storage) if figures is None else figures
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

