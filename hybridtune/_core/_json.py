"""JSON helpers shared by every stage."""

from __future__ import annotations

import math
from typing import Any


def finite_json(obj: Any) -> Any:
    """JSON has no NaN/Infinity: turn them into None (strict JSON readers reject them).

    Example:
        >>> finite_json({"a": float("nan"), "b": [1.0, float("inf")]})
        {'a': None, 'b': [1.0, None]}
    """
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    return obj
