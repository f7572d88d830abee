from __future__ import annotations

import json

import pytest

from conftest import cli

TASK = ("--model", "cnn", "--dataset", "synthetic:n=400,classes=4,noise=1.5", "--batch-size", "32",
        "--device", "cpu")
# a tiny model gains nothing from threads, and on a shared machine they make it many times slower
ENV = {"OMP_NUM_THREADS": "1"}


def run(*args: str):
    return cli(*args, env=ENV)


def test_lr_find_table_json_and_plot(tmp_path) -> None:
    out, html = tmp_path / "lr.json", tmp_path / "lr.html"
    p = run("lr-find", *TASK, "--optimizer", "adam", "--json", str(out), "--plot", str(html))
    assert p.returncode == 0, p.stderr
    for word in ("LR range test", "band", "steepest", "valley", "min_div10", "hybridtune", "stopped:", "cost:"):
        assert word in p.stdout, word
    assert "Traceback" not in p.stderr
    d = json.loads(out.read_text())
    assert d["command"] == "lr-find"
    assert 0 < d["lr_min"] < d["lr_max"] and d["lr_min"] == pytest.approx(d["lr_max"] / 10)
    assert set(d["suggestions"]) == {"steepest", "valley", "min_div10", "hybridtune"}
    assert d["suggestions"]["hybridtune"] == d["lr_max"]
    assert d["stopped"] and {"examples", "seconds"} <= set(d["cost"]) and d["cost"]["examples"] == len(d["lrs"]) * 32
    assert 10 < len(d["lrs"]) == len(d["losses"]) <= 100
    text = html.read_text()
    assert "plotly" in text.lower() and "learning rate" in text


@pytest.mark.parametrize("command", [("probe",), ("lr-find", "--momentum")])
def test_probe_prints_priors(tmp_path, command: tuple[str, ...]) -> None:
    out = tmp_path / "p.json"
    p = run(*command, *TASK, "--optimizer", "momentum", "--momenta", "0.95,0.9", "--json", str(out))
    assert p.returncode == 0, p.stderr
    assert "short momentum runs" in p.stdout and "priors" in p.stdout and "momentum_band" in p.stdout
    d = json.loads(out.read_text())
    assert d["command"] == command[0]
    assert d["momentum"] in (0.95, 0.9) and len(d["momentum_band"]) == 2
    assert [r["momentum"] for r in d["momentum_runs"]] == [0.95, 0.9]
    assert {"lr_min", "lr_max", "suggestions", "stopped", "cost", "range_test", "reasoning"} <= set(d)
    assert d["cost"]["examples"] == d["range_test"]["cost"]["examples"] + sum(
        r["cost"]["examples"] for r in d["momentum_runs"])


@pytest.mark.parametrize("args, message", [
    (("--start-lr", "1", "--end-lr", "0.1"), "end_lr must be greater than start_lr, but got start_lr=1.0, end_lr=0.1."),
    (("--mode", "log"), "mode must be one of"),
    (("--momenta", "0.9,x"), "--momenta must be comma-separated numbers, but got '0.9,x'."),
    (("--steps", "0"), "must be a positive integer, but got 0"),
    (("--optimizer", "adamm"), "Did you mean 'adam'"),
])
def test_bad_input_is_one_line_exit_2(args: tuple[str, ...], message: str) -> None:
    p = run("lr-find", *TASK, *args)
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip().count("\n") == 0 and message in p.stderr
    assert "Traceback" not in p.stderr


def test_no_suggestion_is_one_line_exit_2_and_still_writes_json(tmp_path) -> None:
    out = tmp_path / "flat.json"
    p = run("lr-find", *TASK, "--optimizer", "sgd", "--end-lr", "1e-5", "--steps", "30", "--json", str(out))
    assert p.returncode == 2
    lines = [line for line in p.stderr.strip().splitlines() if "WARNING" not in line]
    assert len(lines) == 1 and lines[0].startswith("hybridtune lr-find: error: no learning rate could be suggested: ")
    d = json.loads(out.read_text())
    assert d["lr_max"] is None and d["suggestions"] == {} and "never fell" in d["suggestion_error"]
