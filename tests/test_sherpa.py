"""Sherpa's matrix elements through the bridge: equal to Sherpa's own CSMatrixElement(), equal
to nis' Berends-Giele providers (a physics cross-check of both), errors, and `nis integrate`
on them. Skipped where Sherpa is not installed (`bash setup.sh` installs it)."""

import gc
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from nis.bridge import BridgeError, MatrixElement, parse_process
from nis.bridge.sherpa_install import sherpa_prefix

pytestmark = pytest.mark.skipif(sherpa_prefix() is None, reason="Sherpa is not installed (bash setup.sh)")

E = 91.1876


def momenta(process: str, n: int, seed: int = 3) -> np.ndarray:
    """``n`` RAMBO points of ``process`` at sqrt(s) = E, incoming along z, float64 (n, n_ext, 4)."""
    from nis.phasespace.rambo import rambo_forward

    n_out = len(process.split("->")[1].split())
    u = torch.rand(n, 3 * n_out - 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    k, _ = rambo_forward(u, torch.full((n,), E * E, dtype=torch.float64))
    beams = torch.tensor([[E / 2, 0, 0, E / 2], [E / 2, 0, 0, -E / 2]], dtype=torch.float64).expand(n, 2, 4)
    return torch.cat([beams, k], 1).numpy().copy()


@pytest.fixture
def sherpa_mes():
    """One Sherpa for four processes; released after each test (one run card lives at a time)."""
    from nis.bridge.sherpa import settings_from_parameters, sherpa_matrix_elements

    procs = ["e+ e- -> mu+ mu-", "e+ e- -> d d~", "e+ e- -> u u~ g", "e+ e- -> g d~ g d"]
    mes = dict(zip(procs, sherpa_matrix_elements(procs, settings=settings_from_parameters({}))))
    yield mes
    mes.clear()
    gc.collect()


def test_sherpa_equals_the_built_in_berends_giele_providers(sherpa_mes):
    """Same SM parameters (alpha(mZ) scheme, fixed width), any particle order: 1e-8 relative."""
    for process, me in sherpa_mes.items():
        p = momenta(process, 40)
        ours = MatrixElement(process)(p)
        theirs = me(p)
        assert np.all(ours > 0)
        assert np.max(np.abs(theirs / ours - 1)) < 1e-8, process
    info = sherpa_mes["e+ e- -> g d~ g d"].info
    assert info.pdg_out == parse_process("e+ e- -> g d~ g d")[1]  # the caller's order, not Sherpa's
    assert info.symmetry_factor == pytest.approx(0.5) and info.order_qcd == 2 and info.order_qed == 2


def test_sherpa_equals_the_built_in_providers_at_five_partons():
    """e+e- -> 5 jets (three gluons, in any order): the two agree to 1e-8 there too, which the
    benchmark's 5-jet rows on the built-in matrix elements rely on (Sherpa's cost ~35 ms a point
    through the bridge here, the built-in's ~0.02 ms)."""
    from nis.bridge.sherpa import settings_from_parameters, sherpa_matrix_elements

    procs = ["e+ e- -> u u~ g g g", "e+ e- -> g d g d~ g"]
    mes = sherpa_matrix_elements(procs, settings=settings_from_parameters({}))
    for process, me in zip(procs, mes):
        p = momenta(process, 20)
        ours = MatrixElement(process)(p)
        assert np.all(ours > 0)
        assert np.max(np.abs(me(p) / ours - 1)) < 1e-8, process
    mes.clear()
    gc.collect()


def test_bridge_equals_sherpas_own_cs_matrix_element(sherpa_mes, tmp_path):
    """Sherpa's Python module, in a fresh process, from the same card at the same momenta:
    CSMatrixElement() with the particles in Sherpa's order (e- e+ -> g u u~) equals the bridge."""
    me = sherpa_mes["e+ e- -> u u~ g"]
    p = momenta("e+ e- -> u u~ g", 20)
    np.save(tmp_path / "p.npy", p[:, [1, 0, 4, 2, 3]])
    script = textwrap.dedent(
        f"""
        import json, os, numpy as np, Sherpa
        os.chdir({str(me.run_card.parent)!r})
        argv = ["Sherpa", "Sherpa.yaml", "INIT_ONLY: 2", "OUTPUT: 0"]
        gen = Sherpa.Sherpa(len(argv), argv); gen.InitializeTheRun()
        me = Sherpa.MEProcess(gen)
        for i in (11, -11): me.AddInFlav(i)
        for i in (21, 2, -2): me.AddOutFlav(i)
        me.Initialize()
        out = []
        for q in np.load({str(tmp_path / "p.npy")!r}):
            me.SetMomenta([[float(x) for x in v] for v in q])
            out.append(me.CSMatrixElement())
        print(json.dumps(out))
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    theirs = np.array(json.loads(run.stdout.strip().splitlines()[-1]))
    assert np.max(np.abs(me(p) / theirs - 1)) < 1e-12


def test_a_process_sherpa_rejects_raises_its_reason():
    from nis.bridge.sherpa import sherpa_matrix_element

    with pytest.raises(BridgeError, match="Sherpa"):
        sherpa_matrix_element("e+ e- -> mu+ e-")  # charge is not conserved: no process to build


def test_parameters_without_a_sherpa_setting_and_sherpa_missing(monkeypatch):
    from nis.bridge import sherpa

    with pytest.raises(BridgeError, match="z_exchange"):
        sherpa.settings_from_parameters({"z_exchange": 0.0})
    monkeypatch.setattr(sherpa, "sherpa_prefix", lambda: None)
    with pytest.raises(BridgeError, match="setup.sh"):
        sherpa.sherpa_matrix_element("e+ e- -> mu+ mu-")


def test_initial_state_order_is_sherpas():
    from nis.bridge.sherpa import initial_state_order

    assert initial_state_order((-11, 11)) == (11, -11)
    assert initial_state_order((2, 21)) == (21, 2)
    assert initial_state_order((-1, 2)) == (2, -1)
    assert initial_state_order((2, 1)) == (1, 2)


def test_nis_integrate_on_sherpa_matrix_elements_gives_the_mu_mu_cross_section():
    """The process config with provider: sherpa, through the integrator: sigma(ee -> mu mu) at
    the Z pole within 3 sigma of the gamma/Z formula with the same parameters."""
    from nis.config import IntegrationConfig, TrainingConfig
    from nis.integrands import make_integrand
    from nis.integrator import Integrator
    from test_processes import EW, sigma_ff

    f = make_integrand(
        {"matrix_element": {"process": "e+ e- -> mu+ mu-", "provider": "sherpa"}, "sqrt_s": 91.2, "parameters": EW}
    )
    est = Integrator(
        f, training=TrainingConfig(calls=5_000), integration=IntegrationConfig(calls=20_000, fallback="always_vegas"), seed=2
    ).run().estimate
    exact = sigma_ff("mu", 91.2)
    assert abs(est.integral - exact) < 3 * est.error and est.error < 0.01 * exact
