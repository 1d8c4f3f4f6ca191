"""MadGraph output folders as matrix-element providers (nis.bridge.madgraph, cpp/madgraph).

The folders under tests/data/madgraph are written for these tests in MadGraph's three output
shapes (standalone_cpp, Fortran standalone, CUDACPP standalone), with closed-form helicity
amplitudes and MadGraph's conventions (denominators with the identical-particle factor, mirror
processes, param cards in SLHA format, G_mu scheme). What is checked:

* the adapter gives exactly what the folder's own code gives when called directly (a driver
  compiled against the same sources with the same flags);
* e+ e- -> mu+ mu- through gamma/Z agrees with nis's built-in provider at the card's couplings,
  u u~ -> e+ e- with the built-in e+ e- -> u u~ by crossing (divided by the 9 quark colour
  states), and mirror processes with the swapped momenta;
* the convention: MadGraph divides e+ e- -> a a by 2! for the identical photons, nis' provider
  does not and reports symmetry_factor = 1/2 instead; the analytic 2 e^4 (u/t + t/u);
* errors: incomplete folders name the missing files, a compile failure carries the compiler's
  message and the file, unknown subprocesses and processes list the known ones;
* `nis integrate` on examples/madgraph_ee_mumu.yaml reproduces the analytic cross section and
  the built-in provider's.

Builds go to build/pytest-madgraph (NIS_MADGRAPH_TEST_CACHE moves it), keyed by content, so a
second session reuses them.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nis.bridge import BridgeError, MatrixElement
from nis.bridge import madgraph as mg
from nis.processes.integrand import GEV2_TO_PB

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "madgraph"
BUILD = Path(os.environ.get("NIS_MADGRAPH_TEST_CACHE", ROOT / "build" / "pytest-madgraph"))
CPP, FORTRAN, CUDACPP = DATA / "ee_mumu_cpp", DATA / "ee_mumu_fortran", DATA / "ee_mumu.sa"

pytestmark = pytest.mark.skipif(
    shutil.which("cmake") is None or shutil.which("c++") is None,
    reason="building MadGraph folders needs cmake and a C++17 compiler (apt-get install cmake g++)",
)
needs_gfortran = pytest.mark.skipif(shutil.which("gfortran") is None,
                                    reason="the Fortran standalone folder needs gfortran (apt-get install gfortran)")

# The card's inputs (Cards/param_card.dat of every test folder) and what the G_mu scheme makes of them
AEWM1, GF, MZ, WZ = 132.507, 1.16639e-5, 91.188, 2.441404
ALPHA = 1 / AEWM1
MW = math.sqrt(MZ**2 / 2 + math.sqrt(MZ**4 / 4 - ALPHA * math.pi * MZ**2 / (GF * math.sqrt(2))))
SW2 = 1 - MW**2 / MZ**2
BUILTIN = {"alpha": ALPHA, "mZ": MZ, "wZ": WZ, "sin2w": SW2}


def two_to_two(n: int, sqrt_s: float, seed: int) -> np.ndarray:
    """n massless 2 -> 2 events at sqrt_s, incoming along z, isotropic: shape (n, 4, 4)."""
    rng = np.random.default_rng(seed)
    e = sqrt_s / 2
    c = rng.uniform(-0.98, 0.98, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    s = np.sqrt(1 - c**2)
    p = np.zeros((n, 4, 4))
    p[:, 0] = [e, 0, 0, e]
    p[:, 1] = [e, 0, 0, -e]
    k = np.stack([np.ones(n), s * np.cos(phi), s * np.sin(phi), c], axis=1) * e
    p[:, 2] = k
    p[:, 3] = k * [1, -1, -1, -1]
    return p


def rel(a, b) -> float:
    return float(np.max(np.abs(a - b) / np.abs(b)))


def sigma_mumu(sqrt_s: float) -> float:
    """LO sigma(e+e- -> mu+mu-) via gamma/Z in pb at the card's couplings (vector/axial form)."""
    s = sqrt_s**2
    ve, ae = -0.5 + 2 * SW2, -0.5
    chi = s / ((s - MZ**2 + 1j * MZ * WZ) * 4 * SW2 * (1 - SW2))
    bracket = 1 - 2 * ve * ve * np.real(chi) + (ve**2 + ae**2) ** 2 * abs(chi) ** 2
    return GEV2_TO_PB * 4 * math.pi * ALPHA**2 / (3 * s) * bracket


@pytest.fixture(scope="module")
def cpp_libs():
    return mg.build_madgraph(CPP, build_dir=BUILD)


