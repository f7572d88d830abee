"""Shared foundations: the error hierarchy, registries with a friendly miss, input checks, JSON and file
helpers, shared types, opening a storage, the version."""

from __future__ import annotations

from ._checks import check_positive_int, is_positive_int
from ._errors import (ConfigError, DataError, HybridTuneError, ModelError, ProbeError, StorageError, StorageUnreachable,
                      TrialFailed, UnknownNameError)
from ._files import atomic_write, check_writable, report_file, write_text
from ._json import finite_json
from ._registry import (Registry, check_choice, did_you_mean, is_user_reference, load_user_callable,
                        unknown_name_message, user_file_digest)
from ._smooth import running_median
from ._guard import (CREATED_BY_KEY, STORAGE_RETRY_SECONDS, exception_chain, guarded, is_connection_lost,
                     is_query_canceled, is_unreachable, wait_log)
from ._redact import redact
from ._storage import (DEFAULT_STORAGE, GRACE_SECONDS, HEARTBEAT_SECONDS, MAX_RETRY, SHARED_HINT, coordinator_lock,
                       fail_silent_trials, heartbeat_ages, is_shared, open_storage, resolve_storage_url, storage_url,
                       study_names)
from ._types import Progress
from ._version import __version__

__all__ = [
    # errors
    "ConfigError", "DataError", "HybridTuneError", "ModelError", "ProbeError", "StorageError", "StorageUnreachable",
    "TrialFailed", "UnknownNameError",
    # registries and input checks
    "Registry", "check_choice", "check_positive_int", "did_you_mean", "is_positive_int", "is_user_reference",
    "load_user_callable", "unknown_name_message", "user_file_digest",
    # files and JSON
    "atomic_write", "check_writable", "finite_json", "report_file", "write_text",
    # storage
    "CREATED_BY_KEY", "DEFAULT_STORAGE", "GRACE_SECONDS", "HEARTBEAT_SECONDS", "MAX_RETRY", "SHARED_HINT",
    "STORAGE_RETRY_SECONDS",
    "coordinator_lock", "fail_silent_trials", "guarded", "heartbeat_ages", "is_connection_lost", "is_shared",
    "exception_chain", "is_query_canceled", "is_unreachable", "open_storage", "redact", "resolve_storage_url", "storage_url",
    "study_names", "wait_log",
    # shared types and helpers
    "Progress", "__version__", "running_median",
]
