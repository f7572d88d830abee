"""The multi-fidelity ladder (issue 20): successive halving over complete 1cycle schedules.

Tiny seeded data, in-process: each rung's trials run a complete shorter 1cycle, promotions train the rung's
best again at the next length, the probes' momentum runs are first-rung observations, the budget is never
exceeded, a resumed study replays its ladder, a study stored before the ladder resumes with the pruner, and
(on PostgreSQL) a coordinator and a worker share the rungs without running one twice.
"""

from __future__ import annotations

import math
import threading
import uuid

import optuna
import pytest
from optuna.trial import TrialState

import hybridtune as ht
from hybridtune.study import keys, ladder_epochs, plan_ladder

DATA = "synthetic:n=400,classes=3,noise=1.0"


@pytest.fixture(scope="module")
def task() -> ht.Task:
    return ht.Task(model="mlp", data=DATA, device="cpu")


def _by_number(study: optuna.Study) -> dict[int, optuna.trial.FrozenTrial]:
    return {t.number: t for t in study.get_trials(deepcopy=False)}


@pytest.mark.parametrize("units", [1.0, 1.5, 2.72, 4.0, 5.9, 9.1, 17.0, 40.0])
@pytest.mark.parametrize("epochs", [(1, 2, 4), (3, 6, 11), (1, 2), (2,)])
def test_the_plan_fits_its_budget_and_halves(units: float, epochs: tuple[int, ...]) -> None:
    counts = plan_ladder(units, epochs)
    cost = sum(c * e / epochs[-1] for c, e in zip(counts, epochs))
    assert cost <= units + 1e-9
    assert counts[-1] >= 1  # from one full trial up, at least one full-length trial: the choice ran full length
    planned = [c for c in counts if c]
    assert all(a >= 2 * b for a, b in zip(planned, planned[1:]))  # each rung at least halves
    # nothing cheap is left on the table: one more first-rung trial would not fit
    if len(planned) > 1:
        assert cost + epochs[0] / epochs[-1] > units


def test_a_budget_below_one_full_trial_runs_the_first_rung_only() -> None:
    assert plan_ladder(0.61, (1, 2, 4)) == (2, 0, 0)
    assert plan_ladder(0.99, (1, 2, 4)) == (3, 0, 0)
    assert plan_ladder(0.2, (1, 2, 4)) == (0, 0, 0)  # not even one: nothing is queued


def test_the_plan_by_trials_counts_every_rung() -> None:
    for trials in (3, 6, 10, 20, 40):
        counts = plan_ladder(0, (1, 2, 4), trials=trials)
        assert sum(counts) <= trials and counts[-1] >= 1
    assert ladder_epochs(4) == (1, 2, 4) and ladder_epochs(2) == (1, 2) and ladder_epochs(1) == (1,)


def test_rungs_are_complete_short_schedules_and_promotions_train_longer(task: ht.Task, monkeypatch) -> None:
    import hybridtune.study._objective as objective

    seen: list[tuple[int, str]] = []
    real = objective.train

    def spy(t, config, **kw):
        seen.append((config.epochs, config.schedule))
        return real(t, config, **kw)

    monkeypatch.setattr(objective, "train", spy)
    r = ht.tune(task, trials=8, epochs=4, probe_batch_size=32, seed=1)
    study = r.studies["search"]
    ladder = study.user_attrs[keys.LADDER]
    assert ladder["epochs"] == [1, 2, 4] and sum(ladder["counts"]) <= 8
    trials = _by_number(study)
    ran = [t for t in trials.values() if t.user_attrs.get(keys.SOURCE) != keys.PROBE_SOURCE]
    assert len(ran) == sum(ladder["counts"]) == len(seen)
    # every trial is a complete 1cycle of its rung's length (never a long one cut short: nothing pruned)
    assert sorted(e for e, _ in seen) == sorted(t.user_attrs[keys.FIDELITY] for t in ran)
    assert {s for _, s in seen} == {"onecycle"}
    assert all(t.state == TrialState.COMPLETE for t in ran)
    for t in ran:
        curve = t.user_attrs[keys.CURVE]
        assert len(curve) == t.user_attrs[keys.FIDELITY]
        assert t.user_attrs[keys.COST]["epochs"] == pytest.approx(t.user_attrs[keys.FIDELITY], rel=0.01)
    # promotions: the rung below's best, the same values, the next length, each promoted once
    for rung in (1, 2):
        up = [t for t in ran if t.user_attrs[keys.RUNG] == rung]
        assert len(up) == ladder["counts"][rung]
        below = [t for t in trials.values() if t.user_attrs.get(keys.RUNG) == rung - 1 and t.value is not None]
        best_below = sorted(below, key=lambda t: (-t.value, t.number))[:len(up)]
        assert sorted(t.user_attrs[keys.PROMOTED_FROM] for t in up) == sorted(t.number for t in best_below)
        for t in up:
            src = trials[t.user_attrs[keys.PROMOTED_FROM]]
            assert t.params == src.params and t.user_attrs[keys.FIDELITY] > src.user_attrs[keys.FIDELITY]
    # the choice is the best of the longest rung, not a short run's value
    top = [t for t in ran if t.user_attrs[keys.RUNG] == 2]
    assert r.result.search.best_trial == max(top, key=lambda t: (t.value, -t.number)).number
    # the report shows the ladder and each trial's length and source
    assert [row["epochs"] for row in r.result.ladder] == [1, 2, 4]
    points = {p.number: p for p in r.result.search.history}
    assert all(points[t.number].fidelity == t.user_attrs[keys.FIDELITY] for t in ran)
    assert any((points[t.number].source or "").startswith("promoted from") for t in top)


