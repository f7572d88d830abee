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
@pytest.mark.timeout(600)  # two schedules of at most 200 s each (--timeout), on a loaded 2-core machine
def test_two_seeded_fault_schedules_keep_every_invariant(tmp_path) -> None:
    why = why_unavailable()
    if why is not None:
        pytest.skip(f"no throw-away PostgreSQL cluster: {why}")
    out = tmp_path / "chaos.json"
    p = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "chaos.py"), "--schedules", "2", "--outage", "3",
                          "--timeout", "200", "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    try:
        output, _ = p.communicate(timeout=540)
    except subprocess.TimeoutExpired:
        p.terminate()  # SIGTERM: chaos.py stops its processes and deletes its cluster (SIGKILL would leave them)
        output, _ = p.communicate(timeout=60)
        pytest.fail(f"the short chaos run took longer than 540 s: {output[-3000:]}")
    assert p.returncode == 0, output
    result = json.loads(out.read_text())
    assert (result["schedules_run"], result["schedules_held"]) == (2, 2)
    for schedule in result["schedules"]:
        assert all(schedule["invariants"].values()), schedule["invariants"]
        assert len(schedule["faults"]) >= 3, schedule  # the run was long enough for faults to land
