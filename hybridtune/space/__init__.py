"""Where to search: batch sizes and the LR rule, the search space inside the priors, the textbook grid."""

from __future__ import annotations

from ._space import (GridSpace, Hyperparams, SearchSpace, batch_sizes, grid_space, scale_lr, search_space,
                     suggested_peak, wide_space)

__all__ = ["GridSpace", "Hyperparams", "SearchSpace", "batch_sizes", "grid_space", "scale_lr", "search_space",
    "suggested_peak", "wide_space"]
