"""What every benchmark's JSON carries: when, how it was run, and on what machine; and writing it safely."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import statistics
import sys
from pathlib import Path
from typing import Any


def now() -> str:
    """The current UTC time, to the second (a benchmark's ``started`` and ``finished``)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def machine() -> dict[str, Any]:
    """The machine a benchmark ran on: platform, processor, CPUs, Python, torch and its threads, the GPU."""
    import torch

    return {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def stamp(benchmark: str, started: str) -> dict[str, Any]:
    """The head of a benchmark's JSON: its name, start and finish times, the command that ran it, the machine."""
    return {"benchmark": benchmark, "started": started, "finished": now(),
            "command": " ".join([Path(sys.executable).name, *sys.argv]), "machine": machine()}


def write_json(out: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``out`` as strict JSON, atomically: an interrupted run leaves the last complete file."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, allow_nan=False, default=float) + "\n")
    os.replace(tmp, out)


def mean_se(xs: list[float]) -> dict[str, Any]:
    """``{"mean", "se", "n"}`` of ``xs``: the standard error over its values (``None`` for fewer than two)."""
    if not xs:
        return {"mean": None, "se": None, "n": 0}
    se = statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else None
    return {"mean": statistics.fmean(xs), "se": se, "n": len(xs)}
