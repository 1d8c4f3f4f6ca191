"""Unbiasedness and honest errors over many seeds: pulls (estimate - exact) / error must look
like a standard normal, for the flow and after a forced fallback to VEGAS.

The flows are trained briefly, so their weights have long tails; 40k points per run put the
estimate where the central limit theorem holds (at 4k points the skewness of the weights shows
as a negative mean pull of a few tenths, for VEGAS-like samplers as much as for flows). With
that error, a density off by half a percent would already give pulls near 2.
"""

import statistics

import pytest

from nis.config import FlowConfig, IntegrationConfig, TrainingConfig
from nis.integrator import Integrator
from nis.testfunctions import make_test_function

SEEDS = range(50)


def pulls(fallback, loss="variance"):
    f = make_test_function("camel", dims=2, width=0.2)
    out = []
    for seed in SEEDS:
        integ = Integrator(
            f,
            FlowConfig(bins=8, hidden=16, layers=1),
            TrainingConfig(calls=6_000, batch_size=500, buffered_steps=1, log_every=4, loss=loss),
            IntegrationConfig(calls=40_000, iterations=4, validation_calls=1_000, fallback=fallback),
            seed=seed,
        )
        r = integ.run()
        assert r.method == ("vegas" if fallback == "always_vegas" else "nis")
        out.append((r.estimate.integral - f.exact) / r.estimate.error)
    return out


@pytest.mark.parametrize(
    "fallback, loss",
    [("never", "variance"), ("never", "renyi"), ("always_vegas", "variance")],
    ids=["flow", "flow-renyi", "forced-fallback"],
)
def test_pulls_are_standard_normal(fallback, loss):
    p = pulls(fallback, loss)
    mean, sd = statistics.fmean(p), statistics.stdev(p)
    assert -0.3 < mean < 0.3, (mean, sd)  # about 2 standard errors of the mean of 50 pulls
    assert 0.7 < sd < 1.3, (mean, sd)
