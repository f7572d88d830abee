from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import hybridtune as ht

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # one cache for the whole session (the parsed mnist5k arrays), never the user's
    monkeypatch.setenv("HYBRIDTUNE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def tiny_task() -> ht.Task:
    """A seeded 4-class 1x8x8 task that trains in well under a second."""
    return ht.Task(model="cnn", data="synthetic:n=400,classes=4,noise=1.5", device="cpu")


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run ``python -m hybridtune ARGS`` as a subprocess, as a user would."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "hybridtune", *args], cwd=cwd or ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
