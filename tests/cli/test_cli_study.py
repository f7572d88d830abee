from __future__ import annotations

import json
from pathlib import Path

import pytest

import hybridtune as ht
from conftest import ROOT, cli

TINY_SPEC = """\
[task]
model = "cnn"
dataset = "synthetic:n=400,classes=4,noise=1.5"

[study]
name = "cli"
trials = 3
epochs = 2
baselines = ["grid"]

[probes]
batch_size = 32
momenta = [0.95, 0.9]

[space]
batch_size_floor = 16

[grid]
lr = [0.1, 0.3]
momentum = [0.9]
weight_decay = [0.0]
batch_size = [32]
"""


def test_study_cli_runs_resumes_and_reports(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY_SPEC)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    out, report = tmp_path / "study.json", tmp_path / "report.html"
    # a flag overrides the spec: 2 trials, not 3
    p = cli("study", "--spec", str(spec), "--storage", url, "--trials", "2", "--json", str(out),
            "--out", str(report), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "cost-fair comparison" in p.stdout and f"report {report}" in p.stdout
    # one verdict line, the same as the JSON's; the test column is over the 3 test seeds
    d = json.loads(out.read_text())
    assert d["verdict"].startswith("the search ") and "verdict: " + d["verdict"][:60] in " ".join(p.stdout.split())
    assert "retrained on seeds 1000, 1001, 1002" in " ".join(p.stdout.split())
    # the chosen recipe and the weights of its test retrain, in the report's folder
    assert f"chosen recipe {tmp_path / 'best.json'}, weights {tmp_path / 'best.pt'}" in p.stdout
    assert (tmp_path / "best.json").is_file() and (tmp_path / "best.pt").is_file()
    d = json.loads(out.read_text())
    assert d["artefacts"]["recipe"] == str(tmp_path / "best.json") and isinstance(d["warnings"], list)
    assert "best.pt" in report.read_text()
    assert d["search"]["n_trials"] == 2 and d["grid"]["n_trials"] == 2
    for role in ("search", "grid"):
        assert {"best_value", "best_params", "n_trials", "cost"} <= set(d[role])
        assert {"examples", "seconds"} <= set(d[role]["cost"])
        assert {"cost_to_match_grid", "cost_ratio_to_match_grid", "test_accuracy"} <= set(d["comparison"][role])
    assert d["priors"]["batch_size"] == 32 and d["config"]["epochs"] == 2
    # a Python user reproduces the CLI run: the spec with the same overrides builds the stored task and config
    task_kwargs, config = ht.load_spec(spec).build(trials=2)
    assert config.fidelity is None  # the default, which a new study resolves to the ladder
    assert config.for_task(ht.Task(**task_kwargs)).to_dict() == d["config"]
    described = ht.Task(**task_kwargs).describe()
    assert {k: described[k] for k in d["task"]} == d["task"] and task_kwargs["device"] == "auto"
    assert report.is_file() and "best-vs-cost" in report.read_text()
    # the same command again resumes: nothing new is trained, the numbers are those stored
    p = cli("study", "--spec", str(spec), "--storage", url, "--trials", "2", "--json", str(out), "--out",
            str(report), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    again = json.loads(out.read_text())
    assert again["search"]["cost"] == d["search"]["cost"] and again["grid"]["cost"] == d["grid"]["cost"]
    # report rebuilds from storage alone
    p = cli("report", "--name", "cli", "--storage", url, "--json", str(tmp_path / "report.json"),
            "--out", str(tmp_path / "again.html"), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    rebuilt = json.loads((tmp_path / "report.json").read_text())
    assert rebuilt["comparison"] == d["comparison"]
    assert (tmp_path / "again.html").is_file()


def test_quick_is_a_smoke_run_and_draws_no_verdict(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY_SPEC.replace("[study]\n", "[study]\nquick = true\ntest_seeds = 1\n"))
    out = tmp_path / "q.json"
    p = cli("study", "--spec", str(spec), "--storage", f"sqlite:///{tmp_path / 'q.db'}", "--trials", "2",
            "--json", str(out), "--out", str(tmp_path / "q.html"), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    text = " ".join(p.stdout.split())
    assert "verdict: the search" not in text and "matched the grid" not in text and "did not match" not in text
    assert "no verdict: this is a smoke run (--quick)" in text
    d = json.loads(out.read_text())
    assert d["verdict"] is None and d["no_verdict"].startswith("no verdict: this is a smoke run")
    html = (tmp_path / "q.html").read_text()
    assert "no verdict: this is a smoke run" in html and "Verdict" in html


def test_a_study_that_found_nothing_says_so_and_exits_3(tmp_path: Path) -> None:
    # a search band a thousand times above the priors: every trial diverges
    task = ht.Task(model="cnn", data="synthetic:n=400,classes=4,noise=1.5", device="cpu")
    url = f"sqlite:///{tmp_path / 'n.db'}"
    r = ht.run_study(task, ht.StudyConfig(name="none", trials=2, epochs=1, probe_batch_size=32, baselines=(),
                                          suggestions=(1.0,), lr_range=(1e4, 1e5), test_seeds=1),
                     storage=url, out=tmp_path / "none")
    assert r.found_nothing and r.search.best_config is None and r.search.n_diverged == 2
    out = tmp_path / "r.json"
    p = cli("report", "--name", "none", "--storage", url, "--json", str(out), "--out", str(tmp_path / "r.html"),
            cwd=tmp_path)
    assert p.returncode == 3, p.stderr
    text = " ".join(p.stdout.split())
    assert "the search found nothing: all 2 of its trials diverged or failed" in text
    assert "the study found nothing (exit code 3)" in text
    d = json.loads(out.read_text())
    assert d["search"]["best_config"] is None and any("found nothing" in w for w in d["warnings"])
    html = (tmp_path / "r.html").read_text()
    assert html.index("The study found nothing") < html.index("<table>")  # at the top


def test_spec_build_lays_overrides_over_the_spec_over_the_defaults(tmp_path: Path) -> None:
    assert ht.StudySpec.default().build() == ({"model": "resnet", "data": "mnist5k", "optimizer": "momentum",
                                               "device": "auto"}, ht.StudyConfig())
    spec = tmp_path / "s.toml"
    spec.write_text('[task]\nmodel = "cnn"\nmodel_args = {width = 2}\n[study]\ntrials = 5\nepochs = 3\n'
                    'quick = true\n[probes]\nbatch_size = 32\n')
    task_kwargs, config = ht.load_spec(spec).build(trials=3, epochs=None, optimizer="adam",
                                                   model_kwargs={"depth": 1}, tolerance=1.0)
    assert task_kwargs == {"model": "cnn", "data": "mnist5k", "optimizer": "adam", "device": "auto",
                           "model_kwargs": {"width": 2, "depth": 1}}
    assert config == ht.StudyConfig.quick(trials=3, epochs=3, probe_batch_size=32, tolerance=1.0)
    assert ht.load_spec(spec).build(quick=False)[1] == ht.StudyConfig(trials=5, epochs=3, probe_batch_size=32)
    with pytest.raises(ht.ConfigError, match=r"overrides must be Task parameters, StudyConfig fields or quick, "
                                             r"but got 'trails'\. Did you mean 'trials'\?"):
        ht.StudySpec().build(trails=3)


def test_study_help_takes_its_defaults_from_the_library() -> None:
    p = cli("study", "--help")
    assert p.returncode == 0, p.stderr
    text = " ".join(p.stdout.split())
    d = ht.StudyConfig()
    from hybridtune.study import BUDGET_STEPS

    for phrase in (f"(default: {d.trials})", f"(default: chosen from the task, enough for {BUDGET_STEPS} optimizer "
                   f"steps at the smallest searched batch size",
                   f"the probes' batch size, the LR rule's reference (default: {d.probe_batch_size})"):
        assert phrase in text, phrase


@pytest.mark.parametrize("body, message", [
    ("[study]\ntrails = 3\n",
     "spec [study] keys must be among name, trials, epochs, sampler, space, pruner, fidelity, length_cap, baselines, "
     "budget, budget_examples, "
     "test_seeds, match_z, tolerance, seed, quick, test, but got 'trails' in {path}. Did you mean 'trials'?"),
    ("[study]\ntrials = \"3\"\n", "spec [study] trials must be an integer, but got trials = '3' (a string) in {path}."),
    ("[grids]\nlr = [0.1]\n",
     "spec tables must be among task, study, probes, space, grid, but got 'grids' in {path}. Did you mean 'grid'?"),
    ("[study\n", "spec must be valid TOML, but '{path}' has an error"),
])
def test_study_cli_bad_spec_is_one_line(tmp_path: Path, body: str, message: str) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text(body)
    p = cli("study", "--spec", str(spec), "--storage", f"sqlite:///{tmp_path / 'x.db'}", cwd=tmp_path)
    assert p.returncode == 2
    assert p.stderr.startswith("hybridtune study: error: " + message.format(path=spec))
    assert p.stderr.strip().count("\n") == 0 and "Traceback" not in p.stderr


def test_study_cli_bad_storage_hides_the_password(tmp_path: Path) -> None:
    # a wrong URL (a host that does not exist) fails at once, exit 2
    p = cli("study", "--storage", "postgresql://ann:s3cret@nosuchhost.invalid/studies", cwd=tmp_path)
    assert p.returncode == 2
    assert p.stderr.startswith("hybridtune study: error: storage must be a reachable database, but connecting to "
                               "'postgresql+psycopg://ann:***@nosuchhost.invalid/studies' failed:")
    assert "s3cret" not in p.stderr and p.stderr.strip().count("\n") == 0
    # a refused one (nothing listens: a server not up yet) is waited for, here not at all: exit 4
    p = cli("study", "--storage", "postgresql://ann:s3cret@127.0.0.1:1/studies", "--storage-retry", "0", cwd=tmp_path)
    assert p.returncode == 4
    assert p.stderr.splitlines() == [
        "hybridtune study: database unreachable at postgresql+psycopg://ann:***@127.0.0.1:1/studies, retrying for up "
        "to 0 s",
        "hybridtune study: error: database unreachable at postgresql+psycopg://ann:***@127.0.0.1:1/studies for 0 s; "
        "gave up (re-run the same command to resume once it is back)"]
    p = cli("study", "--storage", "nonsense", cwd=tmp_path)
    assert p.returncode == 2
    assert "storage must be a database URL such as sqlite:///runs/hybridtune.db" in p.stderr
    assert not (tmp_path / "runs").exists()  # nothing created for a bad URL


def test_report_cli_unknown_name(tmp_path: Path) -> None:
    p = cli("report", "--storage", f"sqlite:///{tmp_path / 'none.db'}", cwd=tmp_path)
    assert p.returncode == 2 and "storage must be an existing database" in p.stderr


def test_bundled_specs_are_valid() -> None:
    specs = sorted((ROOT / "studies").glob("*.toml"))
    assert {s.name for s in specs} >= {"default.toml", "cnn-mnist5k.toml", "cifar10.toml"}
    for path in specs:
        spec = ht.load_spec(path)
        ht.StudyConfig(**spec.study)  # every value passes the config's own checks
        assert set(spec.task) <= {"model", "data", "optimizer", "device", "model_kwargs"}
    assert ht.load_spec(ROOT / "studies" / "default.toml").task == {"model": "resnet", "data": "mnist5k",
                                                                     "optimizer": "momentum"}
    assert ht.load_spec(ROOT / "studies" / "cifar10.toml").task["data"] == "cifar10:data/cifar-10-batches-py"


def test_study_cli_resolves_its_config_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    # every resolution (the stored study's epochs or the budget rule's, the default name) ends in for_task
    from hybridtune.cli import main

    resolved: list[str | None] = []
    real = ht.StudyConfig.for_task
    monkeypatch.setattr(ht.StudyConfig, "for_task", lambda self, task: resolved.append(self.name) or real(self, task))
    monkeypatch.chdir(tmp_path)
    code = main(["study", "--model", "cnn", "--dataset", "synthetic:n=400,classes=4,noise=1.5", "--device", "cpu",
                 "--trials", "1", "--epochs", "2", "--baseline", "none", "--no-test", "--probe-batch-size", "32",
                 "--storage", f"sqlite:///{tmp_path / 'once.db'}", "--out", str(tmp_path / "once.html")])
    out = capsys.readouterr().out
    assert code == 0 and resolved == [None]
    assert out.startswith("study cnn-synthetic: cnn on synthetic") and "1 trials x 2 epochs" in out
    assert (tmp_path / "once.html").is_file()
