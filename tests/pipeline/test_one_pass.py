"""One pass per run (issue 21): a run resolves its config once, and builds its report's figures once, for the
dashboard and the HTML report alike."""

from __future__ import annotations

import json
import re
from pathlib import Path

import optuna_dashboard
import pytest

import hybridtune as ht
import hybridtune.report._figures as figures_module

TINY = dict(trials=2, epochs=2, probe_batch_size=32, probe_momenta=(0.9,), test=False,
            grid={"lr": [0.1], "momentum": [0.9], "weight_decay": [0.0], "batch_size": [32]})


def _report_titles(page: str) -> dict[str, str]:
    """Each figure of an HTML report, by its id, and its title (read from the page's plotly calls)."""
    decoder = json.JSONDecoder()
    titles = {}
    for m in re.finditer(r'Plotly\.newPlot\(\s*"plot-([^"]+)",\s*', page):
        _, end = decoder.raw_decode(page, m.end())  # the traces
        layout, _ = decoder.raw_decode(page, re.compile(r",\s*").match(page, end).end())
        titles[m.group(1)] = layout["title"]["text"]
    return titles


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the results whose figures were built: every build of a study's figures draws its
    best-so-far figure once."""
    built: list[str] = []
    real = figures_module.best_so_far_figure

    def counting(result, **kw):
        built.append(result.name)
        return real(result, **kw)

    monkeypatch.setattr(figures_module, "best_so_far_figure", counting)
    return built


@pytest.fixture
def dashboard(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, str]]:
    """What is saved for optuna-dashboard: per study, each figure's id and title."""
    saved: dict[str, dict[str, str]] = {}
    real = optuna_dashboard.save_plotly_graph_object

    def recording(study, figure, *, graph_object_id=None):
        saved.setdefault(study.study_name, {})[graph_object_id] = figure.layout.title.text
        return real(study, figure, graph_object_id=graph_object_id)

    monkeypatch.setattr(optuna_dashboard, "save_plotly_graph_object", recording)
    return saved


def test_a_run_builds_its_figures_once_for_the_dashboard_and_the_report(
        tiny_task: ht.Task, tmp_path: Path, builds: list[str], dashboard: dict[str, dict[str, str]]) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    r = ht.run_study(tiny_task, ht.StudyConfig(name="once", **TINY), storage=url, report=tmp_path / "r.html")
    assert builds == ["once"]
    assert set(dashboard) == {"once", "once-grid"}
    shown = {fid: title for figs in dashboard.values() for fid, title in figs.items()}
    in_report = _report_titles(Path(r.report).read_text())
    assert {"best-vs-cost", "range-test", "grid-intermediate-values"} <= set(in_report)
    assert in_report == shown  # the same figures, each with the same title

    # rebuilding from storage: once again, for both
    builds.clear()
    dashboard.clear()
    again = ht.rebuild_report("once", storage=url, report=tmp_path / "again.html")
    assert builds == ["once"]
    assert _report_titles(Path(again.report).read_text()) == in_report
    assert {fid: title for figs in dashboard.values() for fid, title in figs.items()} == shown


def test_a_run_without_report_or_dashboard_builds_no_figure(tiny_task: ht.Task, tmp_path: Path,
                                                            builds: list[str]) -> None:
    r = ht.run_study(tiny_task, ht.StudyConfig(name="bare", dashboard=False, baselines=(), **TINY),
                     storage=f"sqlite:///{tmp_path / 's.db'}")
    assert builds == [] and r.report is None


@pytest.fixture
def resolutions(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The configs resolved (their names as given): every resolution ends in :meth:`StudyConfig.for_task`."""
    seen: list[str | None] = []
    real = ht.StudyConfig.for_task

    def counting(self, task):
        seen.append(self.name)
        return real(self, task)

    monkeypatch.setattr(ht.StudyConfig, "for_task", counting)
    return seen


def test_run_study_resolves_its_config_once_and_runs_a_resolved_one_as_given(
        tiny_task: ht.Task, tmp_path: Path, resolutions: list[str | None]) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    config = ht.StudyConfig(name="resolved", dashboard=False, baselines=(), **{**TINY, "epochs": None})
    first = ht.run_study(tiny_task, config.replace(trials=1), storage=url)
    assert resolutions == ["resolved"] and first.config["epochs"] == 30  # the budget rule's, for this task
    resolutions.clear()
    resolved = ht.resolve_config(tiny_task, config, storage=url)
    assert resolved.epochs == 30 and resolutions == ["resolved"]  # the stored study's
    resolutions.clear()
    again = ht.run_study(tiny_task, resolved, storage=url)
    assert resolutions == [] and again.config == {**first.config, "trials": 2}
