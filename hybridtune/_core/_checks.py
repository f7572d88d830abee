"""Input checks shared by every stage: one rule, one message (``<name> must be <rule>, but got <name>=<value>.``)."""

from __future__ import annotations

from typing import Any

from ._errors import ConfigError


def is_positive_int(value: Any, *, whole_floats: bool = False) -> bool:
    """Whether ``value`` is an integer >= 1 (``True`` and ``False`` are not; with ``whole_floats``, ``32.0`` is).

    Example:
        >>> is_positive_int(3), is_positive_int(0), is_positive_int(True), is_positive_int(2.0, whole_floats=True)
        (True, False, False, True)
    """
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 1
    return whole_floats and isinstance(value, float) and value.is_integer() and value >= 1


def check_positive_int(name: str, value: Any, *, optional: bool = False, whole_floats: bool = False,
                       label: str | None = None) -> None:
    """Raise :class:`ConfigError` unless ``value`` is a positive integer (or ``None``, when ``optional``);
    ``label`` is what the message calls it, when not ``name``.

    Example:
        >>> check_positive_int("trials", 0)
        Traceback (most recent call last):
        ...
        hybridtune._core._errors.ConfigError: trials must be a positive integer, but got trials=0.
    """
    if optional and value is None:
        return
    if not is_positive_int(value, whole_floats=whole_floats):
        raise ConfigError(f"{label or name} must be a positive integer, but got {name}={value!r}.")