@pytest.fixture(scope="module")
def fortran_libs():
    if shutil.which("gfortran") is None:
        pytest.skip("the Fortran standalone folder needs gfortran (apt-get install gfortran)")
    return mg.build_madgraph(FORTRAN, build_dir=BUILD)


@pytest.fixture(scope="module")
def cudacpp_libs():
    return mg.build_madgraph(CUDACPP, build_dir=BUILD)


LIBS = {"standalone_cpp": "cpp_libs", "standalone": "fortran_libs", "cudacpp": "cudacpp_libs"}
FOLDERS = {"standalone_cpp": CPP, "standalone": FORTRAN, "cudacpp": CUDACPP}
MUMU = {"standalone_cpp": "P1_Sigma_sm_epem_mupmum", "standalone": "P1_epem_mupmum",
        "cudacpp": "P1_Sigma_sm_epem_mupmum"}


def matrix_element(request, fmt: str, subprocess: str, process: str | None = None, **kw) -> MatrixElement:
    libs = request.getfixturevalue(LIBS[fmt])
    sub = mg.inspect_madgraph(FOLDERS[fmt]).subprocess(subprocess)
    name = process or sub.processes[0].name
    return MatrixElement(name, library=libs[sub.name], **kw)


# --------------------------------------------------------------------------------------------
# What the folders are
# --------------------------------------------------------------------------------------------


def test_the_three_shapes_are_recognised():
    cpp = mg.inspect_madgraph(CPP)
    assert cpp.format == "standalone_cpp"
    assert [s.name for s in cpp.subprocesses] == ["P1_Sigma_sm_epem_mupmum", "P2_Sigma_sm_uux_epem",
                                                 "P3_Sigma_sm_epem_aa"]
    uux = cpp.subprocess("P2")
    by_name = {p.name: p for p in uux.processes}
    # two Process: lines with the same |M|^2, each with MadGraph's own mirror (matrix_element[1])
    assert list(by_name) == ["u u~ -> e+ e-", "c c~ -> e+ e-", "u~ u -> e+ e-", "c~ c -> e+ e-"]
    assert by_name["u~ u -> e+ e-"].me_index == 1 and not by_name["u~ u -> e+ e-"].swap_momenta
    assert by_name["u~ u -> e+ e-"].pdg == (-2, 2, -11, 11)
    assert by_name["u u~ -> e+ e-"].average == pytest.approx(1 / 36)  # 36 = 2 x 2 spins x 3 x 3 colours
    assert all("check_sa" not in p.name for p in uux.sources)  # the check program is not built in
    aa = cpp.subprocess("e+ e- -> a a").processes[0]
    assert (aa.identical, aa.symmetry_factor, aa.average) == (2, 0.5, 0.25)  # MadGraph's 8 = 4 spins x 2!

    fortran = mg.inspect_madgraph(FORTRAN)
    assert fortran.format == "standalone" and fortran.subprocesses[0].smatrix == "SMATRIX"
    names = [p.name for p in fortran.subprocesses[0].processes]
    assert names == ["e+ e- -> mu+ mu-", "e- e+ -> mu+ mu-"]  # the mirror by swapped momenta
    assert fortran.subprocesses[0].processes[1].swap_momenta

    sa = mg.inspect_madgraph(CUDACPP)
    assert sa.format == "cudacpp"
    assert {p.name for p in sa.subprocesses[0].sources} == {"CPPProcess.cc", "MatrixElementKernels.cc"}


def test_process_lines_with_decays_expand_in_madgraph_order(tmp_path):
    lines = mg._process_lines(
        "// Process: c c~ > t t~ e+ e- QED<=2 @1\n// *   Decay: t > b e+ ve QED<=2\n"
        "// *   Decay: t~ > b~ e- ve~ QED<=2\n", tmp_path)
    assert lines == [(["c", "c~"], ["b", "e+", "ve", "b~", "e-", "ve~", "e+", "e-"],
                      "c c~ > t t~ e+ e- QED<=2 @1")]


# --------------------------------------------------------------------------------------------
# The adapter against the folder's own code, called directly
# --------------------------------------------------------------------------------------------

