"""The bad-input catalogue: every command, through ``main(argv)`` in-process (``conftest.cli``). Each bad input
gives one clear line naming the rule and the value, exit code 2, and no traceback (issue 5)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import cli

SYN = "synthetic:n=200"
ENV = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "nets.py").write_text("import torch\n"
                               "def broken(input_shape, num_classes):\n    raise RuntimeError('no such layer')\n"
                               "def frozen(input_shape, num_classes):\n"
                               "    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, num_classes))"
                               ".requires_grad_(False)\n"
                               "def no_weights(input_shape, num_classes):\n    return torch.nn.Flatten()\n"
                               "def three_outputs(input_shape, num_classes):\n"
                               "    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))\n"
                               "class Nan(torch.nn.Linear):\n"
                               "    def forward(self, x):\n        return super().forward(x) * float('nan')\n"
                               "def nan_out(input_shape, num_classes):\n    return Nan(input_shape[0], num_classes)\n")
    (d / "data.py").write_text(
        "import torch\n"
        "def _pair():\n"
        "    g = torch.Generator().manual_seed(0)\n"
        "    return torch.randn(200, 6, generator=g), torch.arange(200) % 4\n"
        "def nan():\n"
        "    x, y = _pair()\n"
        "    x[:150][3, 1] = float('nan')\n"
        "    return {'train': (x[:150], y[:150]), 'val': (x[150:], y[150:])}\n"
        "def one_class():\n"
        "    x, y = _pair()\n"
        "    return x, torch.zeros_like(y)\n"
        "def out_of_range():\n"
        "    x, y = _pair()\n"
        "    return {'train': (x[:150], y[:150]), 'val': (x[150:], y[150:] + 5), 'num_classes': 4}\n"
        "def one_hot():\n"
        "    x, y = _pair()\n"
        "    return x, torch.nn.functional.one_hot(y)\n"
        "def real():\n"
        "    x, _ = _pair()\n"
        "    return x, 2.5 * x[:, 0] + 0.1\n")
    (d / "not_json.json").write_text("nope{")
    (d / "not_recipe.json").write_text('{"kind": "something else"}')
    (d / "empty").mkdir()
    (d / "unknown_key.toml").write_text('[task]\nmodel = "cnn"\n[study]\ntrails = 10\n')
    (d / "wrong_type.toml").write_text('[task]\nmodel = "cnn"\n[study]\ntrials = "ten"\n')
    (d / "unknown_table.toml").write_text('model = "cnn"\n')
    (d / "not_toml.toml").write_text("model = = cnn\n")
    (d / "bad_confidence.toml").write_text('[task]\nmodel = "cnn"\n[study]\nspace = "prior"\n'
                                           '[space]\nprior_confidence = 1.5\n')
    (d / "bad_kind.toml").write_text('[task]\nmodel = "mlp"\nkind = "regresion"\n')
    (d / "bad_direction.toml").write_text('[task]\nmodel = "mlp"\ndirection = "lower"\n')
    (d / "bad_suggestion.toml").write_text('[task]\nmodel = "cnn"\n[space]\nsuggestions = [3.0, -1.0]\n')
    return d


CASES = [
    # registries, with a suggestion
    (["train", "--model", "resnett"], "Did you mean 'resnet'"),
    (["train", "--model", "mlp", "--dataset", "tokens:n=400", "--lr", "0.05"],
     "model 'mlp' must run on the task's inputs (int64 of shape (2, 16) for a batch of 2), but it failed: mat1 and "
     "mat2 must have the same dtype"),
    (["train", "--model", "resnet", "--dataset", "mnist1d", "--lr", "0.05"],
     "model 'resnet' must get image inputs (channels, height, width), but got input shape (1, 40); for 1-D signals "
     "use cnn1d or mlp."),
    (["study", "--model", "cnn", "--dataset", "mnist1d", "--quick"],
     "model 'cnn' must get image inputs (channels, height, width), but got input shape (1, 40)"),
    (["train", "--dataset", "mnist5"], "Did you mean 'mnist5k'"),
    (["train", "--optimizer", "adamm", "--dataset", SYN], "Did you mean 'adam'"),
    (["train", "--schedule", "onecycel", "--dataset", SYN], "Did you mean 'onecycle'"),
    (["lr-find", "--mode", "cubic", "--dataset", SYN], "mode must be one of exp, linear, but got 'cubic'"),
    (["sweep", "--optimizers", "adam,foo", "--dataset", SYN], "optimizer must be one of"),
    # data
    (["train", "--dataset", "cifar10:{d}/nowhere"], "cifar10 folder must exist"),
    (["train", "--dataset", "mnist:{d}/empty"], "lacks train-images-idx3-ubyte"),
    (["train", "--dataset", "synthetic:classes=1"], "synthetic classes must be >= 2, but got classes=1"),
    (["train", "--dataset", SYN, "--batch-size", "4096"], "batch_size must be <= the training set size (140)"),
    (["train", "--dataset", "synthetic:noise=nan"],
     "synthetic noise must be a finite number >= 0, but got noise='nan'"),
    # user data (issue 15): refused at load, naming the split and the count
    (["train", "--model", "mlp", "--dataset", "{d}/data.py:nan", "--lr", "0.05"],
     "data must be finite, but the train split has 1 non-finite value in x."),
    (["train", "--model", "mlp", "--dataset", "{d}/data.py:one_class", "--lr", "0.05"],
     "labels must hold at least 2 classes, but the train split of '{d}/data.py:one_class' has only class 0."),
    (["train", "--model", "mlp", "--dataset", "{d}/data.py:out_of_range", "--lr", "0.05"],
     "labels must be class ids in 0..3 (num_classes=4), but the val split has 50 labels outside that range, "
     "from 5 to 8."),
    (["train", "--model", "mlp", "--dataset", "{d}/data.py:one_hot", "--lr", "0.05"],
     "must be a 1-D tensor of class ids, but got shape (200, 4)"),
    # the task's kind and direction, and what the targets, the model's output and the metric must be (issue 22)
    (["study", "--kind", "regresion"], "argument --kind: kind must be one of classification, regression, "
                                       "multilabel, but got 'regresion'. Did you mean 'regression'?"),
    (["train", "--direction", "lower"], "argument --direction: direction must be one of maximize, minimize, but "
                                        "got 'lower'."),
    (["lr-find", "--direction", "up"], "direction must be one of maximize, minimize, but got 'up'."),
    (["study", "--spec", "{d}/bad_kind.toml"], "spec [task] kind must be one of classification, regression, "
                                               "multilabel, but got kind = 'regresion' in {d}/bad_kind.toml. Did "
                                               "you mean 'regression'?"),
    (["study", "--spec", "{d}/bad_direction.toml"], "spec [task] direction must be one of maximize, minimize, but "
                                                    "got direction = 'lower' in {d}/bad_direction.toml."),
    (["train", "--model", "mlp", "--dataset", "{d}/data.py:real", "--kind", "classification", "--lr", "0.05"],
     "labels must be whole-number class ids, but 200 are not (the first is"),
    (["train", "--model", "mlp", "--dataset", "friedman:n=200", "--kind", "classification", "--lr", "0.05"],
     "kind must match the dataset's targets, but 'friedman' is a regression dataset and got "
     "kind='classification'."),
    (["train", "--model", "{d}/nets.py:three_outputs", "--dataset", SYN, "--lr", "0.05"],
     "model '{d}/nets.py:three_outputs' must output shape (2, 4) for a batch of 2 with 4 classes (classification), "
     "but it output (2, 3)."),
    (["study", "--model", "{d}/nets.py:three_outputs", "--dataset", SYN, "--quick", "--name", "shape"],
     "model '{d}/nets.py:three_outputs' must output shape (2, 4) for a batch of 2 with 4 classes (classification), "
     "but it output (2, 3)."),
    (["train", "--model", "{d}/nets.py:nan_out", "--dataset", "friedman:n=200", "--lr", "0.05"],
     "metric 'rmse' must be a number on the validation split, but it returned NaN for the untrained model."),
    # budgets and bounds
    (["train", "--epochs", "0"], "must be a positive integer, but got 0"),
    (["train", "--epochs", "-3"], "must be a positive integer, but got -3"),
    (["train", "--lr", "-1"], "must be a positive finite number, but got -1"),
    (["train", "--lr", "nan"], "must be a positive finite number, but got nan"),
    (["train", "--momentum", "1.5", "--dataset", SYN], "momentum must be in [0, 1), but got momentum=1.5"),
    (["lr-find", "--start-lr", "1", "--end-lr", "0.1", "--dataset", SYN], "end_lr must be greater than start_lr"),
    (["sweep", "--lrs", "1:0.1:5"], "0 < low < high, but got low=1.0, high=0.1"),
    (["landscape", "--points", "2", "--dataset", SYN], "points must be >= 3, but got points=2"),
    (["procedure", "--epochs", "0"], "must be a positive integer, but got 0"),
    (["study", "--trials", "0"], "must be a positive integer, but got 0"),
    (["study", "--tolerance", "-1"], "must be a finite number >= 0, but got -1"),
    # budgets of the honest comparison (issue 13)
    (["study", "--budget", "0"], "--budget: must be a positive finite number, but got 0"),
    (["study", "--budget", "-0.1"], "--budget: must be a positive finite number, but got -0.1"),
    (["study", "--budget", "nan"], "--budget: must be a positive finite number, but got nan"),
    (["study", "--budget-examples", "0"], "--budget-examples: must be a positive integer, but got 0"),
    (["study", "--budget", "0.1", "--budget-examples", "5000", "--dataset", SYN],
     "budget and budget_examples must not both be given"),
    (["study", "--budget", "0.1", "--trials", "5", "--dataset", SYN],
     "trials and budget must not both be given (a budget decides how many trials run), but got trials=5 and "
     "budget=0.1 as overrides (flags)."),
    (["study", "--budget", "0.1", "--baseline", "none", "--dataset", SYN],
     "budget (a fraction of the grid's cost) needs the grid baseline; without it give budget_examples, but got "
     "budget=0.1 with baselines=none."),
    (["train", "--model", "resnet", "--dataset", "mnist1d"],
     "model 'resnet' must get image inputs (channels, height, width), but got input shape (1, 40)"),
    (["study", "--model", "mlp", "--dataset", SYN, "--epochs", "2", "--budget", "0.01", "--name", "b"],
     "budget must pay for at least one full trial (2 epochs x 140 training examples = 280 examples, the probes "
     "not included), but got budget=0.01 x the grid's"),
    # the prior-guided search (issue 14)
    (["study", "--space", "wide"], "argument --space: invalid choice: 'wide'"),
    (["study", "--space", "prior", "--sampler", "tpe", "--dataset", SYN],
     "sampler must be random with space='prior' (the prior-guided sampler draws every value itself), but got "
     "sampler='tpe'."),
    (["study", "--spec", "{d}/bad_confidence.toml"], "prior_confidence must be in (0, 1], but got "
                                                      "prior_confidence=1.5."),
    (["study", "--test-seeds", "0"], "--test-seeds: must be a positive integer, but got 0"),
    (["study", "--match-z", "-1"], "--match-z: must be a finite number >= 0, but got -1"),
    # models
    (["train", "--model", "{d}/nets.py:broken", "--dataset", SYN], "factory raised RuntimeError: no such layer"),
    (["train", "--model", "{d}/missing.py:build", "--dataset", SYN], "model file must exist"),
    (["train", "--model", "{d}/nets.py:frozen", "--dataset", SYN, "--lr", "0.05"],
     "model '{d}/nets.py:frozen' must have trainable parameters, but all 260 of its weights have "
     "requires_grad=False."),
    (["train", "--model", "{d}/nets.py:no_weights", "--dataset", SYN, "--lr", "0.05"],
     "model '{d}/nets.py:no_weights' must have trainable parameters, but it has no parameters."),
    (["train", "--model-arg", "depth=9", "--dataset", SYN], "resnet depth must be one of 8, 14, 20, 32, 56, but got depth=9"),
    (["train", "--model-arg", "depth", "--dataset", SYN], "--model-arg must be KEY=VALUE, but got 'depth'"),
    (["train", "--device", "tpu", "--dataset", SYN], "device must be auto, cpu, cuda, cuda:N or mps, but got 'tpu'"),
    # storage
    (["study", "--storage", "notaurl", "--dataset", SYN], "storage"),
    (["study", "--storage", "postgresql+psycopg://alice:s3cret@nosuchhost.invalid/nodb", "--dataset", SYN],
     "nosuchhost.invalid"),  # a wrong URL fails at once; a refused one is waited for (tests/study/test_outage.py)
    (["report", "--name", "nosuch", "--storage", "sqlite:///{d}/fresh.db"], "storage must be an existing database"),
    (["worker", "--name", "s", "--storage", "sqlite:///{d}/w.db"], "a worker must share the study's storage"),
    (["worker", "--storage", "sqlite:///{d}/w.db"], "the following arguments are required: --name"),
    (["worker", "--name", "s", "--storage", "sqlite:///{d}/w.db", "--device", "tpu"],
     "device must be auto, cpu, cuda, cuda:N or mps, but got 'tpu'"),
    (["worker", "--name", "s", "--storage", "sqlite:///{d}/w.db", "--trials", "0"], "must be a positive integer, but got 0"),
    (["study", "--heartbeat-interval", "5", "--grace-period", "2", "--dataset", SYN],
     "grace period must be longer than the heartbeat interval, but got grace period 2s <= interval 5s"),
    # spec files
    (["study", "--spec", "{d}/missing.toml"], "missing.toml"),
    (["study", "--spec", "{d}/unknown_key.toml"], "trails"),
    (["study", "--spec", "{d}/wrong_type.toml"], "ten"),
    (["study", "--spec", "{d}/not_toml.toml"], "not_toml.toml"),
    (["study", "--spec", "{d}/unknown_table.toml"], "spec tables must be among task, study, probes, space, grid"),
    (["study", "--spec", "{d}/bad_suggestion.toml"], "suggestions must be one or more positions in the search "
                                                     "band, from 0 (its floor) to 1 (its top), but got "
                                                     "suggestions=(3.0, -1.0)"),
    # recipes (issue 15)
    (["train", "--recipe", "{d}/missing.json"], "recipe must be an existing file, but got '{d}/missing.json', "
                                                "which does not exist."),
    (["train", "--recipe", "{d}/not_json.json"], "recipe must be a JSON file, but '{d}/not_json.json' is not"),
    (["train", "--recipe", "{d}/not_recipe.json"], "recipe '{d}/not_recipe.json' must be a hybridtune recipe"),
    # outputs
    (["train", "--dataset", SYN, "--epochs", "1", "--json", "{d}"], "--json must be a file path"),
    (["dashboard", "--port", "99999"], "99999"),
]


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_bad_input_is_one_line_exit_2(files, args: list[str], message: str) -> None:
    argv = [a.replace("{d}", str(files)) for a in args]
    p = cli(*argv, env=ENV, cwd=files)
    assert p.returncode == 2, (p.returncode, p.stdout[-500:], p.stderr[-2000:])
    err = p.stderr.strip()
    assert "Traceback" not in err and "Traceback" not in p.stdout
    assert err.count("\n") == 0, err
    assert message.replace("{d}", str(files)) in err, err
    assert "s3cret" not in err + p.stdout


def test_a_diverging_configuration_is_an_outcome_not_an_error(tmp_path) -> None:
    out = tmp_path / "r.json"
    p = cli("train", "--dataset", SYN, "--optimizer", "sgd", "--lr", "1e6", "--epochs", "2",
            "--schedule", "constant", "--json", str(out), env=ENV)
    assert p.returncode == 0, p.stderr
    assert "diverged" in p.stdout
    assert json.loads(out.read_text())["status"] == "diverged"


def test_bad_input_never_corrupts_a_stored_study(tmp_path, files) -> None:
    db = tmp_path / "s.db"
    storage = f"sqlite:///{db}"
    ok = cli("study", "--model", "mlp", "--dataset", SYN, "--quick", "--trials", "2", "--epochs", "1",
             "--baseline", "none", "--no-test", "--name", "s", "--storage", storage, "--out",
             str(tmp_path / "r.html"), env=ENV, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr[-2000:]
    before = sqlite3.connect(db).execute("select count(*) from trials").fetchone()[0]
    for bad in (["--trials", "0"], ["--spec", str(files / "wrong_type.toml")], ["--epochs", "-1"]):
        p = cli("study", "--model", "mlp", "--dataset", SYN, "--name", "s", "--storage", storage, *bad,
                env=ENV, cwd=tmp_path)
        assert p.returncode == 2
    con = sqlite3.connect(db)
    assert con.execute("pragma integrity_check").fetchone()[0] == "ok"
    assert con.execute("select count(*) from trials").fetchone()[0] == before
    again = cli("report", "--name", "s", "--storage", storage, "--out", str(tmp_path / "r2.html"),
                env=ENV, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]


# User code and data that should just work (issue 15): each as a user would run it, a fresh import of their files
# every call (conftest.cli forgets the modules a call imported from them).


def test_a_model_file_that_imports_a_module_beside_it_trains(tmp_path) -> None:
    (tmp_path / "layers.py").write_text(
        "import math, torch\n"
        "class Block(torch.nn.Module):\n"
        "    def __init__(self, shape, k):\n"
        "        super().__init__()\n"
        "        self.f = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(math.prod(shape), k))\n"
        "    def forward(self, x):\n"
        "        return self.f(x)\n")
    (tmp_path / "net.py").write_text("from layers import Block\n"
                                     "def build(input_shape, num_classes):\n"
                                     "    return Block(input_shape, num_classes)\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    p = cli("train", "--model", f"{tmp_path}/net.py:build", "--dataset", SYN, "--epochs", "1", "--lr", "0.05",
            env=ENV, cwd=elsewhere)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "status completed" in p.stdout


def test_a_lazy_model_trains_from_the_cli(files) -> None:
    (files / "lazy.py").write_text(
        "import torch\n"
        "def build(input_shape, num_classes):\n"
        "    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(16), torch.nn.ReLU(),\n"
        "                               torch.nn.LazyLinear(num_classes))\n")
    p = cli("train", "--model", f"{files}/lazy.py:build", "--dataset", SYN, "--epochs", "1", "--lr", "0.05",
            env=ENV, cwd=files)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "status completed" in p.stdout and "Traceback" not in p.stderr


def test_classes_missing_from_the_labels_are_one_warning_line(files) -> None:
    (files / "shifted.py").write_text("import torch\n"
                                      "def data():\n"
                                      "    return torch.randn(200, 6), torch.arange(200) % 4 + 10\n")
    p = cli("train", "--model", "mlp", "--dataset", f"{files}/shifted.py:data", "--epochs", "1", "--lr", "0.05",
            env=ENV, cwd=files)
    assert p.returncode == 0, p.stderr[-2000:]
    warned = [line for line in p.stderr.splitlines() if "never occur" in line]
    assert warned == [f"WARNING hybridtune.task._data: classes 0-9 never occur in the training labels of "
                      f"'{files}/shifted.py:data'; the task has 14 classes (the largest label + 1)."], p.stderr


def test_kind_and_direction_flags_reach_the_task(files) -> None:
    # 0/1 float targets (n, 3) would read as regression: --kind multilabel makes them labels, in a file's data too
    (files / "labels.py").write_text("import torch\n"
                                     "def data():\n"
                                     "    g = torch.Generator().manual_seed(0)\n"
                                     "    x = torch.randn(200, 6, generator=g)\n"
                                     "    return x, torch.stack([x[:, 0] > 0, x[:, 1] > 0, x[:, 2] > 0], 1).float()\n")
    out = files / "ml.json"
    p = cli("train", "--model", "mlp", "--dataset", f"{files}/labels.py:data", "--kind", "multilabel",
            "--direction", "maximize", "--epochs", "1", "--lr", "0.05", "--json", str(out), env=ENV, cwd=files)
    assert p.returncode == 0, p.stderr[-2000:]
    task = json.loads(out.read_text())["task"]
    assert task["data"]["kind"] == "multilabel" and task["metric"] == "label_accuracy"
    # a spec's [task] kind and direction, and an override (a flag) over them
    import hybridtune as ht

    (files / "kinds.toml").write_text('[task]\nmodel = "mlp"\nkind = "regression"\ndirection = "minimize"\n')
    task_kw, _ = ht.load_spec(files / "kinds.toml").build(kind="multilabel")
    assert (task_kw["kind"], task_kw["direction"]) == ("multilabel", "minimize")
    assert "kind" not in ht.StudySpec.default().build()[0]  # not given: read from the data
