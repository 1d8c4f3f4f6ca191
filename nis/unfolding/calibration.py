"""The calibration test of a posterior: are its quantiles what they claim to be?

For every test event with known truth t draw M posterior samples s_1 .. s_M of a scalar
observable and take the rank of the truth among them, as the mid-rank fraction

    u = (#{s_i < t} + #{s_i = t} / 2 + 1/2) / (M + 1)      in (0, 1).

If the posterior is the true conditional density, u is uniform (to within 1 / (M + 1)), so:

* ``below(q)``: the (weighted) fraction of events whose truth lies below the q-quantile of its
  posterior, ``P(u <= q)``, must be q;
* ``central(q)``: the fraction whose truth lies inside the central interval of probability q,
  ``P(|u - 1/2| <= q/2)``, must be q.

A posterior that is too narrow (over-confident) puts the truth in the tails: ``central(q) < q``;
one that is too wide, ``central(q) > q``; a biased one moves ``below(q)`` off the diagonal.
:func:`calibration` returns both curves on a grid of q and the summary ``max_deviation``, the
largest ``|curve - q|`` of either. Its statistical noise for N events is about
``sqrt(q (1 - q) / N_eff) <= 0.5 / sqrt(N_eff)`` per point (``noise`` in the result).
"""

from __future__ import annotations

import numpy as np

__all__ = ["rank_fractions", "calibration", "QUANTILES"]

QUANTILES = np.round(np.linspace(0.05, 0.95, 19), 10)  #: the default grid of q


def rank_fractions(samples: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The mid-rank fraction u (N,) of each truth (N,) among its posterior samples (N, M)."""
    samples, truth = np.asarray(samples, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if samples.ndim != 2 or truth.shape != (samples.shape[0],):
        raise ValueError(f"samples (N, M) and truth (N,); got {samples.shape} and {truth.shape}")
    below = (samples < truth[:, None]).sum(axis=1)
    equal = (samples == truth[:, None]).sum(axis=1)
    return (below + 0.5 * equal + 0.5) / (samples.shape[1] + 1)


def calibration(samples: np.ndarray, truth: np.ndarray, weights: np.ndarray | None = None,
                quantiles: np.ndarray | None = None) -> dict:
    """Calibration curves of posterior samples (N, M) against the truth (N,) (event weights
    optional); see the module docstring. Events with a non-finite truth or sample are left out.

    Returns {"quantiles", "below", "central", "max_deviation", "max_deviation_below",
    "max_deviation_central", "events", "samples", "noise", "rank_histogram"} (lists and floats).
    """
    samples, truth = np.asarray(samples, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    q = QUANTILES if quantiles is None else np.asarray(quantiles, dtype=np.float64)
    w = np.ones(len(truth)) if weights is None else np.asarray(weights, dtype=np.float64)
    keep = np.isfinite(truth) & np.isfinite(samples).all(axis=1)
    samples, truth, w = samples[keep], truth[keep], w[keep]
    if len(truth) == 0:
        raise ValueError("no events with a finite truth and finite samples to calibrate on")
    u = rank_fractions(samples, truth)
    total = w.sum()
    below = np.array([w[u <= qi].sum() for qi in q]) / total
    central = np.array([w[np.abs(u - 0.5) <= qi / 2].sum() for qi in q]) / total
    dev_below, dev_central = float(np.max(np.abs(below - q))), float(np.max(np.abs(central - q)))
    n_eff = total**2 / (w**2).sum()
    hist, _ = np.histogram(u, np.linspace(0, 1, 11), weights=w)
    return {
        "quantiles": q.tolist(), "below": below.tolist(), "central": central.tolist(),
        "max_deviation": max(dev_below, dev_central), "max_deviation_below": dev_below,
        "max_deviation_central": dev_central, "events": int(len(truth)), "samples": int(samples.shape[1]),
        "noise": float(0.5 / np.sqrt(n_eff)), "rank_histogram": (hist / total).tolist(),
    }