CPP_DRIVER = r"""
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "CPPProcess.h"
// driver CARD N INDEX IN OUT: getMatrixElements()[INDEX] of N events, as check_sa.cpp calls it
int main(int argc, char** argv) {
  if (argc != 6) return 2;
  CPPProcess process;
  process.initProc(argv[1]);
  const long n = atol(argv[2]);
  const int k = atoi(argv[3]), np = CPPProcess::nexternal;
  std::vector<double> p(n * np * 4), out(n);
  FILE* f = fopen(argv[4], "rb");
  if (!f || fread(p.data(), sizeof(double), p.size(), f) != p.size()) return 3;
  fclose(f);
  std::vector<double*> momenta(np);
  for (long e = 0; e < n; ++e) {
    for (int i = 0; i < np; ++i) momenta[i] = &p[(e * np + i) * 4];
    process.setMomenta(momenta);
    process.sigmaKin();
    out[e] = process.getMatrixElements()[k];
  }
  f = fopen(argv[5], "wb");
  fwrite(out.data(), sizeof(double), n, f);
  fclose(f);
}
"""

FORTRAN_DRIVER = """\
      PROGRAM NISDRIVER
C     driver CARD N IN OUT: SMATRIX of N events, as check_sa.f calls it
      IMPLICIT NONE
      INCLUDE 'nexternal.inc'
      CHARACTER*512 CARD,FIN,FOUT,ARG
      INTEGER N,E
      REAL*8 P(0:3,NEXTERNAL),ANS
      CALL GET_COMMAND_ARGUMENT(1,CARD)
      CALL GET_COMMAND_ARGUMENT(2,ARG)
      READ(ARG,*) N
      CALL GET_COMMAND_ARGUMENT(3,FIN)
      CALL GET_COMMAND_ARGUMENT(4,FOUT)
      CALL SETPARA(CARD(1:LEN_TRIM(CARD)))
      OPEN(10,FILE=FIN,ACCESS='STREAM',FORM='UNFORMATTED',STATUS='OLD')
      OPEN(11,FILE=FOUT,ACCESS='STREAM',FORM='UNFORMATTED',STATUS='REPLACE')
      DO E=1,N
        READ(10) P
        CALL SMATRIX(P,ANS)
        WRITE(11) ANS
      ENDDO
      CLOSE(10)
      CLOSE(11)
      END
"""

CUDACPP_DRIVER = r"""
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "Bridge.h"
// driver N IN OUT (run in the P1 folder): the Bridge on all N events in one call
int main(int argc, char** argv) {
  using namespace mg5amcCpu;
  if (argc != 4) return 2;
  const unsigned n = atoi(argv[1]);
  std::vector<double> p(n * CPPProcess::npar * 4), mes(n), gs(n, 1.2177157847767195), rnd(n, 0.5);
  std::vector<unsigned> flavour(n, 0);
  std::vector<int> selhel(n), selcol(n);
  FILE* f = fopen(argv[2], "rb");
  if (!f || fread(p.data(), sizeof(double), p.size(), f) != p.size()) return 3;
  fclose(f);
  Bridge<double> bridge(n, CPPProcess::npar, CPPProcess::np4);
  bridge.cpu_sequence(p.data(), gs.data(), flavour.data(), rnd.data(), rnd.data(), nullptr, mes.data(),
                      selhel.data(), selcol.data(), false);
  f = fopen(argv[3], "wb");
  fwrite(mes.data(), sizeof(double), n, f);
  fclose(f);
}
"""


def driver(fmt: str, subprocess_name: str) -> Path:
    """The direct route, compiled once per content (BUILD/drivers/<hash>/driver)."""
    out = mg.inspect_madgraph(FOLDERS[fmt])
    sub = out.subprocess(subprocess_name)
    flags = mg.compiler_flags(fmt)
    text = {"standalone_cpp": CPP_DRIVER, "standalone": FORTRAN_DRIVER, "cudacpp": CUDACPP_DRIVER}[fmt]
    sources = [*out.common_sources, *sub.sources]
    h = hashlib.sha256((text + " ".join(flags) + str(sub.directory)).encode())
    for p in sources + sorted(sub.directory.glob("*")) + sorted(out.path.glob("src/*")):
        if p.is_file():
            h.update(p.read_bytes())
    home = BUILD / "drivers" / h.hexdigest()[:16]
    exe = home / "driver"
    if exe.exists():
        return exe
    home.mkdir(parents=True, exist_ok=True)
    if fmt == "standalone":
        main = home / "driver.f"
        main.write_text(text)
        cmd = ["gfortran", "-O2", "-w", "-ffixed-line-length-132", *(f"-I{d}" for d in sub.includes),
               str(main), *map(str, sources)]
    else:
        main = home / "driver.cc"
        main.write_text(text)
        defines = ["-DMGONGPU_FPTYPE_DOUBLE", "-DMGONGPU_FPTYPE2_DOUBLE"] if fmt == "cudacpp" else []
        cmd = ["c++", "-std=c++17", *flags, "-w", *defines, *(f"-I{d}" for d in sub.includes), str(main),
               *map(str, sources)]
    subprocess.run([*cmd, "-o", str(exe) + ".tmp"], check=True, capture_output=True, timeout=300)
    os.replace(str(exe) + ".tmp", exe)
    return exe


