"""Equal budgets and retrained choices (issue 13): a budget in training examples is never overrun and counts
the probes; every study's choice is retrained on the same seeds; the JSON carries the honest numbers."""

from __future__ import annotations

import json

import optuna
import pytest
from optuna.trial import TrialState, create_trial

import hybridtune as ht
from hybridtune.study._budget import affordable, grid_examples

GRID = {"lr": [0.1, 0.3], "momentum": [0.9], "weight_decay": [0.0], "batch_size": [16, 32]}
SMALL = dict(epochs=2, probe_batch_size=32, probe_momenta=(0.95, 0.9), batch_size_floor=16, grid=GRID,
             baselines=("grid", "random"), test_seeds=2)


@pytest.fixture(scope="module")
def budgeted(tiny_task: ht.Task, tmp_path_factory: pytest.TempPathFactory) -> tuple[ht.StudyResult, str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('budget') / 's.db'}"
    # the probes cost about 3,500 examples here and a trial at most 2 x 280: 3 x the grid's ~2,100 leaves
    # room for a few trials
    config = ht.StudyConfig(name="b", budget=3.0, **SMALL)
    return ht.run_study(tiny_task, config, storage=url), url


@pytest.mark.slow  # the module's budgeted study (search, grid, random, test seeds): ~17 s once
def test_the_budget_is_never_overrun_and_counts_the_probes(budgeted, tiny_task: ht.Task) -> None:
    result, url = budgeted
    b = result.budget
    n_train = len(tiny_task.data.train)
    assert b["per_trial"] == 2 * n_train and b["start"] == result.priors.cost.examples
    grid = ht.grid_space(tiny_task, overrides=GRID)
    assert b["grid_examples"] == grid_examples(grid, n_train=n_train, epochs=2) == result.grid.cost.examples
    assert b["examples"] == round(3.0 * b["grid_examples"])
    search = result.search
    assert search.cost.examples == result.priors.cost.examples + sum(p.cost.examples for p in search.history)
    assert search.n_trials >= 1 and search.cost.examples <= b["examples"]
    # it stopped because the next trial could overrun, not before
    assert b["examples"] - search.cost.examples < b["per_trial"]
    # random search gets the same budget, without probes
    assert result.random.cost.examples > search.cost.examples - result.priors.cost.examples
    assert result.random.cost.examples <= b["examples"] < result.random.cost.examples + b["per_trial"]
    d = result.to_dict()["budget"]
    assert d["used"] == {"search": search.cost.examples, "grid": result.grid.cost.examples,
                         "random": result.random.cost.examples}


def test_a_pruned_trial_hands_back_what_it_did_not_use() -> None:
    study = optuna.create_study(direction="maximize")
    budget = {"examples": 10_000, "per_trial": 3_000, "start": 2_500}
    assert affordable(study.get_trials(), budget) == 2  # 7,500 left: two full trials
    study.enqueue_trial({})
    assert affordable(study.get_trials(), budget) == 1  # a queued trial holds a full trial's cost
    study.add_trial(create_trial(state=TrialState.PRUNED, user_attrs={"cost": {"examples": 1_000}}))
    # the queued one still holds 3,000; the pruned one used 1,000: 10,000 - 2,500 - 1,000 - 3,000 = 3,500
    assert affordable(study.get_trials(), budget) == 1


def test_a_budget_below_one_trial_is_refused(tiny_task: ht.Task) -> None:
    with pytest.raises(ht.ConfigError, match=r"budget must pay for at least one full trial \(2 epochs x 280 "
                                             r"training examples = 560 examples"):
        ht.run_study(tiny_task, ht.StudyConfig(name="b", budget_examples=500, **SMALL), storage="sqlite:///:memory:")
    with pytest.raises(ht.ConfigError, match="budget and budget_examples must not both be given"):
        ht.StudyConfig(budget=0.1, budget_examples=1000)
    for bad in (0, -0.1, float("nan"), True):
        with pytest.raises(ht.ConfigError, match=r"budget must be a fraction of the grid's cost > 0"):
            ht.StudyConfig(budget=bad)
    with pytest.raises(ht.ConfigError, match="test_seeds must be a positive integer, but got test_seeds=0"):
        ht.StudyConfig(test_seeds=0)


