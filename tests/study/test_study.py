from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from optuna_dashboard import get_note

import hybridtune as ht

GRID = {"lr": [0.1, 40.0], "momentum": [0.9], "weight_decay": [0.0], "batch_size": [16, 32]}
# the pruner scheme (every trial full length, pruned early): what these tests assert; the multi-fidelity
# ladder, the default for a new study, has its own in test_ladder.py
TINY = dict(trials=5, epochs=2, probe_batch_size=32, probe_momenta=(0.95, 0.9), batch_size_floor=16,
            grid=GRID, baselines=("grid", "random"), fidelity="pruner")


@pytest.fixture(scope="module")
def e2e(tiny_task: ht.Task, tmp_path_factory: pytest.TempPathFactory) -> tuple[ht.StudyResult, str, Path]:
    """One tiny end-to-end study (probes, search, grid and random baselines, test) in a SQLite file."""
    db = tmp_path_factory.mktemp("e2e") / "studies.db"
    url = f"sqlite:///{db}"
    phases: list[str] = []
    result = ht.run_study(tiny_task, ht.StudyConfig(name="tiny", **TINY), storage=url, out=db.parent / "tiny",
                          progress=lambda phase, done, total: phases.append(phase))
    assert {"probes: range test", "probes: momentum runs", "search", "grid", "random", "test"} <= set(phases)
    return result, url, db


def _trials(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)


def test_every_trial_records_cost_curve_and_outcome(e2e) -> None:
    result, url, _ = e2e
    search = _trials(url, "tiny")
    assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in search) == 5
    # the range test's two suggestions are the first trials: peak LRs at the log-middle and the upper
    # quarter of the search band [lr_max, 10 lr_max], the smallest batch size, run to the end
    p = result.priors
    for i, (t, mult) in enumerate(zip(search[:2], (10 ** 0.5, 10 ** 0.75))):
        assert t.user_attrs["source"] == "range test suggestion" and t.user_attrs["suggestion"] == i
        assert t.params["base_lr"] == pytest.approx(p.lr_max * mult) and t.params["momentum"] == p.momentum
        assert t.params["batch_size"] == min(result.space["batch_sizes"])
        assert t.state == TrialState.COMPLETE and len(t.user_attrs["curve"]) == TINY["epochs"]
    assert not any(t.user_attrs.get("source") for t in search[2:])
    for t in itertools.chain(search, _trials(url, "tiny-grid"), _trials(url, "tiny-random")):
        assert set(t.user_attrs["cost"]) >= {"examples", "steps", "seconds", "epochs"}
        assert t.user_attrs["cost"]["examples"] > 0
        assert t.user_attrs["outcome"] in ("completed", "pruned", "diverged")
        assert t.user_attrs["curve"] and set(t.user_attrs["hyperparams"]) == {"lr", "momentum", "weight_decay",
                                                                             "batch_size"}


def test_pruned_trials_are_recorded(e2e) -> None:
    _, url, _ = e2e
    pruned = [t for name in ("tiny", "tiny-random") for t in _trials(url, name) if t.state == TrialState.PRUNED]
    assert pruned, "the tiny study should prune at least one trial"
    for t in pruned:
        assert t.user_attrs["outcome"] == "pruned"
        assert t.user_attrs["cost"]["epochs"] < 2  # stopped before the full two epochs
        assert t.intermediate_values  # what the pruner saw is kept


def test_diverged_trial_is_an_outcome_not_a_crash(e2e) -> None:
    result, url, _ = e2e
    diverged = [t for t in _trials(url, "tiny-grid") if t.user_attrs["outcome"] == "diverged"]
    assert diverged and all(t.params["lr"] == 40.0 for t in diverged)
    for t in diverged:
        assert t.state == TrialState.COMPLETE and t.value == pytest.approx(0.25)  # chance: 4 classes
        assert "loss" in t.user_attrs["stop_reason"]
    assert result.grid.n_diverged == len(diverged)
    assert result.grid.best_params["lr"] == 0.1  # a diverged cell is never the best


def test_each_grid_cell_runs_exactly_once(e2e) -> None:
    result, url, _ = e2e
    grid = _trials(url, "tiny-grid")
    cells = {(t.params["lr"], t.params["batch_size"]) for t in grid if t.state == TrialState.COMPLETE}
    assert len(grid) == 4 and cells == set(itertools.product(GRID["lr"], GRID["batch_size"]))
    assert all(t.user_attrs["cost"]["epochs"] == pytest.approx(2.0) or t.user_attrs["outcome"] == "diverged"
               for t in grid)  # no pruning in the grid: full epochs
    assert result.grid.n_trials == 4 and result.grid.n_pruned == 0


