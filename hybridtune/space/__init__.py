"""Where to search: batch sizes and the LR rule, the search space inside the priors, the textbook grid."""

from __future__ import annotations

from ._space import (LR_RANGE, WEIGHT_DECAY_BOUNDS, GridSpace, Hyperparams, SearchSpace, batch_sizes,
                     dataset_batch_ceiling, grid_space, scale_lr, search_space, shuffled_cells, suggested_peak,
                     wide_space)

__all__ = ["LR_RANGE", "WEIGHT_DECAY_BOUNDS", "GridSpace", "Hyperparams", "SearchSpace", "batch_sizes",
           "dataset_batch_ceiling", "grid_space", "scale_lr", "search_space", "shuffled_cells", "suggested_peak",
           "wide_space"]