def run_driver(fmt: str, subprocess_name: str, p: np.ndarray, index: int, tmp_path: Path) -> np.ndarray:
    exe = driver(fmt, subprocess_name)
    out = mg.inspect_madgraph(FOLDERS[fmt])
    sub = out.subprocess(subprocess_name)
    fin, fout = tmp_path / "in.bin", tmp_path / "out.bin"
    np.ascontiguousarray(p, dtype=np.float64).tofile(fin)
    n = str(len(p))
    args = {"standalone_cpp": [str(out.param_card), n, str(index), str(fin), str(fout)],
            "standalone": [str(out.param_card), n, str(fin), str(fout)],
            "cudacpp": [n, str(fin), str(fout)]}[fmt]
    subprocess.run([str(exe), *args], check=True, capture_output=True, cwd=sub.directory, timeout=120)
    return np.fromfile(fout, dtype=np.float64)


@pytest.mark.parametrize(
    "fmt, subprocess_name, process, index, identical",
    [
        ("standalone_cpp", "P1_Sigma_sm_epem_mupmum", "e+ e- -> mu+ mu-", 0, 1),
        ("standalone_cpp", "P2_Sigma_sm_uux_epem", "u u~ -> e+ e-", 0, 1),
        ("standalone_cpp", "P2_Sigma_sm_uux_epem", "u~ u -> e+ e-", 1, 1),  # MadGraph's own mirror
        ("standalone_cpp", "P3_Sigma_sm_epem_aa", "e+ e- -> a a", 0, 2),  # x 2!: MadGraph divides by it
        pytest.param("standalone", "P1_epem_mupmum", "e+ e- -> mu+ mu-", 0, 1, marks=needs_gfortran),
        ("cudacpp", "P1_Sigma_sm_epem_mupmum", "e+ e- -> mu+ mu-", 0, 1),
    ],
)
def test_adapter_gives_exactly_what_the_folder_computes(request, tmp_path, fmt, subprocess_name, process, index,
                                                        identical):
    """Bit for bit: the same sources, the same flags, the adapter only moves the numbers (times
    n! for identical final-state particles, which is exact)."""
    p = two_to_two(512, 200.0, seed=11)
    me = matrix_element(request, fmt, subprocess_name, process)
    direct = run_driver(fmt, subprocess_name, p, index, tmp_path)
    assert np.all(direct > 0)
    np.testing.assert_array_equal(me(p), direct * identical)


# --------------------------------------------------------------------------------------------
# Physics against nis's built-in provider and closed forms
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["standalone_cpp", pytest.param("standalone", marks=needs_gfortran), "cudacpp"])
@pytest.mark.parametrize("sqrt_s", [91.188, 200.0])
def test_ee_mumu_agrees_with_the_builtin_provider(request, fmt, sqrt_s):
    """The card's G_mu-scheme couplings (alpha = 1/aEWM1, sin^2 theta_W = 1 - MW^2/MZ^2) in nis'
    built-in gamma/Z provider: agreement to rounding."""
    p = two_to_two(2000, sqrt_s, seed=5)
    me = matrix_element(request, fmt, MUMU[fmt])
    builtin = MatrixElement("e+ e- -> mu+ mu-", BUILTIN)
    assert me.info.pdg_in == (-11, 11) and me.info.pdg_out == (-13, 13)
    assert me.info.masses == (0.0,) * 4 and me.info.average == 0.25 and me.info.symmetry_factor == 1.0
    assert (me.info.order_qcd, me.info.order_qed) == (0, 2)
    assert rel(me(p), builtin(p)) < 1e-12


@pytest.mark.parametrize("fmt", ["standalone_cpp", pytest.param("standalone", marks=needs_gfortran), "cudacpp"])
def test_mirror_is_the_process_with_swapped_momenta(request, fmt):
    p = two_to_two(300, 200.0, seed=8)
    me = matrix_element(request, fmt, MUMU[fmt])
    mirror = matrix_element(request, fmt, MUMU[fmt], "e- e+ -> mu+ mu-")
    assert mirror.info.pdg_in == (11, -11)
    np.testing.assert_array_equal(mirror(p[:, [1, 0, 2, 3]].copy()), me(p))


