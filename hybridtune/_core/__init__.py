"""Shared foundations: the error hierarchy, registries with a friendly miss, JSON helpers, shared types,
opening a storage."""

from __future__ import annotations

from ._errors import (ConfigError, DataError, HybridTuneError, ModelError, ProbeError, StorageError, TrialFailed,
                      UnknownNameError)
from ._json import finite_json
from ._registry import did_you_mean
from ._storage import open_storage, redact
from ._types import Progress

__all__ = ["ConfigError", "DataError", "HybridTuneError", "ModelError", "ProbeError", "Progress", "StorageError",
    "TrialFailed", "UnknownNameError", "did_you_mean", "finite_json", "open_storage", "redact"]
