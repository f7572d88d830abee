"""The API reference stays in step with the docstrings, and the AutoML example runs (issue 6)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.slow  # a real process: the script as documented, python docs/gen_api.py --check
def test_api_reference_is_up_to_date() -> None:
    p = subprocess.run([sys.executable, "docs/gen_api.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, "docs/API.md is stale: run python docs/gen_api.py"


@pytest.mark.slow  # the example script as a user runs it, a real process (about 20 s)
def test_automl_example_runs_quick(tmp_path) -> None:
    # the wait stays inside the per-test limit (pyproject's timeout = 300): a hang fails here as TimeoutExpired
    p = subprocess.run([sys.executable, str(ROOT / "examples" / "automl_pipeline.py"), "--quick", "--device", "cpu"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stderr[-2000:]
    lines = p.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["task", "model", "data"]
    assert any(line.strip().startswith("digits-cnn") for line in lines)
    assert any(line.strip().startswith("tabular-mlp") for line in lines)


def test_prior_sampler_example_runs_in_two_processes(tmp_path) -> None:
    # examples/prior_sampler.py: a plain Optuna objective on SQLite; once to create the database, then two
    # processes share it (the same seed: each trial's draws are keyed on its number, so none repeats another's)
    script = [sys.executable, str(ROOT / "examples" / "prior_sampler.py")]
    first = subprocess.run(script, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr[-2000:]
    both = [subprocess.Popen(script, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in both]
    assert [p.returncode for p in both] == [0, 0], [err[-2000:] for _, err in outs]
    assert all(re.fullmatch(r"best \S+ at \{.*\} after \d+ trials", out.strip()) for out, _ in outs)
    import optuna

    trials = optuna.load_study(study_name="prior-example", storage=f"sqlite:///{tmp_path / 'prior_example.db'}").trials
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 60