def test_quark_processes_by_crossing_and_their_mirrors(request):
    """u(1) u~(2) -> e+(3) e-(4) is e+(3) e-(4) -> u(1) u~(2) by time reversal: the built-in
    e+ e- -> u u~, averaged over 3 x 3 quark colours instead of none (1/9). c c~ shares it.
    MadGraph's mirror u~ u -> e+ e- (its matrix_element[1]) is the same at swapped momenta."""
    p = two_to_two(1000, 200.0, seed=2)
    uux = matrix_element(request, "standalone_cpp", "P2", "u u~ -> e+ e-")
    ccx = matrix_element(request, "standalone_cpp", "P2", "c c~ -> e+ e-")
    uxu = matrix_element(request, "standalone_cpp", "P2", "u~ u -> e+ e-")
    crossed = MatrixElement("e+ e- -> u u~", dict(BUILTIN, z_exchange=1.0))(p[:, [2, 3, 0, 1]].copy()) / 9
    assert rel(uux(p), crossed) < 1e-12
    np.testing.assert_array_equal(ccx(p), uux(p))
    np.testing.assert_allclose(uxu(p[:, [1, 0, 2, 3]].copy()), uux(p), rtol=1e-15, atol=0)
    assert uux.info.average == pytest.approx(1 / 36) and uxu.info.pdg_in == (-2, 2)


def test_identical_photons_symmetry_factor_is_reported_not_applied(request):
    """MadGraph's e+ e- -> a a is (1/4) sum |M|^2 / 2!; nis' provider gives (1/4) sum |M|^2 =
    2 e^4 (u/t + t/u) and symmetry_factor 1/2, which the integrand multiplies in: the same
    cross section as MadGraph's."""
    p = two_to_two(1000, 200.0, seed=4)
    me = matrix_element(request, "standalone_cpp", "P3")
    assert me.info.symmetry_factor == 0.5 and me.info.average == 0.25 and me.info.pdg_out == (22, 22)
    t = -2 * (p[:, 1, 0] * p[:, 2, 0] - np.einsum("ni,ni->n", p[:, 1, 1:], p[:, 2, 1:]))
    u = -2 * (p[:, 1, 0] * p[:, 3, 0] - np.einsum("ni,ni->n", p[:, 1, 1:], p[:, 3, 1:]))
    e2 = 4 * math.pi * ALPHA
    assert rel(me(p), 2 * e2**2 * (u / t + t / u)) < 1e-13


@pytest.mark.parametrize("fmt", ["standalone_cpp", "cudacpp"])
def test_threads_split_large_batches_without_changing_a_bit(request, fmt):
    """standalone_cpp serialises (its statics), cudacpp runs one Bridge per thread; both give the
    same numbers on 2 threads as on 1, also across the Bridge's 256-event pages."""
    p = two_to_two(10_001, 91.188, seed=6)
    me = matrix_element(request, fmt, MUMU[fmt])
    np.testing.assert_array_equal(me.evaluate(p, threads=2), me.evaluate(p, threads=1))
    np.testing.assert_array_equal(me(p[:3]), me(p)[:3])


