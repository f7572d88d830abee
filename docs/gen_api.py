"""Generate docs/API.md from the public API's docstrings: ``python docs/gen_api.py``.

Every name in ``hybridtune.__all__`` gets its signature and its docstring. The test suite checks that
the committed file is up to date (tests/test_docs_examples.py).
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import hybridtune as ht

OUT = Path(__file__).with_name("API.md")


def _stable(text: str) -> str:
    """Drop memory addresses from reprs so the file is the same on every run."""
    return re.sub(r"<(function|built-in function) ([\w.]+) at 0x[0-9a-f]+>", r"\2",
                  re.sub(r"<([\w.]+) object at 0x[0-9a-f]+>", r"<\1>", text))


def _signature(obj: object) -> str:
    try:
        return _stable(str(inspect.signature(obj)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""


def render() -> str:
    lines = ["# hybridtune API reference", "",
             "Generated from the docstrings by `python docs/gen_api.py`; everything here is importable as",
             "`import hybridtune as ht; ht.NAME`. Nothing else in the package is public.", ""]
    groups: dict[str, list[str]] = {"Functions": [], "Classes": [], "Constants": []}
    for name in sorted(ht.__all__, key=str.lower):
        obj = getattr(ht, name)
        if inspect.isclass(obj):
            groups["Classes"].append(name)
        elif callable(obj):
            groups["Functions"].append(name)
        else:
            groups["Constants"].append(name)
    for title, names in groups.items():
        lines += [f"## {title}", ""]
        for name in names:
            obj = getattr(ht, name)
            if title == "Constants":
                lines += [f"### `{name}`", "", _stable(f"`{obj!r}`")[:300], ""]
                continue
            sig = _signature(obj) if title == "Functions" or not issubclass(obj, BaseException) else ""
            lines += [f"### `{name}{sig}`", ""]
            doc = inspect.getdoc(obj) or "(no docstring)"
            lines += [doc, ""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        sys.exit(0 if OUT.read_text() == text else 1)
    OUT.write_text(text)
    print(f"wrote {OUT}")
