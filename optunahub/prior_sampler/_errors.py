"""What the OptunaHub copy needs of hybridtune's ``_core``: its error for a bad argument and its choice check."""

from __future__ import annotations

import difflib
from collections.abc import Sequence


class ConfigError(ValueError):
    """A bad argument: the message says the rule and the value."""


def check_choice(kind: str, value: str, valid: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``valid``, else raise :class:`ConfigError` naming the closest."""
    if value not in valid:
        close = difflib.get_close_matches(str(value), list(valid), n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{kind} must be one of {', '.join(valid)}, but got {value!r}.{hint}")
    return value
