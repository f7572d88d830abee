"""optunahub/prior_sampler, the folder for the OptunaHub registry: a current copy of hybridtune.samplers that stands
alone (Optuna and numpy only), whose README example is its example.py and runs."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

from conftest import ROOT

HUB = ROOT / "optunahub"


def test_the_copy_is_current() -> None:
    spec = importlib.util.spec_from_file_location("optunahub_sync", HUB / "sync.py")
    sync = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(sync)  # type: ignore[union-attr]
    assert sync.main(["--check"]) == 0, "optunahub/prior_sampler is stale: run python optunahub/sync.py"


def test_the_readme_example_is_example_py() -> None:
    readme = (HUB / "prior_sampler" / "README.md").read_text()
    block = re.search(r"## Example\n\n```python\n(.*?)```", readme, re.S)
    assert block is not None and block.group(1) == (HUB / "prior_sampler" / "example.py").read_text()
    assert {"LICENSE", "README.md", "__init__.py", "example.py"} <= {p.name for p in (HUB / "prior_sampler").iterdir()}
    assert "MIT License" in (HUB / "prior_sampler" / "LICENSE").read_text()


def test_the_package_stands_alone_and_its_example_runs() -> None:
    # the registry loads the folder as a package: here from its own directory, with optunahub.load_module standing
    # in for the download; neither hybridtune nor torch may be imported
    code = (f"import importlib, runpy, sys, types\nsys.path.insert(0, {str(HUB)!r})\n"
            "pkg = importlib.import_module('prior_sampler')\n"
            "sys.modules['optunahub'] = types.SimpleNamespace(load_module=lambda package: pkg)\n"
            f"runpy.run_path({str(HUB / 'prior_sampler' / 'example.py')!r}, run_name='__main__')\n"
            "assert not {'hybridtune', 'torch'} & set(sys.modules), sorted(sys.modules)\n"
            "try:\n    pkg.ParamPrior(0.1, 2.0)\nexcept ValueError as e:\n    print(e)\n")
    p = subprocess.run([sys.executable, "-c", code], cwd=HUB, capture_output=True, text=True, timeout=120,
                       env={"PATH": "/usr/bin:/bin"})
    assert p.returncode == 0, p.stderr[-2000:]
    best, params = p.stdout.splitlines()[0].split(" ", 1)
    assert float(best) < 0.5 and "'act': 'gelu'" in params
    assert p.stdout.splitlines()[1] == "confidence must be in (0, 1], but got confidence=2.0."