def test_cudacpp_floating_point_traps_do_not_leak_into_python(cudacpp_libs):
    """CUDACPP's CPPProcess switches on SIGFPE traps; after creating and evaluating the matrix
    element, numpy's 0/0 must still give nan, not kill the interpreter."""
    code = (
        "import numpy as np, sys\n"
        "from nis.bridge import MatrixElement\n"
        f"me = MatrixElement('e+ e- -> mu+ mu-', library={str(cudacpp_libs['P1_Sigma_sm_epem_mupmum'])!r})\n"
        "p = np.zeros((1, 4, 4)); p[0] = [[100, 0, 0, 100], [100, 0, 0, -100], [100, 100, 0, 0], [100, -100, 0, 0]]\n"
        "me(p)\n"
        "with np.errstate(all='ignore'):\n"
        "    x = np.zeros(1) / np.zeros(1)\n"
        "print('alive', x[0])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "alive nan" in done.stdout, done.stderr


BRIDGE_VERSIONS = r"""
#include <cstdio>
#include "nis_mg_bridge_api.hpp"
// One fake Bridge per version of the CUDACPP plugin's cpu_sequence (newest first)
struct A { int called = 0;
  void cpu_sequence(const double*, const double*, const unsigned* fl, const double*, const double*,
                    const unsigned* ch, double* mes, int*, int*, const bool = false) {
    called = ch == nullptr && fl[0] == 0 ? 1 : -1; mes[0] = 1; } };
struct B { int called = 0;
  void cpu_sequence(const double*, const double*, const double*, const double*, const unsigned* ch,
                    double* mes, int*, int*, const bool = false) { called = ch == nullptr ? 2 : -1; mes[0] = 2; } };
struct C { int called = 0;
  void cpu_sequence(const double*, const double*, const double*, const double*, const unsigned ch,
                    double* mes, int*, int*, const bool = false) { called = ch == 0 ? 3 : -1; mes[0] = 3; } };
struct D { int called = 0;
  void cpu_sequence(const double*, const double*, double* mes, const unsigned ch, const bool = false) {
    called = ch == 0 ? 4 : -1; mes[0] = 4; } };
#ifdef UNKNOWN
struct E { void cpu_sequence(const double*, double*) {} };
#endif
int main() {
  double gs[1] = {1}, rnd[1] = {0.5}, mes[1] = {0};
  unsigned flavour[1] = {0};
  int selhel[1], selcol[1];
  const nis_mg::BridgeBuffers b{gs, flavour, rnd, rnd, mes, selhel, selcol};
  A a; B bb; C c; D d;
  nis_mg::bridge_sequence(a, gs, b);
  nis_mg::bridge_sequence(bb, gs, b);
  nis_mg::bridge_sequence(c, gs, b);
  nis_mg::bridge_sequence(d, gs, b);
#ifdef UNKNOWN
  E e;
  nis_mg::bridge_sequence(e, gs, b);
#endif
  std::printf("%d %d %d %d %g\n", a.called, bb.called, c.called, d.called, mes[0]);
}
"""


def test_every_known_bridge_signature_is_called_and_an_unknown_one_is_named(tmp_path):
    """The CUDACPP Bridge's cpu_sequence changed four times between plugin versions; the adapter
    picks the one a Bridge has at compile time (multichannel off), and names the problem when a
    Bridge has none of them."""
    src = tmp_path / "versions.cc"
    src.write_text(BRIDGE_VERSIONS)
    cmd = ["c++", "-std=c++17", "-Wall", "-Wextra", "-Werror", f"-I{mg.ADAPTER_DIR}", str(src)]
    subprocess.run([*cmd, "-o", str(tmp_path / "versions")], check=True, capture_output=True, timeout=120)
    done = subprocess.run([str(tmp_path / "versions")], check=True, capture_output=True, text=True)
    assert done.stdout.split() == ["1", "2", "3", "4", "4"]
    failed = subprocess.run([*cmd, "-DUNKNOWN", "-fsyntax-only"], check=False, capture_output=True, text=True)
    assert failed.returncode != 0 and "sequence() signature nis does not know" in failed.stderr


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def copy(folder: Path, tmp_path: Path, keep: str | None = None) -> Path:
    out = tmp_path / folder.name
    shutil.copytree(folder, out)
    if keep:
        for p in (out / "SubProcesses").glob("P*"):
            if p.name != keep:
                shutil.rmtree(p)
    return out


@pytest.mark.parametrize(
    "folder, remove, expected",
    [
        (CPP, ["src/read_slha.cc", "SubProcesses/P1_Sigma_sm_epem_mupmum/CPPProcess.cc"],
         ["standalone_cpp", "src/read_slha.cc", "SubProcesses/P1_Sigma_sm_epem_mupmum/CPPProcess.cc"]),
        (FORTRAN, ["SubProcesses/P1_epem_mupmum/pmass.inc", "Cards/param_card.dat"],
         ["standalone", "SubProcesses/P1_epem_mupmum/pmass.inc", "Cards/param_card.dat"]),
        (CUDACPP, ["SubProcesses/Bridge.h", "src/mgOnGpuConfig.h"],
         ["cudacpp", "SubProcesses/Bridge.h", "src/mgOnGpuConfig.h"]),
        (CPP, ["SubProcesses"], ["SubProcesses/"]),
    ],
)
def test_incomplete_folders_name_the_missing_files(tmp_path, folder, remove, expected):
    out = copy(folder, tmp_path)
    for rel_path in remove:
        target = out / rel_path
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(BridgeError) as err:
        mg.build_madgraph(out, build_dir=tmp_path / "cache")
    assert err.value.code == "NIS_ERR_LOAD" and "incomplete" in str(err.value)
    for text in expected:
        assert text in str(err.value)


def test_a_folder_that_is_not_there_and_bad_options(tmp_path):
    with pytest.raises(BridgeError, match="does not exist"):
        mg.madgraph_matrix_element(tmp_path / "nothing")
    with pytest.raises(BridgeError, match="simd must be one of"):
        mg.build_madgraph(CUDACPP, simd="avx3", build_dir=tmp_path)
    with pytest.raises(BridgeError, match="backend='cuda' needs CUDACPP output"):
        mg.build_madgraph(CPP, backend="cuda", build_dir=tmp_path)


def test_compile_failure_shows_the_compilers_message_and_file(tmp_path):
    out = copy(CPP, tmp_path, keep="P1_Sigma_sm_epem_mupmum")
    source = out / "SubProcesses" / "P1_Sigma_sm_epem_mupmum" / "CPPProcess.cc"
    source.write_text(source.read_text().replace("  ntry = ntry + 1;", "  ntry = ntry + undeclared_helper;"))
    with pytest.raises(BridgeError) as err:
        mg.build_madgraph(out, build_dir=tmp_path / "cache", jobs=2)
    message = str(err.value)
    assert err.value.code == "NIS_ERR_LOAD"
    assert "SubProcesses/P1_Sigma_sm_epem_mupmum/CPPProcess.cc" in message
    assert "error:" in message and "undeclared_helper" in message and "was not declared" in message
    assert "Traceback" not in message and "build.log" in message
    assert any((tmp_path / "cache").glob("*/build.log"))


@needs_gfortran
def test_fortran_compile_failure_shows_gfortrans_message(tmp_path):
    out = copy(FORTRAN, tmp_path)
    matrix = out / "SubProcesses" / "P1_epem_mupmum" / "matrix.f"
    matrix.write_text(matrix.read_text().replace("      ANS=ANS/DBLE(IDEN)", "      ANS=ANS/DBLE(IDEN"))
    with pytest.raises(BridgeError) as err:
        mg.build_madgraph(out, build_dir=tmp_path / "cache", jobs=2)
    message = str(err.value)
    assert "SubProcesses/P1_epem_mupmum/matrix.f" in message and "Error:" in message
    assert "ANS=ANS/DBLE(IDEN" in message


def test_unknown_subprocess_and_process_list_the_known_ones():
    with pytest.raises(BridgeError) as err:
        mg.madgraph_matrix_element(CPP, "P9_nothing")
    assert err.value.code == "NIS_ERR_UNKNOWN_PROCESS"
    for name in ("P1_Sigma_sm_epem_mupmum (e+ e- -> mu+ mu-)", "P2_Sigma_sm_uux_epem", "P3_Sigma_sm_epem_aa"):
        assert name in str(err.value)
    with pytest.raises(BridgeError, match="has 3 subprocesses; choose one with subprocess"):
        mg.madgraph_matrix_element(CPP)
    with pytest.raises(BridgeError, match=r"does not compute 'e\+ e- -> ta\+ ta-'; it answers 'e\+ e- -> mu\+ mu-'"):
        mg.madgraph_matrix_element(CPP, "P1", "e+ e- -> ta+ ta-")


def test_the_library_refuses_unknown_processes_and_parameters(cpp_libs):
    lib = cpp_libs["P1_Sigma_sm_epem_mupmum"]
    with pytest.raises(BridgeError, match="param card") as err:
        MatrixElement("e+ e- -> mu+ mu-", {"alpha": 0.01}, library=lib)
    assert err.value.code == "NIS_ERR_BAD_PARAMETER"
    with pytest.raises(BridgeError, match="answers 'e\\+ e- -> mu\\+ mu-'; 'e- e\\+ -> mu\\+ mu-'") as err:
        MatrixElement("e+ e- -> ta+ ta-", library=lib)
    assert err.value.code == "NIS_ERR_UNKNOWN_PROCESS"


# --------------------------------------------------------------------------------------------
# The build cache
# --------------------------------------------------------------------------------------------


def test_a_second_build_is_a_cache_hit(cpp_libs, monkeypatch):
    def no_compiler(*args, **kwargs):
        raise AssertionError(f"rebuilt: {args}")

    monkeypatch.setattr(mg._subprocess, "run", no_compiler)
    assert mg.build_madgraph(CPP, build_dir=BUILD) == cpp_libs
    assert mg.build_madgraph(CPP, "P3", build_dir=BUILD) == {"P3_Sigma_sm_epem_aa": cpp_libs["P3_Sigma_sm_epem_aa"]}


def test_the_build_key_follows_the_sources_not_the_card(tmp_path):
    out = copy(CPP, tmp_path)
    options = {"format": "standalone_cpp", "simd": "none", "backend": "cpp"}

    def key():
        return mg._build_key(mg.inspect_madgraph(out), options)

    first = key()
    card = out / "Cards" / "param_card.dat"
    card.write_text(card.read_text().replace("1.325070e+02", "1.280000e+02"))
    assert key() == first  # the card is read at run time
    source = out / "SubProcesses" / "P3_Sigma_sm_epem_aa" / "CPPProcess.cc"
    source.write_text(source.read_text() + "\n// changed\n")
    assert key() != first
    assert mg._build_key(mg.inspect_madgraph(out), dict(options, simd="avx2")) != key()


# --------------------------------------------------------------------------------------------
# Configs and `nis integrate`
# --------------------------------------------------------------------------------------------


def test_config_keys_for_madgraph():
    from nis.config import ConfigError
    from nis.processes.spec import ProcessConfig

    ok = ProcessConfig.from_mapping({"matrix_element": {"provider": "madgraph", "path": "x", "subprocess": "P1"},
                                     "sqrt_s": 91.188})
    assert ok.provider == "madgraph" and ok.madgraph == {"path": "x", "subprocess": "P1"} and ok.matrix_element == ""
    bad = [
        ({"provider": "madgraph", "path": "x", "subproces": "P1"}, {}, "unknown MadGraph key(s) ['subproces']"),
        ({"provider": "madgraph"}, {}, "needs path"),
        ({"provider": "madgraph", "path": "x"}, {"parameters": {"alpha": 0.01}}, "param_card.dat"),
        ({"provider": "madgraph", "path": "x"}, {"library": "lib.so"}, "exclude each other"),
        ({"provider": "madgraf", "process": "e+ e- -> mu+ mu-"}, {}, "provider must be builtin, sherpa or madgraph"),
    ]
    for me, extra, message in bad:
        with pytest.raises(ConfigError) as err:
            ProcessConfig.from_mapping({"matrix_element": me, "sqrt_s": 91.188, **extra})
        assert message in str(err.value)


def test_the_three_shapes_give_one_integrand(request):
    """provider: madgraph in a config, for each shape: the process comes from the folder, and the
    integrand (phase space x |M|^2 x symmetry factor, in pb) is the same to rounding."""
    import torch

    from nis.integrands import make_integrand

    u = torch.rand(500, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    values = {}
    for fmt in ("standalone_cpp", "standalone", "cudacpp"):
        if fmt == "standalone" and shutil.which("gfortran") is None:
            continue
        request.getfixturevalue(LIBS[fmt])  # built once per session
        spec = {"matrix_element": {"provider": "madgraph", "path": str(FOLDERS[fmt]), "subprocess": "P1",
                                   "build_dir": str(BUILD)}, "sqrt_s": 91.188}
        f = make_integrand(spec)
        assert f.config.matrix_element == "e+ e- -> mu+ mu-" and f.n_channels == 1
        values[fmt] = f.evaluate(u, 0).value.numpy()
    for fmt, v in values.items():
        assert rel(v, values["standalone_cpp"]) < 1e-13, fmt


def test_nis_integrate_on_the_example_config(cpp_libs, tmp_path, monkeypatch, capsys):
    """sigma(e+e- -> mu+mu-) at the Z pole through MadGraph's matrix element: the analytic value
    and the built-in provider's, within errors."""
    from nis.cli import main
    from nis.config import IntegrationConfig, TrainingConfig
    from nis.integrands import make_integrand
    from nis.integrator import Integrator

    monkeypatch.setenv("NIS_MADGRAPH_CACHE", str(BUILD))  # the example config names no build_dir
    monkeypatch.chdir(ROOT)  # its path is relative to the repository root
    out = tmp_path / "mg.json"
    code = main(["integrate", "examples/madgraph_ee_mumu.yaml", "--seed", "3", "--calls", "5000", "--json", str(out),
                 "--checkpoint", "none", "--quiet"])
    assert code == 0, capsys.readouterr().err
    r = json.loads(out.read_text())
    exact = sigma_mumu(91.188)
    assert r["process"] == "madgraph_ee_mumu" and r["error_pb"] < 1e-3 * exact
    assert abs(r["cross_section_pb"] - exact) < 3 * r["error_pb"], (r["cross_section_pb"], r["error_pb"], exact)

    spec = {"matrix_element": "e+ e- -> mu+ mu-", "sqrt_s": 91.188, "parameters": BUILTIN}
    builtin = Integrator(make_integrand(spec), training=TrainingConfig(calls=5000),
                         integration=IntegrationConfig(calls=100_000, validation_calls=20_000), seed=3).run().estimate
    both = math.hypot(r["error_pb"], builtin.error)
    assert abs(r["cross_section_pb"] - builtin.integral) < 3 * both, (r["cross_section_pb"], builtin.integral, both)
