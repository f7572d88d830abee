"""The API reference stays in step with the docstrings, and the AutoML example runs (issue 6)."""

from __future__ import annotations

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
