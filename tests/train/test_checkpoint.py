"""Recipes and checkpoints round-trip, and a wrong file or task is one clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import hybridtune as ht
from hybridtune.train import Recipe, save_checkpoint, save_recipe, train_and_test

CFG = ht.TrainConfig(optimizer="momentum", lr=0.1, epochs=2, batch_size=32, schedule="onecycle", seed=3)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[ht.Task, Recipe, Path, float]:
    task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu")
    t = train_and_test(task, CFG)
    recipe = Recipe.of(task, CFG, metrics={"test_accuracy": t.test_accuracy}, source={"test": "unit"})
    folder = tmp_path_factory.mktemp("ckpt")
    save_recipe(recipe, folder / "best.json")
    save_checkpoint(folder / "best.pt", t.model, recipe)
    return task, recipe, folder, float(t.test_accuracy)


def test_recipe_round_trips_through_json(trained) -> None:
    task, recipe, folder, _ = trained
    back = ht.read_recipe(folder / "best.json")
    assert back == recipe and back.train == CFG
    assert back.task == {"model": "mlp", "model_kwargs": {}, "data": "synthetic:n=200", "optimizer": "momentum"}
    assert set(back.versions) == {"hybridtune", "torch"} and back.versions["hybridtune"] == ht.__version__
    assert back.build_task(device="cpu").data.num_classes == task.data.num_classes


def test_checkpoint_gives_the_trained_model_back(trained) -> None:
    task, recipe, folder, test_acc = trained
    model, back = ht.load_checkpoint(folder / "best.pt")
    assert back == recipe
    assert task.evaluate(model, task.data.test)[1] == pytest.approx(test_acc)
    model2, _ = ht.load_checkpoint(folder / "best.pt", task=task)
    assert task.evaluate(model2, task.data.test)[1] == pytest.approx(test_acc)


def test_wrong_files_and_tasks_are_one_line(trained, tmp_path: Path) -> None:
    _, _, folder, _ = trained
    other = ht.Task(model="mlp", data="synthetic:n=200,classes=3", device="cpu")
    with pytest.raises(ht.ConfigError, match=r"must come from a task with the same inputs and classes, but it was "
                                             r"trained for input shape \[1, 8, 8\] and 4 classes, and this task "
                                             r"has \[1, 8, 8\] and 3\."):
        ht.load_checkpoint(folder / "best.pt", task=other)
    with pytest.raises(ht.ConfigError) as err:
        ht.load_checkpoint(folder / "best.json")
    # torch's reason, cut at its first sentence: its weights-only message is a paragraph
    assert str(err.value) == (f"checkpoint must be a file written by hybridtune, but {str(folder / 'best.json')!r} "
                              f"could not be read as one (UnpicklingError: Weights only load failed).")
    with pytest.raises(ht.ConfigError, match="which does not exist"):
        ht.load_checkpoint(tmp_path / "none.pt")
    with pytest.raises(ht.ConfigError, match="recipe must be a JSON file"):
        ht.read_recipe(folder / "best.pt")
    (tmp_path / "x.json").write_text(json.dumps({"kind": "something else"}))
    with pytest.raises(ht.ConfigError, match="must be a hybridtune recipe"):
        ht.read_recipe(tmp_path / "x.json")
    d = json.loads((folder / "best.json").read_text())
    d["train"]["lr"] = -1
    (tmp_path / "bad.json").write_text(json.dumps(d))
    with pytest.raises(ht.ConfigError, match="must hold valid trainer settings"):
        ht.read_recipe(tmp_path / "bad.json")


def test_a_lazy_model_round_trips_through_a_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "lazy.py").write_text(
        "import torch\n"
        "def build(input_shape, num_classes):\n"
        "    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(16), torch.nn.ReLU(),\n"
        "                               torch.nn.LazyLinear(num_classes))\n")
    task = ht.Task(model=f"{tmp_path}/lazy.py:build", data="synthetic:n=200", device="cpu")
    t = train_and_test(task, CFG)
    recipe = Recipe.of(task, CFG, metrics={"test_accuracy": t.test_accuracy})
    save_checkpoint(tmp_path / "lazy.pt", t.model, recipe)
    for kwargs in ({}, {"task": task}):  # rebuilt from the recipe's names, or by the task
        model, _ = ht.load_checkpoint(tmp_path / "lazy.pt", **kwargs)
        assert not any(torch.nn.parameter.is_lazy(p) for p in model.parameters())
        assert task.evaluate(model, task.data.test)[1] == pytest.approx(t.test_accuracy)


def test_files_are_ordinary_files_of_the_user(trained) -> None:
    import os

    _, _, folder, _ = trained
    umask = os.umask(0)
    os.umask(umask)
    for name in ("best.json", "best.pt"):
        assert (folder / name).stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600


def test_an_unwritable_folder_is_one_error_naming_the_path(trained, tmp_path: Path) -> None:
    _, recipe, _, _ = trained
    (tmp_path / "afile").write_text("")
    for target in (tmp_path / "afile" / "best.json", tmp_path / "afile" / "deeper" / "best.json"):
        with pytest.raises(ht.ConfigError) as err:
            save_recipe(recipe, target)
        assert str(err.value) == (f"recipe must be a path in a folder that can be created and written, but "
                                  f"{str(target)!r} cannot be written (Not a directory).")
    with pytest.raises(ht.ConfigError, match=r"^checkpoint must be a path in a folder .* \(Not a directory\)\.$"):
        save_checkpoint(tmp_path / "afile" / "best.pt", torch.nn.Linear(2, 2), recipe)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # no temporary file left behind


def test_build_task_replaces_the_parts_given(trained) -> None:
    _, recipe, _, _ = trained
    same = recipe.build_task(device="cpu")
    assert (same.model_name, same.data_spec, same.optimizer) == ("mlp", "synthetic:n=200", "momentum")
    mixed = Recipe(**{**recipe.__dict__, "task": {**recipe.task, "model_kwargs": {"width": 0.5}}})
    t = mixed.build_task(optimizer="adam", data="synthetic:n=300", device="cpu")
    assert (t.optimizer, t.data_spec, dict(t.model_kwargs)) == ("adam", "synthetic:n=300", {"width": 0.5})
    # another model does not inherit the recipe's model options (they would not fit it); given ones win
    assert dict(mixed.build_task(model="cnn", device="cpu").model_kwargs) == {}
    assert dict(mixed.build_task(model_kwargs={"width": 2.0}, device="cpu").model_kwargs) == {"width": 2.0}


def test_a_recipe_of_python_objects_says_what_to_name() -> None:
    task = ht.Task(model=lambda shape, k: torch.nn.Linear(8, k), data=(torch.randn(200, 8), torch.arange(200) % 4),
                   device="cpu")
    recipe = Recipe.of(task, CFG)
    with pytest.raises(ht.ConfigError) as err:
        recipe.build_task()
    assert str(err.value) == ("a recipe must name its task to rebuild it, but model '<lambda>' on 'user' was "
                              "given as Python objects; give the data and the model by name (data= and model=, "
                              "or --dataset and --model).")
