"""What the studies found: outcomes, the cost-fair :class:`Comparison`, :class:`StudyResult`, load_result."""

from __future__ import annotations

from ._comparison import Comparison, Match
from ._outcome import HistoryPoint, StudyOutcome
from ._result import StudyResult, load_result

__all__ = ["Comparison", "HistoryPoint", "Match", "StudyOutcome", "StudyResult", "load_result"]