def test_comparison_is_computed_from_stored_trials(e2e) -> None:
    result, url, _ = e2e
    storage = optuna.load_study(study_name="tiny", storage=url)
    probe_cost = storage.user_attrs["probe_cost"]

    def replay(trials, start_examples=0, start_seconds=0.0):
        done = sorted((t for t in trials if t.state.is_finished()), key=lambda t: t.datetime_complete)
        ex, sec, best, out = start_examples, start_seconds, None, []
        for t in done:
            ex += t.user_attrs["cost"]["examples"]
            sec += t.user_attrs["cost"]["seconds"]
            if t.state == TrialState.COMPLETE and t.user_attrs["outcome"] != "diverged":
                best = t.value if best is None else max(best, t.value)
            out.append((ex, sec, best))
        return out

    grid = replay(_trials(url, "tiny-grid"))
    grid_best = grid[-1][2]
    c = result.comparison
    assert c.grid_best_value == pytest.approx(grid_best)
    # the default rule: within one binomial standard error of the grid's best, on the validation split
    n_val = result.task["data"]["val"]
    target = grid_best - (grid_best * (1 - grid_best) / n_val) ** 0.5
    assert c.rule == "se" and c.target == pytest.approx(target)
    for role, name, start in (("search", "tiny", probe_cost), ("grid", "tiny-grid", None),
                              ("random", "tiny-random", None)):
        steps = replay(_trials(url, name), *((start["examples"], start["seconds"]) if start else (0, 0.0)))
        row = c.rows[role]
        assert result.outcomes[role].cost.examples == steps[-1][0]
        assert result.outcomes[role].cost.seconds == pytest.approx(steps[-1][1])
        assert result.outcomes[role].best_value == pytest.approx(steps[-1][2])
        hit = next((s for s in steps if s[2] is not None and s[2] >= target - 1e-12), None)
        if hit is None:
            assert row.cost_to_match is None and not row.matched and row.cost_ratio is None
        else:
            assert row.cost_to_match.examples == hit[0]
            assert row.cost_ratio == pytest.approx(hit[0] / grid[-1][0])
    # the search's cost includes the probes
    assert result.search.cost.examples > result.priors.cost.examples == probe_cost["examples"]
    # reloading from storage alone gives the same numbers
    again = ht.load_result("tiny", storage=url)
    assert again.to_dict() == result.to_dict()


def test_artefacts_round_trip_to_the_recorded_test_accuracy(e2e, tiny_task: ht.Task) -> None:
    result, url, db = e2e
    a = result.artefacts
    assert a == {"trial": result.search.best_trial, "recipe": str(db.parent / "tiny" / "best.json"),
                 "checkpoint": str(db.parent / "tiny" / "best.pt")}
    recipe = ht.read_recipe(a["recipe"])
    assert recipe.source == {"study": "tiny", "trial": result.search.best_trial, "storage": url}
    assert recipe.train.lr == pytest.approx(result.search.best_config["lr"])
    assert recipe.train.batch_size == result.search.best_config["batch_size"] and recipe.train.epochs == 2
    first = result.search.test["runs"][0]  # the retrain on the first test seed
    assert recipe.train.seed == first["seed"] == 1000
    assert recipe.metrics["test_accuracy"] == first["test_accuracy"]
    assert recipe.metrics["val_accuracy"] == first["val_accuracy"]
    assert recipe.metrics["test_accuracy_mean"] == pytest.approx(result.search.test_accuracy)
    assert recipe.metrics["test_seeds"] == list(result.search.test_score.seeds)
    # the weights are those of the very retrain that was scored on the test split
    model, loaded = ht.load_checkpoint(a["checkpoint"])
    assert loaded == recipe
    _, acc, _ = tiny_task.evaluate(model, tiny_task.data.test)
    assert acc == pytest.approx(first["test_accuracy"])
    # from storage alone: the same recipe (what `train --from-study` trains)
    from hybridtune.pipeline import study_recipe

    assert study_recipe("tiny", storage=url) == recipe
    d = result.to_dict()
    assert d["artefacts"] == a and isinstance(d["warnings"], list)


def test_every_study_names_its_metric(e2e) -> None:
    _, url, _ = e2e
    for name in ("tiny", "tiny-grid", "tiny-random"):
        assert optuna.load_study(study_name=name, storage=url).metric_names == ["validation accuracy"]