def test_the_probes_momentum_runs_are_first_rung_observations(task: ht.Task) -> None:
    r = ht.tune(task, trials=6, epochs=4, probe_batch_size=32, seed=2)
    study = r.studies["search"]
    probes = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get(keys.SOURCE) == keys.PROBE_SOURCE]
    runs = [m for m in r.priors.momentum_runs if m.val_acc is not None]
    assert len(probes) == len(runs) >= 1
    for t, m in zip(sorted(probes, key=lambda t: t.number), runs):
        assert t.value == pytest.approx(m.val_acc) and t.user_attrs[keys.FIDELITY] == 1
        assert t.user_attrs[keys.RUNG] == 0 and keys.COST not in t.user_attrs  # its cost is the probes'
        assert t.params["momentum"] == pytest.approx(m.momentum)
        assert t.params["batch_size"] == r.priors.batch_size
    # they cost nothing more: the search's cost is the probes' plus the trials that trained
    trained = sum(t.user_attrs[keys.COST]["examples"] for t in study.get_trials(deepcopy=False)
                  if keys.COST in t.user_attrs)
    assert r.result.search.cost.examples == r.priors.cost.examples + trained


def test_the_budget_is_never_exceeded(task: ht.Task) -> None:
    n = len(task.data.train)
    budget = 9 * 4 * n  # nine full trials, the probes included
    r = ht.tune(task, epochs=4, probe_batch_size=32, seed=3, budget_examples=budget)
    study = r.studies["search"]
    ladder = study.user_attrs[keys.LADDER]
    assert ladder["counts"][0] > ladder["counts"][-1] >= 1
    assert r.result.search.cost.examples <= budget
    left = budget - r.result.search.cost.examples
    assert left < 4 * n  # and it was spent: less than one full trial left over


def test_a_resumed_study_replays_its_ladder(task: ht.Task, tmp_path, monkeypatch) -> None:
    import hybridtune.study._objective as objective

    storage = f"sqlite:///{tmp_path / 's.db'}"
    real = objective.train
    calls = [0]

    def stop_after_four(t, config, **kw):
        calls[0] += 1
        if calls[0] == 5:
            raise KeyboardInterrupt
        return real(t, config, **kw)

    monkeypatch.setattr(objective, "train", stop_after_four)
    with pytest.raises(KeyboardInterrupt):
        ht.tune(task, trials=8, epochs=4, probe_batch_size=32, seed=4, name="ladder-resume", storage=storage)
    study = optuna.load_study(study_name="ladder-resume", storage=storage)
    plan = study.user_attrs[keys.LADDER]
    done_before = {t.number: t.params for t in study.get_trials(deepcopy=False)
                   if t.state == TrialState.COMPLETE and keys.COST in t.user_attrs}
    assert len(done_before) == 4
    monkeypatch.setattr(objective, "train", real)
    r = ht.tune(task, trials=8, epochs=4, probe_batch_size=32, seed=4, name="ladder-resume", storage=storage)
    study = r.studies["search"]
    assert study.user_attrs[keys.LADDER] == plan  # the same plan
    trials = study.get_trials(deepcopy=False)
    for number, params in done_before.items():  # finished work kept, not run again
        assert trials[number].params == params and trials[number].state == TrialState.COMPLETE
    trained = [t for t in trials if t.state == TrialState.COMPLETE and keys.COST in t.user_attrs]
    assert len(trained) == sum(plan["counts"])  # the ladder completed, each ticket once
    assert sum(t.state == TrialState.FAIL for t in trials) == 1  # the interrupted one, run again
    assert r.result.search.best_trial is not None
    assert trials[r.result.search.best_trial].user_attrs[keys.FIDELITY] == 4


