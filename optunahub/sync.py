"""Refresh the OptunaHub package's copy of ``hybridtune.samplers``: ``python optunahub/sync.py``.

``optunahub/prior_sampler/`` is the folder to submit to the OptunaHub registry (``package/samplers/prior_sampler``).
An OptunaHub package must stand alone (Optuna and numpy only: no hybridtune, no torch), so it holds copies of the
sampler's modules, each with its one import of hybridtune's ``_core`` pointed at a two-line stand-in
(``_errors.py``). Edit ``hybridtune/samplers/``, never the copies; ``--check`` exits 1 when a copy is stale
(``tests/samplers/test_optunahub_package.py`` runs it).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "hybridtune" / "samplers"
PACKAGE = Path(__file__).resolve().parent / "prior_sampler"
MODULES = ("_prior.py", "_shares.py", "_sampler.py", "_optuna.py")


def vendored(name: str) -> str:
    """The OptunaHub copy of ``hybridtune/samplers/<name>``."""
    text = (SOURCE / name).read_text()
    head = f"# Copied from hybridtune/samplers/{name} by optunahub/sync.py: edit that file, not this one.\n"
    return head + text.replace("from .._core import ", "from ._errors import ")


def main(argv: list[str]) -> int:
    stale = [n for n in MODULES if not (PACKAGE / n).is_file() or (PACKAGE / n).read_text() != vendored(n)]
    if "--check" in argv:
        if stale:
            print(f"stale copies in {PACKAGE}: {', '.join(stale)}; run python optunahub/sync.py")
        return 1 if stale else 0
    for n in stale:
        (PACKAGE / n).write_text(vendored(n))
    print(f"updated {len(stale)} of {len(MODULES)} modules in {PACKAGE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