def test_test_accuracy_of_each_best_configuration(e2e) -> None:
    result, url, _ = e2e
    for role, o in result.outcomes.items():
        assert 0 <= o.test_accuracy <= 1
        assert o.test["trial"] == o.best_trial
        # retrained on seeds the trials never ran with (the study's seed is 0)
        assert [r["seed"] for r in o.test["runs"]] == [1000, 1001, 1002]
        assert o.test_accuracy == pytest.approx(sum(r["test_accuracy"] for r in o.test["runs"]) / 3)


def test_json_payload_keys(e2e) -> None:
    result, _, _ = e2e
    d = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert d["priors"]["lr_max"] == pytest.approx(result.priors.lr_max)
    for role in ("search", "grid", "random"):
        assert {"best_value", "best_params", "n_trials", "cost"} <= set(d[role])
        assert {"examples", "seconds"} <= set(d[role]["cost"])
        assert {"cost_to_match_grid", "cost_ratio_to_match_grid", "test_accuracy",
                "difference_vs_grid"} <= set(d["comparison"][role])
    assert d["comparison"]["tolerance_points"] is None and d["comparison"]["match_z"] == 1.0


def test_dashboard_note_and_user_attrs_are_stored(e2e) -> None:
    result, url, _ = e2e
    for name in ("tiny", "tiny-grid", "tiny-random"):
        study = optuna.load_study(study_name=name, storage=url)
        assert "# hybridtune study `tiny`" in get_note(study)
        assert "best.pt" in get_note(study)  # the note says where the chosen model is
        assert study.user_attrs["comparison"]["grid_best_value"] == pytest.approx(result.comparison.grid_best_value)
        assert set(study.user_attrs["cost"]) >= {"examples", "seconds"}
    assert "priors" in optuna.load_study(study_name="tiny", storage=url).user_attrs


def test_report_html(e2e, tmp_path: Path) -> None:
    result, url, _ = e2e
    path = ht.write_report(result, tmp_path / "out", storage=url)
    assert path == tmp_path / "out" / "report.html"
    text = path.read_text()
    for fid in ("best-vs-cost", "intermediate-values", "param-importances", "range-test", "momentum-runs"):
        assert f"id='{fid}'" in text
    assert "plotly" in text and "grid best" in text


def test_resume_reuses_priors_and_runs_only_what_is_missing(e2e, tiny_task, tmp_path, monkeypatch) -> None:
    _, _, db = e2e
    copy = tmp_path / "resume.db"
    shutil.copy(db, copy)
    url = f"sqlite:///{copy}"
    before = {n: len(_trials(url, n)) for n in ("tiny", "tiny-grid", "tiny-random")}
    stored_priors = optuna.load_study(study_name="tiny", storage=url).user_attrs["priors"]

    def no_probes(*a, **k):
        raise AssertionError("a resumed study must not run the probes again")

    monkeypatch.setattr("hybridtune.probes._priors.lr_range_test", no_probes)  # what find_priors runs first
    result = ht.run_study(tiny_task, ht.StudyConfig(name="tiny", **{**TINY, "trials": 7}), storage=url,
                          out=tmp_path / "tiny")
    after = {n: len(_trials(url, n)) for n in ("tiny", "tiny-grid", "tiny-random")}
    assert after["tiny-grid"] == before["tiny-grid"] == 4  # the grid was complete: nothing re-run
    assert result.search.n_trials == 7 and result.random.n_trials == 7
    assert optuna.load_study(study_name="tiny", storage=url).user_attrs["priors"] == stored_priors
    # resumed draws are new points, not a replay of the first run's
    params = [tuple(sorted(t.params.items())) for t in _trials(url, "tiny-random")]
    assert len(set(params)) == len(params)
    # the artefacts follow the best trial; resuming a finished study with them in place retrains nothing
    assert result.artefacts["trial"] == result.search.best_trial
    assert (tmp_path / "tiny" / "best.pt").is_file()

    def no_retrain(*a, **k):
        raise AssertionError("a finished study with its artefacts in place must not retrain")

    monkeypatch.setattr("hybridtune.pipeline._run.train_and_test", no_retrain)
    again = ht.run_study(tiny_task, ht.StudyConfig(name="tiny", **{**TINY, "trials": 7}), storage=url,
                         out=tmp_path / "tiny")
    assert again.artefacts == result.artefacts


