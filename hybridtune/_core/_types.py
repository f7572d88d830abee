"""Types shared by every stage."""

from __future__ import annotations

from collections.abc import Callable

#: ``progress(phase, done, total)``: how the library reports progress (the CLI draws bars from it).
Progress = Callable[[str, int, int], None]
