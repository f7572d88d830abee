"""fit: the LR from the (cached) probe unless given, recipes with overrides, train+val, checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import hybridtune as ht
from hybridtune.pipeline import _priors
from hybridtune.pipeline._fit import FIT_DEFAULTS, FitResult, fit
from hybridtune.space import scale_lr
from hybridtune.train import Recipe


@pytest.fixture
def task() -> ht.Task:
    return ht.Task(model="mlp", data="synthetic:n=200", device="cpu")


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[int]:
    """A fresh cache folder, and the probe counted where fit looks it up."""
    monkeypatch.setenv("HYBRIDTUNE_CACHE", str(tmp_path / "cache"))
    calls: list[int] = []
    real = _priors.find_priors

    def counted(*args, **kwargs):
        calls.append(kwargs["batch_size"])
        return real(*args, **kwargs)

    monkeypatch.setattr(_priors, "find_priors", counted)
    return calls


def test_without_lr_it_probes_once_then_hits_the_cache(task: ht.Task, probes: list[int]) -> None:
    first = fit(task, epochs=1)
    assert probes == [16]  # the study's probe batch (64), capped at 8 steps per epoch of 140 examples
    assert first.lr_source == "probe" and not first.cached
    p = first.priors
    assert p is not None and p.batch_size == 16
    # the study's first suggestion: 10**0.5 x lr_max at the probe's batch, scaled to the training batch
    assert first.lr == pytest.approx(scale_lr(p.lr_max * 10 ** 0.5, FIT_DEFAULTS["batch_size"], 16, "momentum"))
    assert first.config.momentum == p.momentum and first.config.cycle_momentum == (p.momentum, p.momentum - 0.1)
    assert first.reason.startswith(f"lr {first.lr:.4g} from the probe at batch 16: the 1cycle peak 3.16 x the "
                                   f"range test's lr_max")
    assert first.probe_cost == p.cost and first.probe_cost.examples > 0
    assert first.total_cost.examples == first.result.cost.examples + p.cost.examples
    assert first.to_dict()["probe"]["cost"]["examples"] == p.cost.examples

    second = fit(task, epochs=1)
    assert probes == [16]  # no second probe
    assert second.cached and second.lr == first.lr and second.priors == p
    assert second.probe_cost.examples == 0 and second.total_cost == second.result.cost
    assert "from the cached probe" in second.reason
    # another seed is another probe
    fit(task, epochs=1, seed=1)
    assert probes == [16, 16]


def test_a_task_from_python_objects_is_not_cached(probes: list[int], caplog: pytest.LogCaptureFixture) -> None:
    g = torch.Generator().manual_seed(0)
    task = ht.Task(model="mlp", data=(torch.randn(200, 8, generator=g), torch.arange(200) % 4), device="cpu")
    caplog.set_level("INFO", logger="hybridtune.pipeline._priors")
    fit(task, epochs=1)
    fit(task, epochs=1)
    assert len(probes) == 2 and "not cached" in caplog.text


def test_lr_given_does_exactly_that(task: ht.Task, probes: list[int]) -> None:
    r = fit(task, lr=0.05, epochs=1)
    assert probes == [] and r.priors is None and r.lr == 0.05 and r.config.momentum == 0.9
    assert r.lr_source == "given" and r.reason == "lr 0.05 as given"
    assert r.config.schedule == "onecycle" and r.config.batch_size == 32 and r.config.weight_decay == 5e-4
    config = ht.TrainConfig(lr=0.02, epochs=1, batch_size=16)
    r = fit(task, config)
    assert probes == [] and r.lr_source == "config" and r.config == config


def test_recipe_settings_with_single_overrides(task: ht.Task, probes: list[int]) -> None:
    base = ht.TrainConfig(optimizer="momentum", lr=0.08, momentum=0.85, batch_size=16, epochs=1,
                          schedule="onecycle", weight_decay=1e-4, seed=2)
    recipe = Recipe.of(task, base, source={"study": "s", "trial": 3})
    r = fit(task, recipe=recipe, epochs=2, batch_size=32)
    assert probes == []
    assert r.config == base.replace(epochs=2, batch_size=32)
    assert r.lr_source == "recipe" and r.reason == "lr 0.08 from the recipe (study s, trial 3)"
    assert r.recipe.source["recipe"] == {"study": "s", "trial": 3}
    assert fit(task, recipe=recipe, lr=0.01).config == base.replace(lr=0.01)


def test_train_on_train_and_val_reports_no_validation_metrics(task: ht.Task) -> None:
    r = fit(task, lr=0.05, epochs=2, train_on="train+val")
    n = len(task.data.train) + len(task.data.val)
    assert r.result.cost.examples == 2 * (n // 32) * 32  # both splits trained on
    assert r.val_accuracy is None and r.result.val_loss is None
    assert all(e.val_acc is None for e in r.result.epochs) and r.result.cost.eval_examples == 0
    d = r.to_dict()
    assert d["val_acc"] is None and d["best_val_acc"] is None and d["train_on"] == "train+val"
    assert r.recipe.metrics["val_accuracy"] is None and 0 <= r.test_accuracy <= 1
    assert r.recipe.train.eval_every == 1  # the recipe keeps the settings, not the missing validation


def test_save_round_trips_to_the_recorded_test_accuracy(task: ht.Task, tmp_path: Path) -> None:
    r = fit(task, lr=0.05, epochs=2, save=tmp_path / "final.pt")
    assert r.checkpoint == str(tmp_path / "final.pt") and r.model is None
    model, recipe = ht.load_checkpoint(r.checkpoint)
    assert recipe == r.recipe and recipe.train == r.config
    assert recipe.metrics["test_accuracy"] == pytest.approx(r.test_accuracy)
    assert task.evaluate(model, task.data.test)[1] == pytest.approx(r.test_accuracy)


def test_keep_model_hands_the_trained_model_back(task: ht.Task) -> None:
    r = fit(task, lr=0.05, epochs=1, keep_model=True)
    assert isinstance(r.model, torch.nn.Module)
    assert task.evaluate(r.model, task.data.test)[1] == pytest.approx(r.test_accuracy)
    assert isinstance(r, FitResult) and "model" not in r.to_dict()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"train_on": "val"}, "train_on must be one of train, train+val, but got 'val'. Did you mean 'train+val'?"),
    ({"lr": -0.1}, "lr must be a positive finite number, but got lr=-0.1."),
    ({"lr": float("nan")}, "lr must be a positive finite number, but got lr=nan."),
    ({"batch_size": 4096}, "batch_size must be <= the training set size (140), but got batch_size=4096."),
    ({"momentum": 1.5}, "momentum must be in [0, 1), but got momentum=1.5."),
    ({"epoch": 3}, "TrainConfig fields must be among its fields, but got ['epoch']."),
    ({"probe_batch_size": 0}, "probe_batch_size must be a positive integer, but got probe_batch_size=0."),
    ({"train_on": "train+val", "target": 0.9, "target_metric": "val_acc"},
     "target_metric must be train_acc when training on train+val (no validation split is left to measure), "
     "but got target_metric='val_acc'."),
])
def test_bad_input_names_the_rule_and_the_value(task: ht.Task, probes: list[int], kwargs, message) -> None:
    with pytest.raises(ht.ConfigError) as err:
        fit(task, **kwargs)
    assert str(err.value) == message
    assert probes == []  # refused before any probe


def test_a_recipe_from_another_task_is_refused(task: ht.Task, probes: list[int]) -> None:
    other = ht.Task(model="mlp", data="synthetic:n=200,classes=3", device="cpu")
    recipe = Recipe.of(other, ht.TrainConfig(lr=0.1))
    with pytest.raises(ht.ConfigError, match=r"recipe must come from a task with the same inputs and classes"):
        fit(task, recipe=recipe)
    with pytest.raises(ht.ConfigError, match="from config or from recipe, but got both"):
        fit(task, ht.TrainConfig(), recipe=recipe)


_NETS = '''from torch import nn


def tiny(input_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, {width}), nn.ReLU(), nn.Linear({width}, num_classes))
'''


def _cache_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "priors").iterdir())


def test_a_model_given_as_a_path_is_cached_inside_the_cache_folder(probes: list[int], tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "nets.py").write_text(_NETS.format(width=16))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    for spec in (f"{tmp_path / 'models' / 'nets.py'}:tiny", "../models/nets.py:tiny"):
        fit(ht.Task(model=spec, data="synthetic:n=200", device="cpu"), epochs=1)
    files = _cache_files(tmp_path)
    # named by a digest and the function's name: nothing lands beside the model file or above the cache
    assert len(files) == 2 and all(f.name.startswith("tiny-momentum-") and f.suffix == ".json" for f in files)
    assert sorted(p.name for p in (tmp_path / "models").iterdir() if p.suffix == ".json") == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "models", "work"]


def test_the_cache_key_follows_the_user_files_and_torch(probes: list[int], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    nets = tmp_path / "nets.py"
    nets.write_text(_NETS.format(width=16))
    (tmp_path / "data.py").write_text("import torch\n\ndef load():\n    g = torch.Generator().manual_seed(0)\n"
                                      "    return torch.randn(200, 1, 8, 8, generator=g), torch.arange(200) % 4\n")
    task = ht.Task(model=f"{nets}:tiny", data=f"{tmp_path / 'data.py'}:load", device="cpu")
    key = _priors.cache_key(task, {"batch_size": 16})
    assert key["torch"] == torch.__version__ and set(key["files"]) == {"model", "data"}
    fit(task, epochs=1)
    fit(task, epochs=1)
    assert len(probes) == 1
    # the same reference, the code behind it edited: probe again (the loaded module is this process's, so the
    # edit does not change this task's model: the key alone must tell the two apart)
    nets.write_text(_NETS.format(width=32))
    fit(task, epochs=1)
    assert len(probes) == 2
    with open(tmp_path / "data.py", "a") as f:
        f.write("# edited\n")
    fit(task, epochs=1)
    assert len(probes) == 3
    monkeypatch.setattr(torch, "__version__", "99.0")
    fit(task, epochs=1)
    assert len(probes) == 4 and len(_cache_files(tmp_path)) == 4


def test_an_unwritable_save_path_fails_before_the_probe(task: ht.Task, probes: list[int], tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    target = tmp_path / "afile" / "final.pt"
    with pytest.raises(ht.ConfigError) as err:
        fit(task, epochs=1, save=target)
    assert str(err.value) == (f"save must be a path in a folder that can be created and written, but "
                              f"{str(target)!r} cannot be written (Not a directory).")
    assert probes == []  # refused before any probe or training