def test_interrupted_grid_resumes_each_cell_once(tiny_task, tmp_path, monkeypatch) -> None:
    import hybridtune.study._objective as objective_mod

    url = f"sqlite:///{tmp_path / 'interrupt.db'}"
    grid = {"lr": [0.03, 0.1, 0.3], "momentum": [0.9], "weight_decay": [0.0], "batch_size": [32]}
    config = ht.StudyConfig(name="cut", trials=1, epochs=1, probe_batch_size=32,
                            probe_momenta=(0.9,), grid=grid, test=False, dashboard=False)
    calls = {"n": 0}
    real_train = objective_mod.train

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # the search's trial, one grid cell, then Ctrl-C in the second cell
            raise KeyboardInterrupt
        return real_train(*args, **kwargs)

    monkeypatch.setattr(objective_mod, "train", flaky)
    with pytest.raises(KeyboardInterrupt):
        ht.run_study(tiny_task, config, storage=url)
    monkeypatch.setattr(objective_mod, "train", real_train)
    result = ht.run_study(tiny_task, config, storage=url)
    trials = _trials(url, "cut-grid")
    complete = [t.params["lr"] for t in trials if t.state == TrialState.COMPLETE]
    assert sorted(complete) == grid["lr"]
    assert [t.state for t in trials].count(TrialState.FAIL) == 1
    assert result.grid.n_trials == 3 and result.grid.n_failed == 1
    # resuming a finished study runs nothing more
    ht.run_study(tiny_task, config, storage=url)
    assert len(_trials(url, "cut-grid")) == len(trials)


def test_resuming_with_another_setup_is_refused(e2e, tiny_task) -> None:
    _, url, _ = e2e
    with pytest.raises(ht.ConfigError, match=r"^a resumed study must keep its setup: 'tiny' was created with "
                                             r"epochs=2, but got epochs=3; use another name for a new study\.$"):
        ht.run_study(tiny_task, ht.StudyConfig(name="tiny", **{**TINY, "epochs": 3}), storage=url)


def test_load_result_errors(e2e, tmp_path) -> None:
    _, url, _ = e2e
    with pytest.raises(ht.ConfigError, match=r"^name must be a study in the storage \(tiny\), but got 'tiyn'\. "
                                             r"Did you mean 'tiny'\?$"):
        ht.load_result("tiyn", storage=url)
    with pytest.raises(ht.StorageError, match="storage must be an existing database"):
        ht.load_result("tiny", storage=f"sqlite:///{tmp_path / 'none.db'}")
    with pytest.raises(ht.StorageError, match=r"^storage must be a database URL such as sqlite:///runs/hybridtune\.db"):
        ht.load_result("tiny", storage="not a url")


def test_study_config_checks() -> None:
    with pytest.raises(ht.ConfigError, match=r"^trials must be a positive integer, but got trials=0\.$"):
        ht.StudyConfig(trials=0)
    with pytest.raises(ht.ConfigError, match="pruner"):
        ht.StudyConfig(pruner="asha2")
    with pytest.raises(ht.ConfigError, match=r"^tolerance must be accuracy points in \[0, 100\), but got "
                                             r"tolerance=-1\.$"):
        ht.StudyConfig(tolerance=-1)
    assert ht.StudyConfig(baselines=("none",)).baselines == ()
    assert ht.StudyConfig(baselines="random").baselines == ("random",)


@pytest.mark.parametrize("where", ["train", "_record_run"])
def test_ctrl_c_anywhere_in_a_trial_marks_it_interrupted(tiny_task: ht.Task, monkeypatch, where: str) -> None:
    """Ctrl-C while training or while its result is being written (after training, before the outcome):
    either way the trial is marked interrupted, so a resumed study runs it again."""
    import hybridtune.study._objective as objective_mod
    from hybridtune.study import train_trial

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(objective_mod, where, ctrl_c)
    study = optuna.create_study(direction="maximize")
    hp = ht.Hyperparams(lr=0.1, momentum=0.9, weight_decay=0.0, batch_size=16)
    with pytest.raises(KeyboardInterrupt):
        study.optimize(lambda t: train_trial(t, tiny_task, hp, ht.StudyConfig(epochs=1), prune=False,
                                             chance=0.25), n_trials=1)
    (trial,) = study.trials
    assert trial.state == TrialState.FAIL and trial.user_attrs["outcome"] == "interrupted"


def test_range_test_suggestions_are_never_pruned(tiny_task: ht.Task) -> None:
    from hybridtune.study._objective import train_trial
    from hybridtune.study._queue import fill_search_queue

    class AlwaysPrune(optuna.pruners.BasePruner):
        def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
            return True

    study = optuna.create_study(direction="maximize", pruner=AlwaysPrune())
    assert fill_search_queue(study, 3, [{}, {}]) == 3  # two suggestions, one ticket
    config = ht.StudyConfig(epochs=3)
    hp = ht.Hyperparams(lr=0.1, momentum=0.9, weight_decay=0.0, batch_size=16)
    study.optimize(lambda t: train_trial(t, tiny_task, hp, config, prune=True, chance=0.25), n_trials=3)
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.PRUNED]
    assert [len(t.user_attrs["curve"]) for t in study.trials] == [3, 3, 1]
    # a resumed queue holds each suggestion once
    assert fill_search_queue(study, 3, [{}, {}]) == 0


