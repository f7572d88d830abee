"""What the studies found: outcomes, the cost-fair :class:`Comparison`, :class:`StudyResult`, load_result."""

from __future__ import annotations

from ..study._study import Comparison, HistoryPoint, Match, StudyOutcome, StudyResult, load_result

__all__ = ["Comparison", "HistoryPoint", "Match", "StudyOutcome", "StudyResult", "load_result"]
