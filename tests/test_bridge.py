"""The matrix-element bridge from Python: errors and their messages, zero-copy input/output,
the GIL released, thread splitting, provider libraries in C loaded by path, and the physics of
the example provider: e+ e- -> mu+ mu- through a photon, (1/4) sum |M|^2 = 2 e^4 (t^2 + u^2) / s^2
and sigma = 4 pi alpha^2 / (3 s)."""

from __future__ import annotations

import math
import pickle
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from nis.bridge import (
    ABI_VERSION,
    BridgeError,
    MatrixElement,
    ProcessInfo,
    example_library,
    parse_parameters,
    parse_process,
    particle_names,
    provider_names,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_SOURCE = ROOT / "cpp" / "examples" / "ee_mumu_c" / "ee_mumu.c"
ALPHA = 1 / 137.035999
PROCESS = "e+ e- -> mu+ mu-"


def compile_c(source: str | Path, out: Path) -> Path:
    """Builds a C file into a shared library with the system C compiler (skip when there is none)."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler (cc, gcc or clang) to build a test provider library")
    if not isinstance(source, Path):
        path = out.with_suffix(".c")
        path.write_text(source)
        source = path
    subprocess.run([cc, "-std=c99", "-O2", "-shared", "-fPIC", "-I", str(ROOT / "cpp" / "include"), str(source),
                    "-o", str(out)], check=True, capture_output=True)
    return out


@pytest.fixture(scope="module")
def example_lib(tmp_path_factory) -> Path:
    """The C example provider: the one pip built, else compiled here from cpp/examples."""
    built = example_library()
    if built is not None:
        return built
    return compile_c(EXAMPLE_SOURCE, tmp_path_factory.mktemp("lib") / "libnis_ee_mumu.so")


@pytest.fixture(scope="module")
def me(example_lib) -> MatrixElement:
    return MatrixElement(PROCESS, parameters={"alpha": ALPHA}, library=example_lib)


def ee_mumu_events(n: int, sqrt_s: float, seed: int, boost: bool = True) -> np.ndarray:
    """Massless 2 -> 2 events, shape (n, 4, 4): random angles, then (boost=True) a random boost
    along z, so the analytic |M|^2 (Lorentz invariant) is checked away from the rest frame."""
    rng = np.random.default_rng(seed)
    e = sqrt_s / 2
    cos = rng.uniform(-1, 1, n)
    sin = np.sqrt(1 - cos**2)
    phi = rng.uniform(0, 2 * np.pi, n)
    p = np.zeros((n, 4, 4))
    p[:, :, 0] = e
    p[:, 0, 3], p[:, 1, 3] = e, -e
    k = e * np.stack([sin * np.cos(phi), sin * np.sin(phi), cos], axis=1)
    p[:, 2, 1:], p[:, 3, 1:] = k, -k
    if boost:
        eta = rng.uniform(-2, 2, n)[:, None]
        en, pz = p[..., 0].copy(), p[..., 3].copy()
        p[..., 0] = np.cosh(eta) * en + np.sinh(eta) * pz
        p[..., 3] = np.sinh(eta) * en + np.cosh(eta) * pz
    return p


def analytic(p: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """(1/4) sum |M|^2 = 2 e^4 (t^2 + u^2) / s^2 for massless e+ e- -> mu+ mu- (photon only)."""
    def dot(a, b):
        return a[..., 0] * b[..., 0] - (a[..., 1:] * b[..., 1:]).sum(-1)

    s = 2 * dot(p[:, 0], p[:, 1])
    t = -2 * dot(p[:, 0], p[:, 2])
    u = -2 * dot(p[:, 0], p[:, 3])
    e2 = 4 * np.pi * alpha
    return 2 * e2**2 * (t**2 + u**2) / s**2


# ---- physics of the example provider ------------------------------------------------------------

def test_example_library_matches_analytic_me(me):
    p = ee_mumu_events(2000, 91.2, seed=1)
    np.testing.assert_allclose(me(p), analytic(p), rtol=1e-12)
    assert me.info == ProcessInfo(name=me.info.name, pdg_in=(-11, 11), pdg_out=(-13, 13), masses=(0.0,) * 4,
                                  average=0.25, order_qcd=0, order_qed=2, symmetry_factor=1.0, n_particles=4)


def test_example_library_total_cross_section(me):
    """sigma = int dOmega |M|^2 / (64 pi^2 s) = 4 pi alpha^2 / (3 s): Gauss-Legendre in cos(theta) is
    exact for the quadratic 1 + cos^2."""
    sqrt_s = 10.0
    x, w = np.polynomial.legendre.leggauss(4)
    e = sqrt_s / 2
    p = np.zeros((4, 4, 4))
    p[:, :, 0] = e
    p[:, 0, 3], p[:, 1, 3] = e, -e
    p[:, 2, 1], p[:, 2, 3] = e * np.sqrt(1 - x**2), e * x
    p[:, 3, 1:] = -p[:, 2, 1:]
    s = sqrt_s**2
    sigma = 2 * np.pi * np.sum(w * me(p)) / (64 * np.pi**2 * s)
    assert sigma == pytest.approx(4 * np.pi * ALPHA**2 / (3 * s), rel=1e-13)


def test_parameters_reach_the_library(example_lib):
    p = ee_mumu_events(10, 20.0, seed=2)
    a = MatrixElement(PROCESS, {"alpha": 0.01}, library=example_lib)(p)
    b = MatrixElement(PROCESS, "alpha=0.02", library=example_lib)(p)
    np.testing.assert_allclose(b / a, 4.0, rtol=1e-14)  # |M|^2 ~ alpha^2


# ---- numpy / torch in and out -------------------------------------------------------------------

def test_out_is_written_in_place(me):
    p = ee_mumu_events(100, 50.0, seed=3)
    out = np.full(100, -1.0)
    result = me(p, out=out)
    assert result is out
    np.testing.assert_allclose(out, analytic(p), rtol=1e-12)
    t_out = torch.zeros(100, dtype=torch.float64)
    assert me.evaluate(torch.from_numpy(p), out=t_out) is t_out
    np.testing.assert_array_equal(t_out.numpy(), out)


def test_numpy_and_torch_give_the_same_numbers(me):
    p = ee_mumu_events(1000, 50.0, seed=4)
    a = me(p)
    t = me(torch.from_numpy(p).requires_grad_(True))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float64 and t.device.type == "cpu" and t.shape == (1000,)
    np.testing.assert_array_equal(t.numpy(), a)


def test_non_contiguous_float64_is_copied_not_refused(me):
    p = ee_mumu_events(64, 30.0, seed=5)
    wide = np.zeros((64, 4, 8))
    wide[..., ::2] = p
    strided = wide[..., ::2]
    assert not strided.flags.c_contiguous
    np.testing.assert_array_equal(me(strided), me(p))
    np.testing.assert_array_equal(me(torch.from_numpy(wide)[..., ::2]), me(p))
    out = np.zeros((64, 2))[:, 0]  # a strided output gets the values too
    me(p, out=out)
    np.testing.assert_array_equal(out, me(p))


def test_matrix_element_pickles(me):
    p = ee_mumu_events(10, 30.0, seed=15)
    again = pickle.loads(pickle.dumps(me))
    assert again.info == me.info and again.tolerance == me.tolerance
    np.testing.assert_array_equal(again(p), me(p))


def test_empty_batch(me):
    assert me(np.zeros((0, 4, 4))).shape == (0,)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_tensor_round_trips_through_the_cpu(me):
    p = torch.from_numpy(ee_mumu_events(100, 50.0, seed=6))
    r = me(p.cuda())
    assert r.device.type == "cuda"
    np.testing.assert_array_equal(r.cpu().numpy(), me(p.numpy()))


# ---- threads and the GIL ------------------------------------------------------------------------

def test_threads_give_identical_results(me):
    p = ee_mumu_events(30001, 91.2, seed=7)
    serial = me.evaluate(p, threads=1)
    np.testing.assert_array_equal(me.evaluate(p, threads=2), serial)
    np.testing.assert_array_equal(me.evaluate(p, threads=5), serial)
    np.testing.assert_array_equal(me.evaluate(p), serial)
    with pytest.raises(ValueError, match="threads"):
        me.evaluate(p, threads=-1)


def test_gil_released_during_evaluation(me):
    """A Python thread keeps running while the C++ code evaluates: with the GIL held, no Python
    bytecode could run in the middle of the call."""
    p = ee_mumu_events(400_000, 91.2, seed=8, boost=False)
    stamps: list[float] = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            stamps.append(time.perf_counter())

    windows = []
    worker = threading.Thread(target=tick)
    worker.start()
    try:
        for _ in range(6):
            t0 = time.perf_counter()
            me.evaluate(p, threads=1)
            t1 = time.perf_counter()
            windows.append((t0 + 0.25 * (t1 - t0), t1 - 0.25 * (t1 - t0)))
            time.sleep(0.005)
    finally:
        stop.set()
        worker.join()
    inside = sum(1 for t in stamps for a, b in windows if a < t < b)
    assert inside > 0, "no Python progress while evaluate() ran: the GIL was not released"


def test_concurrent_evaluations_agree(me):
    p = ee_mumu_events(20000, 91.2, seed=9)
    expected = me(p)
    results = [None] * 4

    def run(i):
        results[i] = me.evaluate(p, threads=1)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, expected)


def test_native_timing(me):
    p = ee_mumu_events(1000, 91.2, seed=10)
    assert 0 < me._time_native(p, repeats=3) < 1
    assert 0 < me._time_native(torch.from_numpy(p), repeats=3, checks=False) < 1


# ---- errors -------------------------------------------------------------------------------------

def test_bridge_error_is_a_value_error_with_a_code():
    assert issubclass(BridgeError, ValueError)
    e = pickle.loads(pickle.dumps(BridgeError("bad", "NIS_ERR_LOAD")))
    assert str(e) == "bad" and e.code == "NIS_ERR_LOAD"


def test_parse_process_and_unknown_particle():
    assert parse_process("e+ e- -> d d~ g g") == ((-11, 11), (1, -1, 21, 21))
    assert {"e-", "mu+", "g", "a", "z", "w+", "t~"} <= set(particle_names())
    with pytest.raises(BridgeError, match=r"unknown particle 'gluon' \(known: e- e\+ .* g a z w\+ w-") as err:
        parse_process("e+ e- -> gluon gluon")
    assert err.value.code == "NIS_ERR_UNKNOWN_PROCESS"
    with pytest.raises(BridgeError, match='exactly one "->"'):
        MatrixElement("e+ e- mu+ mu-")
    with pytest.raises(BridgeError, match="unknown particle 'muon'"):
        MatrixElement("e+ e- -> mu+ muon")


def test_unknown_process_lists_the_providers():
    with pytest.raises(BridgeError, match=r"no built-in provider handles 've ve~ -> vt vt~ vt vt~ a a a' \(providers: ") as err:
        MatrixElement("ve ve~ -> vt vt~ vt vt~ a a a")
    assert err.value.code == "NIS_ERR_UNKNOWN_PROCESS"
    for name in provider_names():
        assert name in str(err.value)


def test_built_in_providers_are_registered():
    """Static registration survives the build: every provider source compiled in registers."""
    if not list((ROOT / "cpp" / "src" / "providers").glob("*.cpp")):
        pytest.skip("no built-in provider sources in cpp/src/providers yet")
    assert provider_names(), "provider sources exist but none registered (linker dropped them?)"


def test_built_in_ee_mumu_near_the_photon_only_example(example_lib):
    """At sqrt(s) = 10 GeV the Z changes e+ e- -> mu+ mu- by about a per cent: the built-in provider
    (photon + Z) and the C example (photon only) agree loosely."""
    try:
        built_in = MatrixElement(PROCESS)
    except BridgeError as err:
        pytest.skip(f"no built-in {PROCESS}: {err}")
    alpha = built_in.parameters.get("alpha", 1 / 132.507)
    photon = MatrixElement(PROCESS, {"alpha": alpha}, library=example_lib)
    p = ee_mumu_events(200, 10.0, seed=11, boost=False)
    ratio = built_in(p) / photon(p)
    assert np.all(np.abs(ratio - 1) < 0.1), ratio


def test_bad_parameters(example_lib):
    with pytest.raises(BridgeError, match=r"bad parameter 'mZ=91") as err:
        MatrixElement(PROCESS, {"mZ": 91.0}, library=example_lib)
    assert err.value.code == "NIS_ERR_BAD_PARAMETER"
    for bad, message in [({"alpha": "small"}, "'alpha' = 'small' is not a number"),
                         ({"alpha": float("nan")}, "not a finite number"),
                         ("alpha", "has no '='"), ("alpha=x", "'alpha' = 'x' is not a finite number"),
                         ([1, 2], "must be a dict")]:
        with pytest.raises(BridgeError, match=message) as err:
            MatrixElement(PROCESS, bad, library=example_lib)
        assert err.value.code == "NIS_ERR_BAD_PARAMETER"
    assert parse_parameters("alpha_s=0.118; mZ=91.19") == {"alpha_s": 0.118, "mZ": 91.19}


def test_bad_momenta(me):
    p = ee_mumu_events(10, 91.2, seed=12)
    cases = [
        (p.astype(np.float32), r"must be float64, got float32; convert with array.astype"),
        (torch.from_numpy(p).float(), r"must be float64, got float32; convert with tensor.double\(\)"),
        (p[:, :3], r"must have shape \(n_events, 4, 4\).*got shape \(10, 3, 4\)"),
        (p[0], r"got shape \(4, 4\)"),
        (p.astype(np.int64), "got int64"),
    ]
    for momenta, message in cases:
        with pytest.raises(BridgeError, match=message) as err:
            me(momenta)
        assert err.value.code == "NIS_ERR_BAD_MOMENTA"

    q = p.copy()
    q[6, 1, 2] = np.nan
    with pytest.raises(BridgeError, match=r"momenta of event 6 are not finite: particle 1, py = nan"):
        me(q)
    q = p.copy()
    q[4, 3, 0] += 1e-3
    with pytest.raises(BridgeError, match=r"event 4 does not conserve four-momentum.* E off by .*tolerance 1e-09") as err:
        me(q)
    assert err.value.code == "NIS_ERR_BAD_MOMENTA"
    loose = MatrixElement(PROCESS, {"alpha": ALPHA}, library=me.library, tolerance=1e-4)
    assert np.isfinite(loose(q)).all()

    out = np.zeros(10)
    for bad_out, message in [(np.zeros(9), r"shape \(10,\)"), (np.zeros(10, np.float32), "float64"),
                             (torch.zeros(10), "float64"), ([0.0] * 10, "numpy array or torch tensor")]:
        with pytest.raises(BridgeError, match=message):
            me(p, out=bad_out)
    out.flags.writeable = False
    with pytest.raises(BridgeError, match="read-only"):
        me(p, out=out)


def test_native_layer_refuses_bad_buffers_too(me):
    """nis._bridge checks its buffers itself: a wrong array reaching it is an error, not a crash."""
    native = me._native
    p = ee_mumu_events(4, 10.0, seed=13)
    with pytest.raises(BridgeError, match="C-contiguous float64"):
        native.evaluate(p.astype(np.float32), np.zeros(4))
    with pytest.raises(BridgeError, match="out must be"):
        native.evaluate(p, np.zeros(3))
    with pytest.raises(BridgeError, match=r"shape \(n_events, 4, 4\)"):
        native.evaluate(np.zeros((4, 5, 4)), np.zeros(4))


LIBRARY_WRONG_ABI = """
#include "nis/matrix_element.h"
static int info(void *s, nis_process_info *o) { (void)s; (void)o; return 0; }
static int evaluate(void *s, size_t n, const double *p, double *o, char *e, size_t l) {
  (void)s; (void)n; (void)p; (void)o; (void)e; (void)l; return 0; }
static void destroy(void *s) { (void)s; }
int nis_provider_create(const char *process, const char *parameters, nis_provider *out, char *err, size_t errlen) {
  (void)process; (void)parameters; (void)err; (void)errlen;
  out->abi_version = NIS_ABI_VERSION + 98; out->state = 0;
  out->info = info; out->evaluate = evaluate; out->destroy = destroy;
  return NIS_OK;
}
"""

LIBRARY_THAT_FAILS = """
#include <string.h>
#include "nis/matrix_element.h"
static const int pdg[4] = {-11, 11, -13, 13};
static const double masses[4] = {0, 0, 0, 0};
static int info(void *s, nis_process_info *o) {
  (void)s; memset(o, 0, sizeof *o); o->name = "failing"; o->n_in = 2; o->n_out = 2; o->pdg = pdg;
  o->masses = masses; o->average = 0.25; o->symmetry_factor = 1; return 0; }
static int evaluate(void *s, size_t n, const double *p, double *o, char *e, size_t l) {
  (void)s; (void)n; (void)p; (void)o; strncpy(e, "the generator ran out of helicity amplitudes", l - 1);
  return NIS_ERR_INTERNAL; }
static void destroy(void *s) { (void)s; }
int nis_provider_create(const char *process, const char *parameters, nis_provider *out, char *err, size_t errlen) {
  (void)process; (void)parameters; (void)err; (void)errlen;
  out->abi_version = NIS_ABI_VERSION; out->state = 0;
  out->info = info; out->evaluate = evaluate; out->destroy = destroy;
  return NIS_OK;
}
"""


def test_library_load_errors(tmp_path):
    def load(path):
        with pytest.raises(BridgeError) as err:
            MatrixElement(PROCESS, library=path)
        assert err.value.code == "NIS_ERR_LOAD", err.value
        return str(err.value)

    assert "does not exist" in load(tmp_path / "libmissing.so")
    assert "is a directory" in load(tmp_path)
    text = tmp_path / "libtext.so"
    text.write_text("this is not an ELF file\n")
    message = load(text)
    assert "cannot load provider library" in message and str(text) in message
    assert "header" in message or "too short" in message  # dlerror's own words
    no_entry = compile_c("int nis_something_else(void) { return 0; }\n", tmp_path / "libnoentry.so")
    assert "no entry point 'nis_provider_create'" in load(no_entry)
    wrong_abi = compile_c(LIBRARY_WRONG_ABI, tmp_path / "libwrongabi.so")
    assert f"built for nis ABI version {ABI_VERSION + 98}, this bridge speaks version {ABI_VERSION}" in load(wrong_abi)


def test_library_errors_reach_python_with_their_message(tmp_path, example_lib):
    with pytest.raises(BridgeError, match="handles only 'e\\+ e- -> mu\\+ mu-'") as err:
        MatrixElement("e+ e- -> ta+ ta-", library=example_lib)
    assert err.value.code == "NIS_ERR_UNKNOWN_PROCESS"
    failing = MatrixElement(PROCESS, library=compile_c(LIBRARY_THAT_FAILS, tmp_path / "libfails.so"))
    with pytest.raises(BridgeError, match="out of helicity amplitudes") as err:
        failing(ee_mumu_events(3, 10.0, seed=14))
    assert err.value.code == "NIS_ERR_INTERNAL"
    assert math.isclose(failing.info.average, 0.25)
