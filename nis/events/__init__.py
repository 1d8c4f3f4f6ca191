"""Events: w_max estimates, unweighting efficiency and unweighted samples."""

from nis.events.unweighting import (
    UnweightingStats,
    overweight_fraction,
    unweighting_stats,
    wmax_median_of_maxima,
    wmax_projected,
    wmax_quantile,
)

__all__ = [
    "UnweightingStats",
    "overweight_fraction",
    "unweighting_stats",
    "wmax_median_of_maxima",
    "wmax_projected",
    "wmax_quantile",
]
