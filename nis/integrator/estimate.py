"""Integral estimates from weighted samples: stratified over channels, combined over iterations.

Channel ``c`` contributes weights ``w = alpha_c(x) f(x) / q_c(x)`` from ``n_c`` points. The
estimate ``I = sum_c mean_c(w)`` has variance ``sum_c Var_c(w) / n_c``; both are unbiased. As
one sample of ``N = sum_c n_c`` events each event carries ``W = w N / n_c``, so that
``I = mean(W)``: these event weights are what unweighting sees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class WeightedSample:
    """Weights of one iteration, per channel: ``weights[c]`` has shape (n_c,) (empty if dropped)."""

    weights: list[Tensor]

    @property
    def n(self) -> int:
        return sum(w.numel() for w in self.weights)

    def integral_and_variance(self) -> tuple[Tensor, Tensor]:
        """Stratified estimate and its variance, 0-dim float64 tensors (no host sync)."""
        parts = [w for w in self.weights if w.numel() > 0]
        integral = torch.stack([w.mean() for w in parts]).sum()
        variance = torch.stack([w.var() / w.numel() if w.numel() > 1 else w.new_zeros(()) for w in parts]).sum()
        return integral, variance

    def channel_moments(self) -> tuple[Tensor, Tensor]:
        """Per-channel mean and standard deviation of the weights, shapes (C,); zero if empty."""
        ref = next(w for w in self.weights if w.numel() > 0)
        zero = ref.new_zeros(())
        means = torch.stack([w.mean() if w.numel() else zero for w in self.weights])
        stds = torch.stack([w.std() if w.numel() > 1 else zero for w in self.weights])
        return means, stds

    def event_weights(self) -> Tensor:
        """Weights of the events as one sample, ``W = w N / n_c``, shape (N,)."""
        n = self.n
        return torch.cat([w * (n / w.numel()) for w in self.weights if w.numel() > 0])


@dataclass
class CombinedEstimate:
    """Iterations of one frozen sampler combined: the integral, its error, chi2/dof."""

    integral: float
    error: float
    chi2_dof: float
    iterations: int

    @property
    def q_value(self) -> float:
        """Probability of a chi2 at least this large if the iterations agree (vegas' Q)."""
        dof = self.iterations - 1
        if dof < 1:
            return 1.0
        from scipy.stats import chi2

        return float(chi2.sf(self.chi2_dof * dof, dof))


def combine(estimates: list[tuple[Tensor, Tensor]]) -> CombinedEstimate:
    """Combine ``(integral, variance)`` of equal-size iterations of a *frozen* sampler.

    The iterations estimate the same thing with the same true variance, so the plain mean is
    unbiased and optimal (inverse-variance weights with *estimated* variances would bias it
    towards iterations that happened to see small weights). chi2/dof measures how well the
    iterations agree with each other given their own error estimates.
    """
    values = torch.stack([e[0] for e in estimates]).tolist()
    variances = torch.stack([e[1] for e in estimates]).tolist()
    k = len(values)
    mean = sum(values) / k
    error = math.sqrt(sum(variances)) / k
    if k > 1:
        chi2 = sum((v - mean) ** 2 / var for v, var in zip(values, variances) if var > 0) / (k - 1)
    else:
        chi2 = 0.0
    return CombinedEstimate(integral=mean, error=error, chi2_dof=chi2, iterations=k)
