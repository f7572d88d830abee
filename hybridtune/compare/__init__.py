"""What the studies found: outcomes and the best trial, the cost-fair :class:`Comparison`, :class:`StudyResult`,
load_result."""

from __future__ import annotations

from ._comparison import Comparison, Match
from ._outcome import HistoryPoint, StudyOutcome, best_trial, outcome_of, score_of_record
from ._result import StudyResult, load_result
from ._stats import TestScore

__all__ = ["Comparison", "HistoryPoint", "Match", "StudyOutcome", "StudyResult", "TestScore", "best_trial",
           "load_result", "outcome_of", "score_of_record"]
