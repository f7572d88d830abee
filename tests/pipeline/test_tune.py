"""The library API, through ``import hybridtune as ht`` only (issue 6)."""

from __future__ import annotations

import json

import optuna
import pytest
import torch
from torch import nn

import hybridtune as ht


def _tabular():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 12, generator=g)
    y = (x[:, :3].sum(dim=1) > 0).long() + (x[:, 3] > 1).long()
    return x, y


def _tabular_net(input_shape, num_classes):
    return nn.Sequential(nn.Linear(input_shape[0], 32), nn.ReLU(), nn.Linear(32, num_classes))


@pytest.fixture(scope="module")
def tab_task() -> ht.Task:
    return ht.Task(model=_tabular_net, data=_tabular(), optimizer="adam", device="cpu")


def test_user_model_and_data_go_through_tune(tab_task: ht.Task) -> None:
    progress: list[str] = []
    r = ht.tune(tab_task, trials=4, epochs=2, probe_batch_size=32, probe_momenta=(0.95, 0.9),
                progress=lambda phase, done, total: progress.append(phase))
    assert isinstance(r, ht.TuneResult)
    assert r.best_value is not None and 0 <= r.best_value <= 1
    assert set(r.best_config) == {"lr", "momentum", "weight_decay", "batch_size"}
    assert len(r.trials) == 4 and set(r.trials["role"]) == {"search"}
    assert r.trials["examples"].notna().all() and (r.trials["examples"] > 0).all()
    assert r.comparison is None and set(r.studies) == {"search"}
    assert any(p.startswith("probes") for p in progress) and "search" in progress
    assert r.priors is not None and r.priors.optimizer == "adam"


def test_objective_in_a_plain_optuna_study(tab_task: ht.Task) -> None:
    space = ht.wide_space(tab_task.optimizer, [32, 64])
    assert set(space.distributions()) >= {"lr", "batch_size"}
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    study.optimize(ht.objective(tab_task, space, epochs=2), n_trials=3)
    assert len(study.trials) == 3
    for t in study.trials:
        assert t.user_attrs["cost"]["examples"] > 0 and len(t.user_attrs["curve"]) == 2
        assert t.intermediate_values and 0 <= t.value <= 1


def test_objective_prunes_every_epoch(tab_task: ht.Task) -> None:
    class AlwaysPrune(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return True

    study = optuna.create_study(direction="maximize", pruner=AlwaysPrune())
    study.optimize(ht.objective(tab_task, ht.wide_space("adam", [32]), epochs=3), n_trials=2)
    assert all(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    assert all(list(t.intermediate_values) == [1] for t in study.trials)


def test_find_priors_then_tune_does_not_probe_again(tab_task: ht.Task, monkeypatch) -> None:
    priors = ht.find_priors(tab_task, batch_size=32, momenta=(0.95, 0.9))
    import hybridtune.probes._priors as priors_module

    def no_probes(*a, **k):
        raise AssertionError("the probes ran again")

    # find_priors runs the range test through this name: any caller, any door
    monkeypatch.setattr(priors_module, "lr_range_test", no_probes)
    r = ht.tune(tab_task, priors=priors, trials=2, epochs=2)
    assert r.priors == priors
    assert r.result.search.probe_cost == priors.cost


def test_given_priors_go_through_the_studys_identity_check(tab_task: ht.Task, tmp_path) -> None:
    """tune(priors=...) opens its study like any run: a plain Optuna study of that name is refused before
    anything is written to it, and a hybridtune study keeps the priors it was made with."""
    priors = ht.find_priors(tab_task, batch_size=32, momenta=(0.95, 0.9))
    url = f"sqlite:///{tmp_path / 's.db'}"
    plain = optuna.create_study(study_name="taken", storage=url)
    plain.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    with pytest.raises(ht.ConfigError, match="must be a hybridtune study to resume it"):
        ht.tune(tab_task, priors=priors, trials=2, epochs=2, storage=url, name="taken")
    assert optuna.load_study(study_name="taken", storage=url).user_attrs == {}
    ht.tune(tab_task, priors=priors, trials=1, epochs=2, storage=url, name="mine")
    other = ht.find_priors(tab_task, batch_size=32, momenta=(0.95, 0.9), seed=1)
    with pytest.raises(ht.ConfigError, match="priors must match the ones stored with study 'mine'"):
        ht.tune(tab_task, priors=other, trials=1, epochs=2, storage=url, name="mine")


def test_results_round_trip_through_json(tab_task: ht.Task) -> None:
    r = ht.tune(tab_task, trials=2, epochs=2, probe_batch_size=32, probe_momenta=(0.9,),
                baseline="grid", grid={"lr": [1e-3, 1e-2], "momentum": [0.9], "weight_decay": [0.0],
                                       "batch_size": [32]})
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["best_value"] == r.best_value and d["study"]["grid"]["n_trials"] == 2
    assert ht.Priors.from_dict(d["study"]["priors"]) == r.priors
    assert r.comparison is not None and "grid" in r.comparison.rows
    assert set(r.trials["role"]) == {"search", "grid"}


@pytest.mark.parametrize("call, message", [
    (lambda t: ht.tune("not a task"), "task must be a hybridtune.Task, but got str."),
    (lambda t: ht.tune(t, trials=0), "trials must be a positive integer, but got trials=0."),
    (lambda t: ht.tune(t, trials=3, n_trials=2),
     "trials and its deprecated name n_trials must not disagree, but got trials=3, n_trials=2."),
    (lambda t: ht.tune(t, baseline="grd"), "Did you mean 'grid'"),
    (lambda t: ht.tune(t, sampler="tpee"), "sampler must be one of"),
    (lambda t: ht.objective(t, "space"), "space must be a hybridtune.SearchSpace, but got str."),
    (lambda t: ht.objective(t, ht.wide_space("sgd", [32])), "space and task must share an optimizer family"),
    (lambda t: ht.Task(model=_tabular_net, data=_tabular(), optimizer="adamm"), "Did you mean 'adam'"),
    (lambda t: ht.Task(model="resnett", data=_tabular()), "Did you mean 'resnet'"),
])
def test_errors_are_hybridtune_errors(tab_task: ht.Task, call, message: str) -> None:
    with pytest.raises(ht.HybridTuneError) as err:
        call(tab_task)
    assert message in str(err.value)
    assert isinstance(err.value, ValueError)  # ConfigError is also a ValueError


def test_api_never_prints(tab_task: ht.Task, capsys) -> None:
    ht.tune(tab_task, trials=2, epochs=1, probe_batch_size=32, probe_momenta=(0.9,))
    out, err = capsys.readouterr()
    assert out == "" and "Trial" not in err


def test_deprecated_names_still_work(tab_task: ht.Task) -> None:
    with pytest.warns(DeprecationWarning, match=r"tune\(trials=\.\.\.\)"):
        r = ht.tune(tab_task, n_trials=2, epochs=1, probe_batch_size=32, probe_momenta=(0.9,))
    assert len(r.trials) == 2 and r.result.config["trials"] == 2
    with pytest.warns(DeprecationWarning, match="best_config"):
        assert r.result.search.best_hyperparams == r.result.search.best_config == r.best_config
    assert r.result.search.to_dict()["best_config"] == r.best_config
    assert not hasattr(r, "extra")
