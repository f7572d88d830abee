"""The chaos run's short version (issue 23, C): ``benchmarks/chaos.py`` with 2 seeded schedules and 3-second
outages, each on a throw-away PostgreSQL cluster of its own; every invariant must hold in both. Skipped, saying
why, where ``initdb`` / ``pg_ctl`` are not available."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _cluster import why_unavailable  # noqa: E402


@pytest.mark.slow
def test_two_seeded_fault_schedules_keep_every_invariant(tmp_path) -> None:
    why = why_unavailable()
    if why is not None:
        pytest.skip(f"no throw-away PostgreSQL cluster: {why}")
    out = tmp_path / "chaos.json"
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "chaos.py"), "--schedules", "2", "--outage", "3",
                        "--timeout", "200", "--out", str(out)], capture_output=True, text=True, timeout=480)
    assert p.returncode == 0, p.stdout + p.stderr
    result = json.loads(out.read_text())
    assert (result["schedules_run"], result["schedules_held"]) == (2, 2)
    for schedule in result["schedules"]:
        assert all(schedule["invariants"].values()), schedule["invariants"]
        assert len(schedule["faults"]) >= 3, schedule  # the run was long enough for faults to land
