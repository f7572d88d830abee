from __future__ import annotations

from ._prior import SCALES, ParamPrior
from ._sampler import Held, PriorSampler
from ._shares import (ENQUEUED, INCUMBENT, PRIOR, SOURCE_ATTR, SOURCES, WIDE, Evidence, default_is_failure,
                      shares_of)

__all__ = ["ENQUEUED", "Evidence", "Held", "INCUMBENT", "PRIOR", "ParamPrior", "PriorSampler", "SCALES", "SOURCES",
           "SOURCE_ATTR", "WIDE", "default_is_failure", "shares_of"]