@pytest.mark.slow  # the module's budgeted study (search, grid, random, test seeds): ~17 s once
def test_every_study_is_retrained_on_the_same_seeds(budgeted) -> None:
    result, url = budgeted
    seeds = ht.StudyConfig(**SMALL).test_seed_list
    assert seeds == (1000, 1001)
    by_role = {}
    for role, o in result.outcomes.items():
        stored = optuna.load_study(study_name=o.study_name, storage=url).user_attrs["test"]
        assert stored["trial"] == o.best_trial and [r["seed"] for r in stored["runs"]] == list(seeds)
        by_role[role] = {r["seed"]: r["test_accuracy"] for r in stored["runs"]}
        assert o.test_score.seeds == seeds
        assert o.test_accuracy == pytest.approx(sum(by_role[role].values()) / 2)
    for role in ("search", "random"):
        d = result.comparison.rows[role].difference_vs_grid
        diffs = [by_role[role][s] - by_role["grid"][s] for s in seeds]
        assert d.seeds == seeds and d.mean == pytest.approx(sum(diffs) / 2)
        assert d.se == pytest.approx(abs(diffs[0] - diffs[1]) / 2)


@pytest.mark.slow  # the module's budgeted study (search, grid, random, test seeds): ~17 s once
def test_json_carries_budget_test_scores_differences_and_the_normalised_score(budgeted) -> None:
    result, _ = budgeted
    d = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert {"examples", "per_trial", "fraction", "grid_examples", "start", "used"} <= set(d["budget"])
    assert d["budget"]["fraction"] == 3.0
    c = d["comparison"]
    assert c["rule"] == "se" and c["match_z"] == 1.0 and c["tolerance_points"] is None
    assert "normalised_score" in c and isinstance(c["normalised_score_note"], str)
    for role in ("search", "grid", "random"):
        t = c[role]["test_accuracy"]
        assert set(t) >= {"mean", "se", "seeds"} and t["seeds"] == [1000, 1001]
        assert d[role]["test_accuracy"] == t
    for role in ("search", "random"):
        assert set(c[role]["difference_vs_grid"]) >= {"mean", "se"}
    assert c["grid"]["difference_vs_grid"] is None
    assert isinstance(d["verdict"], str) and d["no_verdict"] is None


def test_trials_and_a_budget_size_the_search_one_at_a_time(tmp_path) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text("[study]\ntrials = 12\nbaselines = [\"grid\"]\n")
    # a flag's budget replaces the spec's trials (flags override the spec), and the other way round
    assert ht.load_spec(spec).build(budget=0.1)[1].budgeted
    spec.write_text("[study]\nbudget = 0.1\n")
    _, config = ht.load_spec(spec).build(trials=7)
    assert config.trials == 7 and not config.budgeted
    spec.write_text("[study]\ntrials = 12\nbudget = 0.1\n")
    with pytest.raises(ht.ConfigError, match=r"trials and budget must not both be given .* in the spec"):
        ht.load_spec(spec).build()
    with pytest.raises(ht.ConfigError, match="budget .* needs the grid baseline"):
        ht.StudyConfig(budget=0.1, baselines=("random",))
    assert ht.StudyConfig(budget_examples=10_000, baselines=()).budgeted  # in examples, no grid is needed


def test_a_resumed_study_with_a_smaller_budget_does_not_overrun(tiny_task: ht.Task, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    kw = {**SMALL, "baselines": (), "test": False, "dashboard": False, "artefacts": False}
    first = ht.run_study(tiny_task, ht.StudyConfig(name="r", trials=2, **kw), storage=url)
    study = optuna.load_study(study_name="r", storage=url)
    for _ in range(6):  # tickets left from a larger run (as after Ctrl-C)
        study.enqueue_trial({})
    budget = first.priors.cost.examples + 2 * 2 * len(tiny_task.data.train)  # the probes and two trials
    again = ht.run_study(tiny_task, ht.StudyConfig(name="r", budget_examples=budget, **kw), storage=url)
    assert again.search.cost.examples <= budget
    over = [t for t in study.get_trials() if t.user_attrs.get("outcome") == "over budget"]
    assert over and all(t.state == TrialState.FAIL and "cost" not in t.user_attrs for t in over)


@pytest.mark.slow  # the module's budgeted study (search, grid, random, test seeds): ~17 s once
def test_no_verdict_against_a_grid_that_did_not_finish(budgeted) -> None:
    import dataclasses

    result, _ = budgeted
    assert result.verdict is not None
    partial = dataclasses.replace(result, grid_space={**result.grid_space, "cells": 9})
    assert partial.verdict is None
    assert partial.no_verdict.startswith("no verdict: the grid ran 4 of its 9 cells (an interrupted study)")