def test_a_study_stored_before_the_ladder_resumes_with_the_pruner(task: ht.Task, tmp_path) -> None:
    storage = f"sqlite:///{tmp_path / 's.db'}"
    old = ht.tune(task, trials=3, epochs=2, probe_batch_size=32, name="old", storage=storage, fidelity="pruner")
    study = old.studies["search"]
    # as a study stored before the ladder: no fidelity in its config nor its identity
    cfg = dict(study.user_attrs[keys.CONFIG])
    cfg.pop("fidelity")
    study.set_user_attr(keys.CONFIG, cfg)
    assert "fidelity" not in study.user_attrs[keys.IDENTITY]
    assert ht.study.config_from_dict(cfg).fidelity == "pruner"
    resolved = ht.resolve_config(task, ht.StudyConfig(name="old", trials=5, probe_batch_size=32), storage=storage)
    assert resolved.fidelity == "pruner" and resolved.epochs == 2
    r = ht.tune(task, trials=5, epochs=2, probe_batch_size=32, name="old", storage=storage)
    study = r.studies["search"]
    assert keys.LADDER not in study.user_attrs
    assert all(keys.FIDELITY not in t.user_attrs for t in study.get_trials(deepcopy=False))
    assert r.result.search.n_trials == 5
    # a new study gets the ladder
    assert ht.resolve_config(task, ht.StudyConfig(name="new"), storage=storage).fidelity == "ladder"


def test_bad_fidelity_is_one_line() -> None:
    with pytest.raises(ht.ConfigError, match=r"fidelity must be one of .*'rungs'"):
        ht.StudyConfig(fidelity="rungs")


@pytest.mark.timeout(300)
def test_a_coordinator_and_a_worker_share_the_rungs_without_running_one_twice(task: ht.Task, pg: str) -> None:
    """On PostgreSQL a worker (a thread here, its own storage connection) takes the ladder's trials beside the
    coordinator and stays for the promotions; every ticket runs once, every promotion is queued once."""
    url = pg
    name = f"ladder-{uuid.uuid4().hex[:10]}"
    worker: dict = {}

    def join() -> None:
        worker["result"] = ht.run_worker(name, storage=url, device="cpu", wait_seconds=120, poll_seconds=0.1)

    thread = threading.Thread(target=join)
    thread.start()
    config = ht.StudyConfig(name=name, trials=12, epochs=4, probe_batch_size=32, baselines=(), test=False,
                            dashboard=False, artefacts=False)
    ht.run_study(ht.Task(model="mlp", data=DATA, device="cpu"), config, storage=url, poll_seconds=0.1)
    thread.join(timeout=120)
    assert not thread.is_alive()
    study = optuna.load_study(study_name=name, storage=url)
    plan = study.user_attrs[keys.LADDER]
    trials = study.get_trials(deepcopy=False)
    trained = [t for t in trials if keys.COST in t.user_attrs]
    assert len(trained) == len(trials) - sum(t.user_attrs.get(keys.SOURCE) == keys.PROBE_SOURCE for t in trials)
    assert all(t.state == TrialState.COMPLETE for t in trained)
    for rung, count in enumerate(plan["counts"]):
        on = [t for t in trained if t.user_attrs[keys.RUNG] == rung]
        assert len(on) == count
        if rung:
            sources = [t.user_attrs[keys.PROMOTED_FROM] for t in on]
            assert len(set(sources)) == len(sources)  # nothing promoted twice
    assert worker["result"].trials.get("search", 0) >= 1  # the worker took some of the ladder's trials
    assert not math.isnan(ht.load_result(name, storage=url).search.best_value)


