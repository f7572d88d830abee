"""``hybridtune train`` as a user runs it: the probe's LR by default (cached), a recipe with flags replacing
single values, a study's recipe, train+val, a checkpoint, and bad recipe files as one line."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

import hybridtune as ht
from conftest import cli
from hybridtune.train import Recipe, save_recipe

SYN = "synthetic:n=300"
ENV = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def recipe_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Recipe]:
    task = ht.Task(model="cnn", data=SYN, device="cpu")
    config = ht.TrainConfig(optimizer="momentum", lr=0.08, momentum=0.85, batch_size=16, epochs=3,
                            schedule="onecycle", weight_decay=1e-4, seed=2)
    recipe = Recipe.of(task, config, source={"study": "demo", "trial": 7})
    path = save_recipe(recipe, tmp_path_factory.mktemp("recipe") / "best.json")
    return path, recipe


def test_train_from_a_recipe_with_an_override_and_a_checkpoint(recipe_file, tmp_path: Path) -> None:
    path, recipe = recipe_file
    out, ckpt = tmp_path / "r.json", tmp_path / "final.pt"
    p = cli("train", "--recipe", str(path), "--epochs", "2", "--save", str(ckpt), "--json", str(out),
            "--device", "cpu", env=ENV)
    assert p.returncode == 0, p.stderr
    assert f"settings from recipe {path}" in p.stdout
    assert "lr: lr 0.08 from the recipe (study demo, trial 7)" in p.stdout and "probe:" not in p.stdout
    assert f"checkpoint: {ckpt}" in p.stdout
    data = json.loads(out.read_text())
    assert {k: data["config"][k] for k in ("lr", "momentum", "batch_size", "epochs", "weight_decay", "seed")} == \
        {"lr": 0.08, "momentum": 0.85, "batch_size": 16, "epochs": 2, "weight_decay": 1e-4, "seed": 2}
    assert data["lr_source"] == "recipe" and data["probe"] is None and data["checkpoint"] == str(ckpt)
    assert data["cost"] == data["total_cost"] and data["cost"]["examples"] == 2 * (210 // 16) * 16
    model, back = ht.load_checkpoint(ckpt)
    assert back.train == recipe.train.replace(epochs=2) and back.task == recipe.task
    assert back.metrics["test_accuracy"] == pytest.approx(data["test_accuracy"])
    task = back.build_task(device="cpu")
    assert task.evaluate(model, task.data.test)[1] == pytest.approx(data["test_accuracy"])


def test_train_probes_once_then_reads_the_cache(tmp_path: Path) -> None:
    env = {**ENV, "HYBRIDTUNE_CACHE": str(tmp_path / "cache")}
    args = ("train", "--model", "mlp", "--dataset", SYN, "--epochs", "1", "--device", "cpu")
    first = cli(*args, "--json", str(tmp_path / "1.json"), env=env)
    assert first.returncode == 0, first.stderr
    assert "probe: cost " in first.stdout and "from the probe at batch 16" in first.stdout
    second = cli(*args, "--json", str(tmp_path / "2.json"), env=env)
    assert second.returncode == 0, second.stderr
    assert "probe: cached, no cost now" in second.stdout and "from the cached probe" in second.stdout
    one, two = (json.loads((tmp_path / f"{i}.json").read_text()) for i in (1, 2))
    assert one["lr"] == two["lr"] and one["probe"]["cached"] is False and two["probe"]["cached"] is True
    assert one["total_cost"]["examples"] > one["cost"]["examples"] and two["total_cost"] == two["cost"]
    assert len(list((tmp_path / "cache" / "priors").iterdir())) == 1


def test_train_on_train_and_val_says_validation_is_unavailable(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    p = cli("train", "--model", "mlp", "--dataset", SYN, "--epochs", "1", "--lr", "0.05", "--train-on",
            "train+val", "--json", str(out), env=ENV)
    assert p.returncode == 0, p.stderr
    assert "val acc n/a (trained on train+val)" in p.stdout and "lr: lr 0.05 as given" in p.stdout
    data = json.loads(out.read_text())
    assert data["val_acc"] is None and data["train_on"] == "train+val" and 0 <= data["test_accuracy"] <= 1


def test_train_from_a_study(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    task = ht.Task(model="mlp", data=SYN, device="cpu")
    ht.run_study(task, ht.StudyConfig.quick(name="tiny", trials=1, epochs=1, baselines=(), probe_batch_size=16,
                                            test=False, dashboard=False), storage=url)
    recipe = ht.pipeline._export.study_recipe("tiny", storage=url)
    out = tmp_path / "r.json"
    p = cli("train", "--from-study", "tiny", "--storage", url, "--epochs", "2", "--json", str(out), env=ENV)
    assert p.returncode == 0, p.stderr
    assert "settings from study tiny" in p.stdout and "from the recipe (study tiny, trial" in p.stdout
    data = json.loads(out.read_text())
    trained = ht.TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in data["config"].items()})
    # the whole TrainConfig (momentum, its cycle, weight decay, seed, schedule, lr, batch size) is the one the
    # study stored for its best trial, at the study's seed, with only the epochs replaced by the flag
    study = optuna.load_study(study_name="tiny", storage=url)
    stored = ht.Hyperparams(**study.best_trial.user_attrs["hyperparams"])
    expected = stored.train_config(optimizer="momentum", epochs=2, seed=study.user_attrs["config"]["seed"])
    assert trained == expected == recipe.train.replace(epochs=2)
    assert trained.schedule == "onecycle" and trained.cycle_momentum is not None and trained.epochs == 2
    assert data["lr_source"] == "recipe" and data["recipe"]["train"] == data["config"]


@pytest.mark.parametrize(("args", "message"), [
    (["--recipe", "{d}/missing.json"], "recipe must be an existing file, but got '{d}/missing.json', which does "
                                       "not exist."),
    (["--recipe", "{d}/bad.json"], "recipe must be a JSON file, but '{d}/bad.json' is not"),
    (["--recipe", "{d}/other.json"], "recipe '{d}/other.json' must be a hybridtune recipe"),
    (["--storage", "sqlite:///{d}/x.db"], "--storage must come with --from-study, but got --storage "
                                          "'sqlite:///{d}/x.db' alone."),
    (["--from-study", "nosuch", "--storage", "sqlite:///{d}/none.db"], "storage must be an existing database"),
    (["--save", "{d}"], "save must be a file path, but got a directory"),
])
def test_bad_recipe_input_is_one_line_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"kind": "something else"}))
    d = str(tmp_path)
    p = cli("train", "--dataset", SYN, "--lr", "0.05", *(a.replace("{d}", d) for a in args), env=ENV)
    assert p.returncode == 2, p.stdout
    assert p.stderr.strip().count("\n") == 0 and "Traceback" not in p.stderr
    assert message.replace("{d}", d) in p.stderr
