"""nis inside a real Sherpa run (``INTEGRATOR: NIS``, cpp/sherpa/nis_plugin.cpp): cross sections
and unweighted distributions equal Sherpa's own, state reuse, the JSON report, and what a bad
setting gets. Each test runs the Sherpa executable on the example cards in examples/sherpa/ with
small budgets. Skipped where Sherpa or the plugin is not installed (`bash setup.sh` does both)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from nis.bridge.sherpa_install import plugin_library, sherpa_executable
from nis.bridge.sherpa_run import run_sherpa

ROOT = Path(__file__).resolve().parents[1]
CARDS = ROOT / "examples" / "sherpa"

pytestmark = pytest.mark.skipif(
    sherpa_executable() is None or plugin_library() is None,
    reason="Sherpa or nis' Sherpa plugin is not installed (bash setup.sh)",
)

#: small budgets: a test run trains on 20k Sherpa weights and validates on 5k per sampler
FAST_NIS = {"CALLS": 20000, "VALIDATION_CALLS": 5000}


def run(workdir: Path, jets: int | str, events: int = 0, **settings):
    """Sherpa on examples/sherpa/ee_<jets>jets.yaml (or <jets>.yaml) with ``settings`` on top."""
    name = f"ee_{jets}jets" if isinstance(jets, int) else jets
    card = yaml.safe_load((CARDS / f"{name}.yaml").read_text())
    card.update({"EVENTS": events, **settings})
    return run_sherpa(card, workdir, timeout=900, lhe="events" if events else None)


def report(workdir: Path) -> dict:
    (path,) = (workdir / "Results.nis").glob("*.json")
    return json.loads(path.read_text())


def leading_parton_energy(path: Path) -> np.ndarray:
    """The largest final-state parton energy of each event in a Les Houches file."""
    energies, block = [], None
    for line in path.read_text().splitlines():
        if line.startswith("<event"):
            block = []
        elif line.startswith("</event"):
            rows = [r.split() for r in block[1:]]
            energies.append(max(float(r[9]) for r in rows if r[1] == "1"))
            block = None
        elif block is not None:
            block.append(line)
    return np.array(energies)


def two_sample_chi2(a: np.ndarray, b: np.ndarray, bins: np.ndarray) -> tuple[float, int]:
    """Pearson chi2 of two histograms of unweighted events (different sizes allowed), and dof."""
    ha, _ = np.histogram(a, bins)
    hb, _ = np.histogram(b, bins)
    keep = (ha + hb) > 0
    ha, hb = ha[keep], hb[keep]
    ka, kb = math.sqrt(hb.sum() / ha.sum()), math.sqrt(ha.sum() / hb.sum())
    return float(np.sum((ka * ha - kb * hb) ** 2 / (ha + hb))), int(keep.sum()) - 1


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    """Sherpa alone, once per multiplicity and event count (cached for the module): (run, its directory)."""
    runs = {}

    def get(jets: int, events: int = 0) -> dict:
        if (jets, events) not in runs:
            work = tmp_path_factory.mktemp(f"native_{jets}")
            runs[jets, events] = run(work, jets, events, INTEGRATOR="Default"), work
            assert runs[jets, events][0].returncode == 0, runs[jets, events][0].log[-3000:]
        return runs[jets, events]

    return get


def assert_agree(mine, theirs, n_sigma: float = 4.0):
    combined = math.hypot(mine.error, theirs.error)
    assert abs(mine.xs - theirs.xs) < n_sigma * combined, (mine.xs, theirs.xs, combined)


@pytest.mark.parametrize(
    "jets, fallback",
    [(2, "never"), (3, "never"), (3, "always_vegas"), ("pp_wjets", "never"), pytest.param(4, "never", marks=pytest.mark.slow)],
)
def test_cross_section_with_nis_equals_sherpas_own(tmp_path, native, jets, fallback):
    """Sherpa's cross section from nis' points (flow forced, or nis' VEGAS forced) equals Sherpa's
    native one within the combined statistical error, for e+e- -> jets and for p p -> W+ + jet
    (PDFs, Sherpa's ISR channels in front of nis); the report says what sampled."""
    mine = run(tmp_path, jets, NIS={**FAST_NIS, "FALLBACK": fallback})
    assert mine.returncode == 0, mine.log[-3000:]
    assert "nis: training the sampler" in mine.log
    assert_agree(mine, native(jets)[0])
    rep = report(tmp_path)
    assert rep["method"] == ("nis" if fallback == "never" else "vegas")
    assert rep["sherpa"]["points"] > 10_000 and 0 < rep["sherpa"]["unweighting_efficiency"] <= 1
    assert {"nis", "vegas", "native"} <= set(rep["validation"]) or fallback == "always_vegas"


def test_unweighted_events_from_the_flow_follow_sherpas_distribution(tmp_path, native):
    """e+e- -> 3 jets: the leading parton energy of 3000 unweighted events sampled by the flow
    and of 3000 from Sherpa alone agree (two-sample chi2, 12 bins, p > 0.001)."""
    from scipy.stats import chi2

    mine = run(tmp_path, 3, events=3000, NIS={**FAST_NIS, "FALLBACK": "never"})
    assert mine.returncode == 0, mine.log[-3000:]
    assert "pilot run and the re-run are not the same" not in mine.log
    ours = leading_parton_energy(tmp_path / "events.lhe")
    theirs = leading_parton_energy(native(3, events=3000)[1] / "events.lhe")
    assert len(ours) == len(theirs) == 3000
    value, dof = two_sample_chi2(ours, theirs, np.linspace(91.188 / 3, 91.188 / 2, 13))
    assert chi2.sf(value, dof) > 1e-3, (value, dof)


def test_a_second_run_reuses_the_trained_sampler(tmp_path):
    """With Sherpa's Results from the first run, the second run reads nis' state instead of
    training, and generates events with it."""
    first = run(tmp_path, 2, NIS=FAST_NIS)
    assert first.returncode == 0 and "nis: training the sampler" in first.log
    second = run(tmp_path, 2, events=200, NIS=FAST_NIS)
    assert second.returncode == 0, second.log[-3000:]
    assert "nis: training the sampler" not in second.log
    assert "nis: 2_2__e-__e+__j__j: sampling with" in second.log
    assert report(tmp_path)["read_from"].endswith(".pt")
    assert (tmp_path / "events.lhe").read_text().count("<event") == 200


def test_a_bad_setting_stops_sherpa_with_nis_message(tmp_path):
    out = run(tmp_path, 2, NIS={"CALLZ": 10})
    assert out.returncode != 0
    assert "unknown setting NIS:CALLZ" in out.log and "ON_ERROR: native" in out.log


def test_on_error_native_falls_back_to_sherpas_integrator(tmp_path, native):
    """ON_ERROR: native turns the same error into a warning, and Sherpa integrates exactly as
    without nis (same random numbers, same cross section)."""
    out = run(tmp_path, 2, NIS={"CALLZ": 10, "ON_ERROR": "native"})
    assert out.returncode == 0, out.log[-3000:]
    assert "falling back to Sherpa's native integrator" in out.log
    assert out.xs == pytest.approx(native(2)[0].xs, rel=1e-9)
