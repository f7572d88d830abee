"""Any supervised task: integer (token) inputs, regression, multi-label, a metric with a direction."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import hybridtune as ht


def _bag_of_embeddings(input_shape, num_classes, width: float = 1.0) -> nn.Module:  # noqa: ANN001
    return nn.Sequential(nn.Embedding(20, 8), nn.Flatten(), nn.Linear(8 * input_shape[0], num_classes))


def _tokens(n: int = 240, length: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 20, (n, length), generator=g)
    return x, (x[:, 0] >= 10).long()


def test_integer_inputs_reach_the_model_as_given_and_an_embedding_model_trains() -> None:
    task = ht.Task(model=_bag_of_embeddings, data=_tokens(), device="cpu")
    assert task.data.train.x.dtype == torch.int64
    r = ht.train(task, ht.TrainConfig(lr=0.05, epochs=3, batch_size=32))
    assert not r.diverged
    assert r.val_acc > 0.6


GRID = {"lr": [0.01, 0.1], "momentum": [0.9], "weight_decay": [0.0], "batch_size": [32]}


def _regression(n: int = 400, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=g)
    return x, 3.0 * x[:, 0] - 2.0 * x[:, 1] + 0.1 * torch.randn(n, generator=g)


def test_float_targets_make_a_regression_task_with_rmse_minimised() -> None:
    task = ht.Task(model="mlp", data=_regression(), device="cpu")
    assert (task.kind, task.direction, task.metric_name, task.data.num_classes) == ("regression", "minimize",
                                                                                      "rmse", 1)
    y_val = task.data.val.y
    spread = float(((y_val - task.data.train.y.mean()) ** 2).mean().sqrt())
    assert task.chance == pytest.approx(spread, rel=1e-5)
    assert task.chance_floor is None
    assert task.describe()["direction"] == "minimize" and task.data.describe()["kind"] == "regression"


def test_regression_tuned_with_the_grid_beats_predicting_the_mean_by_far() -> None:
    task = ht.Task(model="mlp", data=_regression(), device="cpu")
    r = ht.tune(task, trials=3, epochs=4, probe_batch_size=32, baseline="grid", grid=GRID, test_seeds=1)
    assert r.studies["search"].direction.name == "MINIMIZE"
    assert r.studies["grid"].direction.name == "MINIMIZE"
    values = [t.value for t in r.studies["search"].trials if t.value is not None]
    assert r.best_value == min(values)
    assert r.test_accuracy is not None and r.test_accuracy < 0.5 * task.chance
    assert r.result.direction == "minimize"
    assert r.verdict is not None
    # matching the grid: its best's SE from the per-example validation scores, the target above its best
    c = r.comparison
    assert c.rule == "se" and c.noise is not None and c.noise > 0
    assert c.target == pytest.approx(c.grid_best_value + c.noise)
    grid_best = ht.compare.best_trial(r.studies["grid"].trials, direction="minimize")
    assert grid_best.user_attrs["val_se"] == pytest.approx(c.noise)


def test_a_minimised_user_metric_picks_the_lowest_trial() -> None:
    def error_rate(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return (outputs.argmax(1) != targets).float()

    task = ht.Task(model="mlp", data="synthetic:n=300", device="cpu", metric=error_rate, direction="minimize")
    assert (task.metric_name, task.direction, task.kind) == ("error_rate", "minimize", "classification")
    r = ht.tune(task, trials=3, epochs=2, probe_batch_size=32, baseline="grid", grid=GRID, test_seeds=1)
    values = [t.value for t in r.studies["search"].trials if t.value is not None]
    assert r.best_value == min(values)
    assert r.studies["search"].metric_names == ["error_rate"]


def test_a_direction_must_be_minimize_or_maximize() -> None:
    with pytest.raises(ht.ConfigError, match=r"direction must be one of"):
        ht.Task(model="mlp", data="synthetic:n=200", device="cpu", direction="lower")


def _three_outputs(input_shape, num_classes, width: float = 1.0) -> nn.Module:  # noqa: ANN001
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 3))


def test_a_model_whose_output_does_not_fit_the_targets_fails_in_one_line_before_any_probe() -> None:
    task = ht.Task(model=_three_outputs, data="synthetic:n=200", device="cpu")
    with pytest.raises(ht.ModelError) as err:
        ht.tune(task, trials=2, epochs=1, probe_batch_size=32)
    assert str(err.value) == ("model '_three_outputs' must output shape (2, 4) for a batch of 2 with 4 classes "
                              "(classification), but it output (2, 3).")


def test_a_metric_that_is_nan_on_the_validation_split_is_refused() -> None:
    def broken(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return torch.full((len(targets),), float("nan"))

    task = ht.Task(model="mlp", data="synthetic:n=200", device="cpu", metric=broken)
    with pytest.raises(ht.ConfigError, match=r"^metric 'broken' must be a number on the validation split, but it "
                                             r"returned NaN for the untrained model\.$"):
        task.check_model()


def test_a_model_file_with_the_wrong_output_width_exits_2_with_one_line(tmp_path) -> None:  # noqa: ANN001
    from conftest import cli

    (tmp_path / "m.py").write_text("from torch import nn\n\ndef build(input_shape, num_classes, width=1.0):\n"
                                   "    return nn.Sequential(nn.Flatten(), nn.Linear(64, 3))\n")
    p = cli("study", "--model", f"{tmp_path / 'm.py'}:build", "--dataset", "synthetic:n=200", "--quick",
            "--storage", f"sqlite:///{tmp_path / 's.db'}", cwd=tmp_path)
    assert p.returncode == 2, p.stderr[-2000:]
    assert "must output shape (2, 4)" in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_float_targets_given_as_classification_are_refused_with_a_hint() -> None:
    x, y = _regression()
    with pytest.raises(ht.DataError, match=r"must be whole-number class ids, .* use kind='regression'\.$"):
        ht.Task(model="mlp", data=(x, y), device="cpu", kind="classification")


def test_multilabel_end_to_end_with_the_grid() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 6, generator=g)
    y = torch.stack([x[:, 0] > 0, x[:, 1] + x[:, 2] > 0, x[:, 3] > 0.5], 1).float()
    task = ht.Task(model="mlp", data=(x, y), device="cpu", kind="multilabel")
    assert (task.kind, task.direction, task.metric_name, task.data.num_classes) == ("multilabel", "maximize",
                                                                                      "label_accuracy", 3)
    r = ht.tune(task, trials=2, epochs=3, probe_batch_size=32, baseline="grid", grid=GRID, test_seeds=1)
    assert r.best_value is not None and r.best_value > task.chance + 0.1
    assert r.test_accuracy is not None and r.test_accuracy > task.chance + 0.1


def test_multilabel_targets_must_be_0_or_1() -> None:
    x = torch.randn(100, 4)
    with pytest.raises(ht.DataError, match=r"^user data labels must be 0 or 1 for kind='multilabel', but 200 are not\.$"):
        ht.Task(model="mlp", data=(x, torch.full((100, 2), 0.5)), device="cpu", kind="multilabel")


def test_the_embedded_regression_and_token_sets() -> None:
    f = ht.load_dataset("friedman:n=500")
    assert (f.kind, f.input_shape, f.num_classes, len(f.train) + len(f.val) + len(f.test)) == ("regression", (10,),
                                                                                               1, 500)
    assert f.train.y.dtype == torch.float32 and 3.0 < float(f.train.y.std()) < 7.0
    t = ht.load_dataset("tokens:n=400")
    assert (t.kind, t.input_shape, t.num_classes, t.train.x.dtype) == ("classification", (16,), 2, torch.int64)
    # the label is in the order of the 1 2 pair alone: both classes hold the same tokens
    x, y = t.train.x, t.train.y
    pos1, pos2 = (x == 1).int().argmax(1), (x == 2).int().argmax(1)
    assert bool(((pos1 < pos2).long() == y).all())


def test_an_embedding_sequence_model_is_tuned_on_the_token_set() -> None:
    task = ht.Task(model="seqcnn", data="tokens:n=600", device="cpu")
    r = ht.tune(task, trials=2, epochs=4, probe_batch_size=32, baseline="grid",
                grid={"lr": [0.03, 0.1], "momentum": [0.9], "weight_decay": [0.0], "batch_size": [32]}, test_seeds=1)
    assert r.best_value is not None and r.best_value > 0.8  # chance is 0.5


def test_a_regression_result_names_its_metric_and_shows_numbers_not_percents() -> None:
    from hybridtune.pipeline import explain_lines, summary_rows

    import optuna

    from hybridtune.report import study_figures

    task = ht.Task(model="mlp", data=_regression(), device="cpu")
    store = optuna.storages.InMemoryStorage()
    r = ht.tune(task, trials=2, epochs=2, probe_batch_size=32, baseline="grid", grid=GRID, test_seeds=2,
                storage=store)
    assert (r.metric_name, r.result.direction, r.result.is_accuracy) == ("rmse", "minimize", False)
    # every figure names the metric and its way, never 'accuracy' or 'points'
    figs = study_figures(r.result, storage=store)
    for key in ("best-vs-cost", "lr-trials", "intermediate-values", "grid-intermediate-values"):
        layout = figs[key].layout
        shown = f"{layout.title.text} {layout.yaxis.title.text} " + " ".join(
            str(a.text) for a in layout.annotations or ())
        assert "validation rmse (lower is better)" in shown and "accuracy" not in shown, (key, shown)
        assert "points" not in shown, (key, shown)
    d = r.to_dict()
    assert d["metric"] == "rmse" and d["direction"] == "minimize" and d["test_metric"] == d["test_accuracy"]
    assert r.test_metric == r.test_accuracy
    rows = summary_rows(r.result)
    assert not any("%" in v for row in rows for v in row.values())
    text = " ".join(explain_lines(r.result))
    assert "test rmse mean" in text and "(minimized)" in text and "accuracy" not in text
    assert "the study's minus the grid's: below 0 is better" in text
    assert r.verdict is not None and "%" not in r.verdict and "rmse" in r.verdict


class _TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, 8)
        self.dense = nn.Linear(3, 8)
        self.head = nn.Linear(16, 2)

    def forward(self, tokens: torch.Tensor, extra: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.embed(tokens).mean(1), self.dense(extra)], 1))


def _two_inputs(n: int = 300) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x, _ = _tokens(n)
    extra = torch.randn(n, 3, generator=torch.Generator().manual_seed(1))
    return x, extra, (extra[:, 0] > 0).long()


def test_tuple_and_dict_inputs_reach_the_model_as_arguments() -> None:
    tokens, extra, y = _two_inputs()
    for data in [((tokens, extra), y), ({"tokens": tokens, "extra": extra}, y)]:
        task = ht.Task(model=lambda shape, k, width=1.0: _TwoInputs(), data=data, device="cpu")
        task.check_model()
        assert task.data.input_shape == (6,)
        assert len(task.data.train) + len(task.data.val) + len(task.data.test) == 300
        r = ht.train(task, ht.TrainConfig(lr=0.05, epochs=3, batch_size=32))
        assert r.val_acc > 0.6


def test_user_dataloaders_as_splits_keep_their_collate_fn_and_are_tuned() -> None:
    from torch.utils.data import DataLoader, TensorDataset

    tokens, extra, y = _two_inputs()
    calls = []

    def collate(items):  # noqa: ANN001, ANN202
        calls.append(len(items))
        t, e, lab = (torch.stack(v) for v in zip(*items))
        return {"tokens": t, "extra": e}, lab

    def loader(i: slice) -> DataLoader:
        ds = TensorDataset(tokens[i], extra[i], y[i])
        ds.targets = y[i]  # type: ignore[attr-defined]
        return DataLoader(ds, batch_size=7, collate_fn=lambda items: collate([((a, b, c)) for a, b, c in items]))

    task = ht.Task(model=lambda shape, k, width=1.0: _TwoInputs(),
                   data={"train": loader(slice(0, 200)), "val": loader(slice(200, 250)),
                         "test": loader(slice(250, 300))}, device="cpu")
    assert len(task.data.train) == 200 and task.data.num_classes == 2
    r = ht.tune(task, trials=2, epochs=2, probe_batch_size=16, baseline="grid", test_seeds=1,
                grid={"lr": [0.05], "momentum": [0.9], "weight_decay": [0.0], "batch_size": [16]})
    assert calls and 16 in calls  # the trial's batch size, collated the user's way
    assert r.best_value is not None and r.best_value > 0.6


def test_a_kind_that_does_not_match_a_loaded_dataset_is_refused() -> None:
    with pytest.raises(ht.DataError, match=r"^kind must match the dataset's targets, but 'friedman' is a regression "
                                           r"dataset and got kind='classification'\.$"):
        ht.Task(model="mlp", data="friedman:n=200", device="cpu", kind="classification")


def test_a_given_kind_and_direction_reach_user_data_by_name_and_its_recipe(tmp_path) -> None:  # noqa: ANN001
    # 0/1 float targets (n, 3) read as regression; kind="multilabel" reaches the user's loader, a recipe keeps it
    (tmp_path / "labels.py").write_text("import torch\n"
                                        "def data():\n"
                                        "    x = torch.randn(200, 6, generator=torch.Generator().manual_seed(0))\n"
                                        "    return x, torch.stack([x[:, 0] > 0, x[:, 1] > 0], 1).float()\n")
    spec = f"{tmp_path / 'labels.py'}:data"
    assert ht.Task(model="mlp", data=spec, device="cpu").kind == "regression"
    task = ht.Task(model="mlp", data=spec, device="cpu", kind="multilabel", direction="maximize")
    assert (task.kind, task.metric_name) == ("multilabel", "label_accuracy")
    assert (task.recipe()["kind"], task.recipe()["direction"]) == ("multilabel", "maximize")
    rebuilt = ht.Recipe.of(task, ht.TrainConfig(lr=0.1)).build_task(device="cpu")
    assert (rebuilt.kind, rebuilt.direction) == ("multilabel", "maximize")
    assert "kind" not in ht.Task(model="mlp", data="friedman:n=200", device="cpu").recipe()  # read from the data