def test_suggestions_are_positions_in_the_search_band(tiny_task: ht.Task, tmp_path: Path) -> None:
    # the band of the priors themselves, [lr_max / 10, lr_max]: the suggestions move with it
    config = ht.StudyConfig(name="band", trials=2, epochs=1, probe_batch_size=32, batch_size_floor=16,
                            lr_range=(0.1, 1.0), suggestions=(0.0, 0.75), baselines=(), test=False,
                            dashboard=False)
    result = ht.run_study(tiny_task, config, storage=f"sqlite:///{tmp_path / 's.db'}")
    firsts = _trials(f"sqlite:///{tmp_path / 's.db'}", "band")
    lr_max = result.priors.lr_max
    assert [t.params["base_lr"] for t in firsts] == [pytest.approx(lr_max * 0.1), pytest.approx(lr_max * 10 ** -0.25)]
    with pytest.raises(ht.ConfigError, match=r"^suggestions must be one or more positions in the search band"):
        ht.StudyConfig(suggestions=(0.5, 1.5))


def test_optuna_still_has_the_private_queue_hook() -> None:
    """``only_queued_trials`` replaces Optuna's private ``Study._pop_waiting_trial_id`` so that
    ``study.optimize`` only runs queued trials (the workers, the grid baseline, the sweep), and
    ``trial_params`` reads a queued trial's values from its ``fixed_params`` system attribute. If Optuna
    drops, renames or stops using either, this fails first and says where to look."""
    from hybridtune.study._queue import _QueueEmpty, only_queued_trials

    where = ("hybridtune.study._queue.only_queued_trials relies on it; find Optuna's new way to take a trial "
             "from the queue without creating one")
    if not callable(getattr(optuna.Study, "_pop_waiting_trial_id", None)):
        pytest.fail(f"Optuna {optuna.__version__} no longer has Study._pop_waiting_trial_id: {where}.")
    study = optuna.create_study()
    study.enqueue_trial({"x": 1.0})
    if study.trials[0].system_attrs.get("fixed_params") != {"x": 1.0}:
        pytest.fail(f"Optuna {optuna.__version__} no longer stores a queued trial's values in the system "
                    f"attribute 'fixed_params', which hybridtune.study._queue.trial_params reads to tell which "
                    f"grid cells are queued.")
    with only_queued_trials(study):
        trial = study.ask()
        assert trial.suggest_float("x", 0.0, 2.0) == 1.0  # the queued trial, with its values
        try:
            study.ask()
        except _QueueEmpty:
            pass
        else:
            pytest.fail(f"Optuna {optuna.__version__}'s Study.ask no longer takes trials through "
                        f"Study._pop_waiting_trial_id: an empty queue created a new trial; {where}.")
    assert "_pop_waiting_trial_id" not in vars(study)  # the hook is removed again
    assert len(study.trials) == 1 and study.ask().number == 1  # outside the block, ask creates trials again


def test_run_grid_runs_each_missing_cell_once() -> None:
    from hybridtune.space import shuffled_cells
    from hybridtune.study._queue import run_grid

    study = optuna.create_study()
    cells = shuffled_cells({"a": [1, 2], "b": [10, 20]}, seed=0)
    seen: list[tuple[int, int]] = []

    def objective(t: optuna.Trial) -> float:
        a, b = t.suggest_categorical("a", [1, 2]), t.suggest_categorical("b", [10, 20])
        seen.append((a, b))
        if len(seen) == 2:
            raise KeyboardInterrupt  # a run stopped half-way
        return float(a * b)

    with pytest.raises(KeyboardInterrupt):
        run_grid(study, cells, objective)
    done = {(t.params["a"], t.params["b"]) for t in study.trials if t.state == TrialState.COMPLETE}
    progress: list[tuple[str, int, int]] = []
    ran = run_grid(study, cells, objective, progress=lambda *p: progress.append(p), phase="cells")
    complete = [(t.params["a"], t.params["b"]) for t in study.trials if t.state == TrialState.COMPLETE]
    assert ran == 3 and sorted(complete) == [(1, 10), (1, 20), (2, 10), (2, 20)]
    assert done <= set(complete) and seen.count(seen[1]) == 2  # the interrupted cell ran again, no other
    assert progress[0] == ("cells", 1, 4) and progress[-1] == ("cells", 4, 4)
    assert run_grid(study, cells, objective) == 0
