"""The exception hierarchy.

Every error hybridtune raises on purpose is a :class:`HybridTuneError`; each concrete class also
subclasses the matching built-in (skorch / optuna convention), so ``except ValueError`` keeps working.
The CLI turns these into one line and exit code 2; anything else is a bug and shows a traceback.
"""

from __future__ import annotations


class HybridTuneError(Exception):
    """Base class of every error hybridtune raises deliberately."""


class ConfigError(HybridTuneError, ValueError):
    """A setting, flag, spec key or argument breaks a rule. The message names the rule and the value."""


class UnknownNameError(ConfigError, KeyError):
    """A registry lookup missed. The message lists the valid names and suggests the closest."""

    def __str__(self) -> str:  # KeyError would repr() the message; keep it readable.
        return str(self.args[0]) if self.args else ""


class DataError(HybridTuneError, ValueError):
    """A dataset is missing, malformed or unusable (names the path and the files expected)."""


class ModelError(HybridTuneError, RuntimeError):
    """A model factory failed to build a model, or the model does not fit the data."""


class StorageError(HybridTuneError, RuntimeError):
    """An Optuna storage URL is malformed or the database cannot be reached."""


class StorageUnreachable(StorageError):
    """A database that did not answer (not up yet when the storage was opened) or went away later (server
    restart, network drop, too many connections) and did not come back within the storage's retry window
    (``--storage-retry``). The CLI exits with its own code (4): re-running the same command resumes once the
    database is back."""


class ProbeError(HybridTuneError, RuntimeError):
    """A probe ran but its evidence supports no answer (say, a range test whose loss never fell gives no
    LR band). Not a configuration mistake: the same settings on other data or another model may work."""


class TrialFailed(HybridTuneError, RuntimeError):
    """A trial that failed on its own (out of memory at its batch size): recorded as FAIL with the reason,
    and the study goes on."""
