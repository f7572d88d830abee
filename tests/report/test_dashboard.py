"""End to end: a stored study, served by ``hybridtune dashboard``, read back through optuna-dashboard's HTTP API."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import hybridtune as ht
from conftest import ROOT, cli


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
        assert r.status == 200
        return json.loads(r.read())


@pytest.fixture(scope="module")
def stored(tiny_task: ht.Task, tmp_path_factory: pytest.TempPathFactory) -> str:
    db = tmp_path_factory.mktemp("dash") / "dash.db"
    url = f"sqlite:///{db}"
    grid = {"lr": [0.03, 0.3], "momentum": [0.9], "weight_decay": [0.0], "batch_size": [32]}
    ht.run_study(tiny_task, ht.StudyConfig(name="dash", trials=3, epochs=2, probe_batch_size=32,
                                           probe_momenta=(0.95, 0.9), grid=grid), storage=url, out=db.parent / "dash")
    return url


@pytest.mark.slow  # a real process: the dashboard server, stopped with SIGTERM
def test_dashboard_serves_the_study_note_and_figures(stored: str, tmp_path: Path) -> None:
    port = _free_port()
    log = (tmp_path / "dashboard.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "hybridtune", "dashboard", "--storage", stored, "--port", str(port)],
                            cwd=ROOT, env={**os.environ, "COLUMNS": "200"}, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                studies = _get(port, "/api/studies")["study_summaries"]
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"dashboard did not answer: {(tmp_path / 'dashboard.log').read_text()}")
                time.sleep(0.5)
        ids = {s["study_name"]: s["study_id"] for s in studies}
        assert set(ids) == {"dash", "dash-grid"}
        search = _get(port, f"/api/studies/{ids['dash']}")
        # the three trials and, on the ladder's first rung, the probes' two momentum runs
        assert search["name"] == "dash" and len(search["trials"]) == 3 + 2
        assert "# hybridtune study `dash`" in search["note"]["body"]
        assert "**Verdict**: the search" in search["note"]["body"] and "Match at: " in search["note"]["body"]
        assert "best.json" in search["note"]["body"] and "best.pt" in search["note"]["body"]
        assert search["objective_names"] == ["validation accuracy"]  # not "Objective 0"
        figures = {g["id"]: json.loads(g["graph_object"]) for g in search["plotly_graph_objects"]}
        assert {"best-vs-cost", "intermediate-values", "param-importances", "range-test", "momentum-runs"} <= set(figures)
        assert all(f["data"] for k, f in figures.items() if k != "param-importances")
        attrs = {a["key"] for a in search["user_attrs"]}
        assert {"priors", "cost", "comparison", "space"} <= attrs
        grid = _get(port, f"/api/studies/{ids['dash-grid']}")
        assert "# hybridtune study `dash`" in grid["note"]["body"]
        assert grid["objective_names"] == ["validation accuracy"]
        assert "best-vs-cost" in {g["id"] for g in grid["plotly_graph_objects"]}
        assert len(grid["trials"]) == 2
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    assert f"http://127.0.0.1:{port}/" in (tmp_path / "dashboard.log").read_text()


def test_dashboard_needs_an_existing_storage(tmp_path: Path) -> None:
    p = cli("dashboard", "--storage", f"sqlite:///{tmp_path / 'missing.db'}", "--port", str(_free_port()))
    assert p.returncode == 2
    assert p.stderr.startswith("hybridtune dashboard: error: storage must be an existing database")
    assert p.stderr.strip().count("\n") == 0
