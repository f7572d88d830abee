"""Take the result home (issue 15): the study's artefacts, ``export``, ``tune``'s model, the budget rule and its
"too short" warning, and the objective's name on the dashboard."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import torch
from torch import nn

import hybridtune as ht
from conftest import cli
from hybridtune.pipeline._export import export_study, study_recipe
from hybridtune.pipeline._run import resolve_config
from hybridtune.study import budget_epochs

TINY = dict(trials=2, epochs=2, probe_batch_size=32, probe_momenta=(0.9,), baselines=())


@pytest.fixture(scope="module")
def stored(tiny_task: ht.Task, tmp_path_factory: pytest.TempPathFactory) -> tuple[ht.StudyResult, str, Path]:
    folder = tmp_path_factory.mktemp("home")
    url = f"sqlite:///{folder / 's.db'}"
    result = ht.run_study(tiny_task, ht.StudyConfig(name="home", **TINY), storage=url, out=folder / "art")
    return result, url, folder


def test_export_rewrites_both_files_by_retraining(stored, tiny_task: ht.Task, tmp_path: Path) -> None:
    result, url, folder = stored
    first = ht.read_recipe(folder / "art" / "best.json")
    progress: list[tuple[str, int, int]] = []
    r = export_study("home", storage=url, out=tmp_path / "again", progress=lambda *p: progress.append(p))
    assert r.retrained and r.trial == result.search.best_trial and progress[-1] == ("export: retrain", 1, 1)
    assert r.recipe_path == str(tmp_path / "again" / "best.json")
    again = ht.read_recipe(r.recipe_path)
    assert again.train == first.train and again.source == first.source
    # the first test seed's retrain again: the same model, the same score
    assert r.test_accuracy == pytest.approx(result.search.test["runs"][0]["test_accuracy"])
    model, _ = ht.load_checkpoint(r.checkpoint_path)
    assert tiny_task.evaluate(model, tiny_task.data.test)[1] == pytest.approx(r.test_accuracy)
    assert study_recipe("home", storage=url).train == first.train
    # the study now points at the files export wrote
    assert ht.load_result("home", storage=url).artefacts["recipe"] == r.recipe_path


def test_export_cli_says_it_retrains(stored, tmp_path: Path) -> None:
    _, url, _ = stored
    p = cli("export", "--name", "home", "--storage", url, "--out", str(tmp_path / "x"), "--json",
            str(tmp_path / "e.json"), cwd=tmp_path, env={"OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr
    assert "by retraining its best configuration" in p.stdout and f"{tmp_path / 'x' / 'best.pt'}" in p.stdout
    d = json.loads((tmp_path / "e.json").read_text())
    assert d["command"] == "export" and d["retrained"] is True and Path(d["checkpoint"]).is_file()
    p = cli("export", "--name", "hoem", "--storage", url, cwd=tmp_path)
    assert p.returncode == 2 and "Did you mean 'home'?" in p.stderr and p.stderr.strip().count("\n") == 0


def test_export_of_a_python_object_task_is_one_line(tmp_path: Path) -> None:
    x = torch.randn(300, 6, generator=torch.Generator().manual_seed(0))
    # learnable (the quadrant) and balanced: labels at random, or classes as unbalanced as 1:2:1 with chance
    # then the majority class's rate, would leave the tiny study within noise of chance, nothing found
    y = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()
    task = ht.Task(model=lambda shape, classes: nn.Linear(shape[0], classes), data=(x, y), device="cpu")
    url = f"sqlite:///{tmp_path / 's.db'}"
    ht.run_study(task, ht.StudyConfig(name="objs", **TINY), storage=url, out=tmp_path / "objs")
    assert (tmp_path / "objs" / "best.pt").is_file()  # the study itself saves it: it has the model
    with pytest.raises(ht.ConfigError, match=r"^export must rebuild the study's task from names, but 'objs' was "
                                             r"made from Python objects"):
        export_study("objs", storage=url, out=tmp_path / "x")
    assert not study_recipe("objs", storage=url).rebuildable


def test_credentials_never_reach_the_recipe(tiny_task: ht.Task, tmp_path: Path) -> None:
    from hybridtune.pipeline._export import storage_label

    class Fake:
        url = "postgresql+psycopg://ann:s3cret@db/studies?sslmode=require&PassWord=s3cret"

    assert storage_label(Fake()) == "postgresql+psycopg://ann:***@db/studies?PassWord=***&sslmode=require"
    assert storage_label(optuna.storages.InMemoryStorage()) == "in-memory"
    # a study whose storage URL really holds a password, as a query parameter (SQLite ignores URI parameters it
    # does not know): neither file it writes holds it
    url = f"sqlite:///file:{tmp_path / 's.db'}?password=s3cret&uri=true"
    ht.run_study(tiny_task, ht.StudyConfig(name="secret", **TINY), storage=url, out=tmp_path / "art")
    text = (tmp_path / "art" / "best.json").read_text()
    assert "s3cret" not in text and json.loads(text)["source"]["storage"] == ht.redact(url)
    _, recipe = ht.load_checkpoint(tmp_path / "art" / "best.pt")
    assert recipe.source["storage"] == ht.redact(url) and "password=***" in ht.redact(url)
    assert b"s3cret" not in (tmp_path / "art" / "best.pt").read_bytes()


def test_only_a_search_study_gives_a_recipe(stored, tmp_path: Path) -> None:
    import shutil

    _, _, folder = stored
    shutil.copy(folder / "s.db", tmp_path / "s.db")
    url = f"sqlite:///{tmp_path / 's.db'}"
    for name in ("plain", "home-grid"):  # a study plain Optuna made, and one named like a baseline
        optuna.create_study(study_name=name, storage=url, direction="maximize").optimize(
            lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    rule = ("name must be a hybridtune search study (a -grid or -random baseline, or a study made by plain Optuna, "
            "holds no recipe), but got {!r}, which is {}; the search studies there: home.")
    with pytest.raises(ht.ConfigError) as err:
        study_recipe("plain", storage=url)
    assert str(err.value) == rule.format("plain", "not a study hybridtune made")
    with pytest.raises(ht.ConfigError) as err:
        export_study("home-grid", storage=url, out=tmp_path / "x")
    assert str(err.value) == rule.format("home-grid", "a baseline's study")
    assert study_recipe("home", storage=url).source["study"] == "home"
    p = cli("train", "--from-study", "plain", "--storage", url, cwd=tmp_path, env={"OMP_NUM_THREADS": "1"})
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and "Traceback" not in p.stderr
    assert rule.format("plain", "not a study hybridtune made") in p.stderr


def test_artefacts_go_beside_the_report_and_are_recorded_as_absolute_paths(
        tiny_task: ht.Task, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 's.db'}"
    # report= without out=: the artefacts go in the report's folder, as the CLI puts them
    r = ht.run_study(tiny_task, ht.StudyConfig(name="abs", **TINY), storage=url, report="here/summary.html")
    recipe = (tmp_path / "here" / "best.json").resolve()
    assert r.artefacts["recipe"] == str(recipe) and r.artefacts["checkpoint"] == str(recipe.with_name("best.pt"))
    assert not (tmp_path / "runs").exists() and Path(r.report) == Path("here/summary.html")
    stored_attrs = optuna.load_study(study_name="abs", storage=url).user_attrs["artefacts"]
    assert stored_attrs["recipe"] == str(recipe)
    assert ht.load_result("abs", storage=url).artefacts["recipe"] == str(recipe)
    assert str(recipe) in Path(r.report).read_text()  # the report (and dashboard note) name it from anywhere
    e = export_study("abs", storage=url, out="again")
    assert e.recipe_path == str((tmp_path / "again" / "best.json").resolve()) and Path(e.checkpoint_path).is_absolute()


def test_a_search_with_no_completed_trial_writes_nothing_and_says_so(tiny_task: ht.Task, tmp_path: Path) -> None:
    # a search band a thousand times above the priors: every trial diverges, none completes
    config = ht.StudyConfig(name="none", **{**TINY, "trials": 1}, suggestions=(1.0,), lr_range=(1e4, 1e5))
    r = ht.run_study(tiny_task, config, storage=f"sqlite:///{tmp_path / 's.db'}", out=tmp_path / "none")
    assert r.search.best_trial is None and r.artefacts is None and not (tmp_path / "none").exists()
    assert r.found_nothing and r.search.best_config is None
    assert any(w.startswith("the search found nothing: all 1 of its trials diverged or failed") for w in r.warnings)


def test_tune_keeps_the_model_only_when_asked(tiny_task: ht.Task, tmp_path: Path) -> None:
    r = ht.tune(tiny_task, **TINY)
    assert r.model is None and r.recipe is not None
    with pytest.raises(ht.ConfigError, match=r"keep_model=True"):
        r.save(tmp_path)
    kept = ht.tune(tiny_task, **TINY, keep_model=True)
    assert isinstance(kept.model, nn.Module)
    assert kept.recipe.source["storage"] == "in-memory" and kept.recipe.train.epochs == 2
    paths = kept.save(tmp_path / "home")
    model, recipe = ht.load_checkpoint(paths["checkpoint"])
    assert recipe == ht.read_recipe(paths["recipe"]) == kept.recipe
    # the model is the retrain on the first test seed; test_accuracy is the mean over the test seeds
    first = kept.result.search.test["runs"][0]
    assert tiny_task.evaluate(model, tiny_task.data.test)[1] == pytest.approx(first["test_accuracy"])
    assert kept.test_accuracy == pytest.approx(kept.test_score.mean) and len(kept.test_score.seeds) == 3
    assert kept.to_dict()["recipe"]["train"]["lr"] == pytest.approx(kept.best_config["lr"])


def test_the_budget_rule_on_two_dataset_sizes(tiny_task: ht.Task) -> None:
    big = ht.Task(model="mlp", data="synthetic:n=2000", device="cpu")  # 1,400 training examples
    assert len(big.data.train) == 1400 and len(tiny_task.data.train) == 280
    # 400 steps at the smallest searched batch size (32): 43 steps an epoch -> 10 epochs; 8 -> 50, clamped to 30
    assert ht.StudyConfig().for_task(big).epochs == 10 == budget_epochs(1400, 32)
    assert ht.StudyConfig().for_task(tiny_task).epochs == 30
    # the default study: 4 epochs, as its measured 15-minute budget needs; --quick keeps its 2
    mnist = ht.Task(model="resnet", data="mnist5k", device="cpu")
    assert ht.StudyConfig().for_task(mnist).epochs == 4 and ht.StudyConfig.quick().for_task(mnist).epochs == 2
    assert ht.StudyConfig(epochs=7).for_task(mnist).epochs == 7  # a given budget is kept


def test_a_resumed_study_keeps_its_stored_epochs(tiny_task: ht.Task, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    ht.run_study(tiny_task, ht.StudyConfig(name="kept", **{**TINY, "trials": 1}, test=False), storage=url)
    resumed = resolve_config(tiny_task, ht.StudyConfig(name="kept"), storage=url)
    assert resumed.epochs == 2  # not the rule's 30
    stored = optuna.load_study(study_name="kept", storage=url).user_attrs
    assert stored["identity"]["epochs"] == 2 and stored["config"]["epochs"] == 2


def test_a_task_still_improving_warns_that_the_budget_may_be_too_short() -> None:
    # the CNN on digits at 2 epochs still gains ~35 points in its last epoch; the budget rule's 11 epochs do not
    task = ht.Task(model="cnn", data="digits", device="cpu")
    r = ht.tune(task, trials=2, epochs=2, probe_batch_size=32, probe_momenta=(0.9,))
    assert len(r.warnings) == 1 and r.warnings[0].startswith("the budget may be too short: the best trial")
    assert r.result.to_dict()["warnings"] == list(r.warnings) == r.to_dict()["warnings"]


def test_the_metric_is_named_for_the_dashboard(tiny_task: ht.Task) -> None:
    def balanced_hits(outputs, targets):
        return (outputs.argmax(dim=1) == targets).float()

    r = ht.tune(tiny_task.replace(metric=balanced_hits), **TINY)
    assert r.studies["search"].metric_names == ["balanced_hits"]
    assert ht.tune(tiny_task, **TINY).studies["search"].metric_names == ["validation accuracy"]