def test_the_length_ladder_climbs_while_improving_and_stops_at_its_cap(task: ht.Task, monkeypatch) -> None:
    """A best full-length trial still improving at its last epoch is trained again twice as long, and again,
    up to the cap; the choice is the best of E epochs or more, and its test retrains and recipe run its length."""
    import hybridtune.study._ladder as ladder_module

    monkeypatch.setattr(ladder_module, "last_epoch_rise", lambda curve, n_val: (0.5, 0.9, 10.0))
    r = ht.tune(task, trials=6, epochs=2, probe_batch_size=32, seed=5, length_cap=8, test_seeds=1)
    study = r.studies["search"]
    trials = study.get_trials(deepcopy=False)
    longer = sorted((t for t in trials if t.user_attrs.get(keys.EXTENDED)), key=lambda t: t.number)
    assert [t.user_attrs[keys.FIDELITY] for t in longer] == [4, 8]  # 2E, 4E, then the cap
    assert longer[1].user_attrs[keys.PROMOTED_FROM] == longer[0].number
    assert all(len(t.user_attrs[keys.CURVE]) == t.user_attrs[keys.FIDELITY] for t in longer)
    full = [t for t in trials if t.user_attrs.get(keys.FIDELITY) == 2 and t.user_attrs.get(keys.RUNG) == 1]
    assert longer[0].user_attrs[keys.PROMOTED_FROM] == max(full, key=lambda t: (t.value, -t.number)).number
    # the choice: the best of 2 epochs or more; its test retrain and its recipe run the chosen length
    chosen = trials[r.result.search.best_trial]
    assert chosen.value == max(t.value for t in full + longer)
    assert r.recipe.train.epochs == max(2, chosen.user_attrs[keys.FIDELITY])
    assert [row["epochs"] for row in r.result.ladder] == [1, 2, 4, 8]


def test_the_length_ladder_stops_at_the_budget_and_never_climbs_for_a_flat_curve(task: ht.Task,
                                                                                 monkeypatch) -> None:
    import hybridtune.study._ladder as ladder_module

    n = len(task.data.train)
    monkeypatch.setattr(ladder_module, "last_epoch_rise", lambda curve, n_val: (0.5, 0.9, 10.0))
    r = ht.tune(task, epochs=2, probe_batch_size=32, seed=6, budget_examples=8 * 2 * n, test=False)
    trials = r.studies["search"].get_trials(deepcopy=False)
    assert r.result.search.cost.examples <= 8 * 2 * n  # whatever the ladder climbs, within the budget
    longer = [t for t in trials if t.user_attrs.get(keys.EXTENDED)]
    left = 8 * 2 * n - r.result.search.cost.examples
    if longer:
        last = max(longer, key=lambda t: t.user_attrs[keys.FIDELITY])
        assert left < 2 * last.user_attrs[keys.FIDELITY] * n  # the next step would not have fitted
    else:
        assert left < 4 * n
    monkeypatch.setattr(ladder_module, "last_epoch_rise", lambda curve, n_val: None)
    flat = ht.tune(task, trials=6, epochs=2, probe_batch_size=32, seed=6, test=False)
    assert not any(t.user_attrs.get(keys.EXTENDED) for t in flat.studies["search"].get_trials(deepcopy=False))


def test_a_budget_the_probes_nearly_spent_still_chooses_from_short_runs(task: ht.Task) -> None:
    """Less than one full trial left after the probes: the first rung's short runs (the suggestions first)
    are the evidence, and the best of them is the choice, retrained at full length for the test."""
    probe = ht.tune(task, trials=1, epochs=4, probe_batch_size=32, seed=7, test=False).priors.cost.examples
    n = len(task.data.train)
    budget = probe + int(0.6 * 4 * n)
    r = ht.tune(task, epochs=4, probe_batch_size=32, seed=7, budget_examples=budget, test_seeds=1)
    study = r.studies["search"]
    assert study.user_attrs[keys.LADDER]["counts"] == [2, 0, 0]
    ran = [t for t in study.get_trials(deepcopy=False) if keys.COST in t.user_attrs]
    assert len(ran) == 2 and all(t.user_attrs[keys.SOURCE] == keys.SUGGESTION_SOURCE for t in ran)
    assert r.result.search.cost.examples <= budget
    assert r.result.search.best_trial is not None and r.recipe.train.epochs == 4
    assert r.test_score is not None and len(r.test_score.seeds) == 1
