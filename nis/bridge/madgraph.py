"""MadGraph matrix elements through the bridge: point nis at a MadGraph output folder.

>>> from nis.bridge.madgraph import madgraph_matrix_element
>>> me = madgraph_matrix_element("ee_mumu_cpp", "P1_Sigma_sm_epem_mupmum")  # doctest: +SKIP
>>> me(momenta)  # float64 (n, 4, 4), (E, px, py, pz), GeV -> |M|^2, shape (n,)  # doctest: +SKIP

Three output shapes are recognised from the folder's files (:func:`inspect_madgraph`):

``standalone_cpp`` (``output standalone_cpp DIR``)
    ``SubProcesses/P*/CPPProcess.{h,cc}``, ``src/`` (``Parameters_*``, ``HelAmps_*``,
    ``read_slha``), ``Cards/param_card.dat``.
``standalone`` (``output standalone DIR``, Fortran)
    ``SubProcesses/P*/matrix.f`` with ``SUBROUTINE SMATRIX(P, ANS)``, ``nexternal.inc``,
    ``pmass.inc``, ``Source/MODEL`` (``SETPARA``, couplings), ``Source/DHELAS``.
``cudacpp`` (the CUDACPP plugin's standalone output, the ``*.sa`` folders of madgraph4gpu)
    ``SubProcesses/P1_*/CPPProcess.{h,cc}``, ``SubProcesses/Bridge.h``,
    ``MatrixElementKernels.*``, ``src/mgOnGpuConfig.h``, ``src/Parameters_*``; built for C++/SIMD
    (``simd=``) or, with ``backend="cuda"`` and nvcc, for CUDA.

:func:`build_madgraph` compiles every subprocess (or the one asked for) into its own provider
library ``libnis_mg_<P>.so`` (the folder's sources plus nis's adapter in ``cpp/madgraph``, through
CMake) and caches it under ``~/.cache/nis/madgraph/<folder>-<hash>`` (or ``build_dir``), keyed
by the folder's path, the content of its sources, nis's adapter and the build options: a changed
source means a new build, an unchanged folder none. The param card is read when a matrix element
is created, so editing ``Cards/param_card.dat`` needs no rebuild (and nis' ``parameters`` are
refused: the card is the one place for them).

A subprocess library answers the processes its folder lists (``Process:`` lines, all with the
same |M|^2) and their mirrors (the two incoming particles swapped: MadGraph's own mirror
process where ``nprocesses == 2`` in standalone_cpp, swapped momenta otherwise).

Convention (``cpp/include/nis/matrix_element.h``): nis' |M|^2 excludes the final-state symmetry
factor, which the integrand applies from ``info.symmetry_factor``; MadGraph's includes it (its
denominators are spins x colours x identical particles). The provider multiplies MadGraph's
value by ``prod_k n_k!`` over identical final-state particles and reports ``symmetry_factor``
as its inverse, so a cross section comes out as MadGraph's. ``info.average`` is
``prod_k n_k! / IDEN`` with MadGraph's denominator ``IDEN`` (= ``1 / (initial spins x colours)``).

Every failure is a :class:`~nis.bridge.BridgeError`: an incomplete folder names the missing
files, a compile failure carries the compiler's message and the offending file (the whole log
is kept in the build folder), an unknown subprocess or process lists the known ones.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import math
import os
import platform
import re
import shutil
import subprocess as _subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import BridgeError

FORMATS = ("standalone_cpp", "standalone", "cudacpp")
SIMD_LEVELS = ("auto", "none", "sse4", "avx2", "512y", "512z", "native")
BACKENDS = ("cpp", "cuda")

#: nis' C++ sources: the adapter (cpp/madgraph) and the interface header (cpp/include)
_CPP = Path(__file__).resolve().parents[2] / "cpp"
ADAPTER_DIR = Path(os.environ.get("NIS_MADGRAPH_ADAPTER_DIR", _CPP / "madgraph"))
INCLUDE_DIR = Path(os.environ.get("NIS_INCLUDE_DIR", _CPP / "include"))

LOAD, UNKNOWN = "NIS_ERR_LOAD", "NIS_ERR_UNKNOWN_PROCESS"

#: MadGraph sm particle names -> (PDG id, spin states, colour states)
PARTICLES: dict[str, tuple[int, int, int]] = {}
for _i, _q in enumerate(("d", "u", "s", "c", "b", "t"), start=1):
    PARTICLES[_q] = (_i, 2, 3)
    PARTICLES[_q + "~"] = (-_i, 2, 3)
for _i, (_lep, _nu) in zip((11, 13, 15), (("e", "ve"), ("mu", "vm"), ("ta", "vt"))):
    PARTICLES[_lep + "-"] = (_i, 2, 1)
    PARTICLES[_lep + "+"] = (-_i, 2, 1)
    PARTICLES[_nu] = (_i + 1, 2, 1)
    PARTICLES[_nu + "~"] = (-_i - 1, 2, 1)
PARTICLES.update({"g": (21, 2, 8), "a": (22, 2, 1), "z": (23, 3, 1), "w+": (24, 3, 1), "w-": (-24, 3, 1),
                  "h": (25, 1, 1)})

# Files whose content goes into the build key (the folder's sources and makefiles).
_SOURCE_SUFFIXES = {".h", ".hh", ".hpp", ".cc", ".cpp", ".cxx", ".c", ".cu", ".f", ".F", ".f90", ".F90", ".inc",
                    ".mk"}
_SOURCE_NAMES = {"makefile", "Makefile", "GNUmakefile"}
# cudacpp files that are programs, tests, Fortran bridges or random-number/sampling kernels (the
# plugin links them into every P1_* folder), not the matrix element
_CUDACPP_SKIP = re.compile(r"^(check_sa|runTest|testxxx|testmisc|fsampler|fbridge|BridgeKernels|RamboSamplingKernels"
                           r"|\w*RandomNumberKernels?)\.cc$")
_MAIN = re.compile(r"\bint\s+main\s*\(")
_P_NAME = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class MadGraphProcess:
    """One process a subprocess library computes.

    name: nis syntax, e.g. ``"u~ u -> e+ e-"``; pdg: PDG ids, incoming first.
    mirror: the incoming particles in the opposite order to MadGraph's process.
    identical: ``prod_k n_k!`` over identical final-state particles (the provider multiplies
    MadGraph's |M|^2 by it; ``symmetry_factor = 1 / identical``).
    average: ``1 / (initial spins x colours)`` (applied, as MadGraph does).
    """

    name: str
    pdg: tuple[int, ...]
    mirror: bool
    identical: int
    average: float
    order_qcd: int
    order_qed: int
    me_index: int = 0  # standalone_cpp: entry of getMatrixElements() (1: MadGraph's mirror)
    swap_momenta: bool = False  # swap the incoming momenta before calling MadGraph

    @property
    def symmetry_factor(self) -> float:
        return 1.0 / self.identical


@dataclass(frozen=True)
class Subprocess:
    """One ``SubProcesses/P*`` folder: one provider library."""

    name: str  #: folder name, e.g. ``P1_Sigma_sm_epem_mupmum``
    directory: Path
    n_initial: int
    n_external: int
    processes: tuple[MadGraphProcess, ...]  #: MadGraph's processes first, then their mirrors
    sources: tuple[Path, ...]  #: compiled into this subprocess's library only
    includes: tuple[Path, ...]  #: its include directories
    smatrix: str = ""  #: standalone: the SMATRIX routine's name in matrix.f

    def find(self, process: str) -> MadGraphProcess:
        """The process ``process`` (``"e+ e- -> mu+ mu-"`` or MadGraph's ``"e+ e- > mu+ mu-"``)."""
        wanted = _normalise(process)
        for p in self.processes:
            if p.name == wanted:
                return p
        raise BridgeError(
            f"MadGraph subprocess {self.name} does not compute {process!r}; it answers "
            + ", ".join(repr(p.name) for p in self.processes),
            UNKNOWN,
        )


@dataclass(frozen=True)
class MadGraphOutput:
    """What :func:`inspect_madgraph` finds in a MadGraph output folder."""

    path: Path  #: the folder, absolute
    format: str  #: one of :data:`FORMATS`
    param_card: Path
    subprocesses: tuple[Subprocess, ...]
    common_sources: tuple[Path, ...]  #: the model, compiled once for all subprocesses
    common_includes: tuple[Path, ...]

    def subprocess(self, which: str | None = None, process: str | None = None) -> Subprocess:
        """The subprocess ``which`` names: its folder name (``P1_Sigma_sm_epem_mupmum``), a prefix
        up to an underscore (``P1``) or one of its processes (``"e+ e- -> mu+ mu-"``); None: the
        only one, or the one that computes ``process``."""
        subs = self.subprocesses
        if which is None and process is not None:
            hits = [s for s in subs if any(p.name == _normalise(process) for p in s.processes)]
            if len(hits) == 1:
                return hits[0]
        if which is None:
            if len(subs) == 1:
                return subs[0]
            raise BridgeError(
                f"the MadGraph output {self.path} has {len(subs)} subprocesses; choose one with subprocess "
                f"(in a config: subprocess: NAME; available: {self._catalogue()})",
                UNKNOWN,
            )
        for s in subs:
            if s.name == which:
                return s
        hits = [s for s in subs if s.name.startswith(which + "_")]
        if not hits and ("->" in which or ">" in which.split()):
            hits = [s for s in subs if any(p.name == _normalise(which) for p in s.processes)]
        if len(hits) == 1:
            return hits[0]
        raise BridgeError(
            f"the MadGraph output {self.path} has no subprocess {which!r}"
            + (" (several match)" if hits else "")
            + f"; available: {self._catalogue()}",
            UNKNOWN,
        )

    def _catalogue(self) -> str:
        return "; ".join(f"{s.name} ({', '.join(p.name for p in s.processes if not p.mirror)})"
                         for s in self.subprocesses)


# --------------------------------------------------------------------------------------------
# Inspecting a folder
# --------------------------------------------------------------------------------------------


def inspect_madgraph(path: str | os.PathLike) -> MadGraphOutput:
    """Recognise the output shape of the MadGraph folder ``path`` and read its subprocesses.

    Raises :class:`BridgeError` (``NIS_ERR_LOAD``) naming every expected file that is missing,
    or what could not be read (e.g. a particle name nis does not know).
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise BridgeError(f"MadGraph output folder '{path}' does not exist (give the folder that "
                          "`output standalone_cpp|standalone|... DIR` wrote)", LOAD)
    root = root.resolve()
    sub = root / "SubProcesses"
    pdirs = sorted(p for p in sub.glob("P*") if p.is_dir()) if sub.is_dir() else []
    if not pdirs:
        raise BridgeError(
            f"MadGraph output folder {root} is incomplete: missing "
            + ("SubProcesses/" if not sub.is_dir() else "a subprocess folder SubProcesses/P*/")
            + "; expected the output of `output standalone_cpp DIR`, `output standalone DIR` or the CUDACPP "
            "plugin's standalone output",
            LOAD,
        )
    fmt = _detect_format(root, pdirs)
    _check_complete(root, fmt, pdirs)
    reader = {"standalone_cpp": _read_cpp, "standalone": _read_fortran, "cudacpp": _read_cudacpp}[fmt]
    subprocesses = tuple(reader(root, p) for p in pdirs)
    if fmt == "standalone":
        model = sorted(p for p in (root / "Source" / "MODEL").glob("*.f") if not p.name.startswith("mp_"))
        helas = sorted((root / "Source" / "DHELAS").glob("*.[fF]"))
        common, includes = model + helas, [root / "Source" / "MODEL", root / "Source"]
    else:
        common = [p for p in sorted((root / "src").glob("*.cc")) + sorted((root / "src").glob("*.cpp"))
                  if not _is_program(p)]
        includes = [root / "src"]
    return MadGraphOutput(root, fmt, root / "Cards" / "param_card.dat", subprocesses, tuple(common), tuple(includes))


def _detect_format(root: Path, pdirs: list[Path]) -> str:
    has_cpp = any((p / "CPPProcess.h").exists() or (p / "CPPProcess.cc").exists() for p in pdirs)
    has_fortran = any((p / "matrix.f").exists() for p in pdirs)
    cudacpp = ((root / "src" / "mgOnGpuConfig.h").exists() or (root / "SubProcesses" / "Bridge.h").exists()
               or (root / "SubProcesses" / "cudacpp.mk").exists())
    if has_cpp:
        return "cudacpp" if cudacpp else "standalone_cpp"
    if has_fortran:
        return "standalone"
    raise BridgeError(
        f"MadGraph output folder {root} is incomplete: no subprocess folder has CPPProcess.h (standalone_cpp, "
        "cudacpp) or matrix.f (standalone); missing "
        + ", ".join(f"SubProcesses/{p.name}/CPPProcess.h or matrix.f" for p in pdirs),
        LOAD,
    )


def _check_complete(root: Path, fmt: str, pdirs: list[Path]) -> None:
    missing = []

    def need(rel: str, pattern: bool = False) -> None:
        if pattern:
            if not list(root.glob(rel)):
                missing.append(rel)
        elif not (root / rel).exists():
            missing.append(rel)

    need("Cards/param_card.dat")
    if fmt == "standalone_cpp":
        for rel in ("src/read_slha.h", "src/read_slha.cc"):
            need(rel)
        need("src/Parameters_*.h", True)
        need("src/Parameters_*.cc", True)
        for p in pdirs:
            for name in ("CPPProcess.h", "CPPProcess.cc"):
                need(f"SubProcesses/{p.name}/{name}")
    elif fmt == "cudacpp":
        for rel in ("src/mgOnGpuConfig.h", "src/read_slha.h", "src/read_slha.cc"):
            need(rel)
        need("src/Parameters_*.h", True)
        need("src/Parameters_*.cc", True)
        for name in ("Bridge.h", "MatrixElementKernels.h", "MatrixElementKernels.cc"):
            if not (root / "SubProcesses" / name).exists() and not all((p / name).exists() for p in pdirs):
                missing.append(f"SubProcesses/{name}")
        for p in pdirs:
            for name in ("CPPProcess.h", "CPPProcess.cc"):
                need(f"SubProcesses/{p.name}/{name}")
    else:
        need("Source/MODEL/coupl.inc")
        need("Source/MODEL/*.f", True)
        for p in pdirs:
            for name in ("matrix.f", "nexternal.inc", "pmass.inc"):
                need(f"SubProcesses/{p.name}/{name}")
    if missing:
        raise BridgeError(f"MadGraph output folder {root} ({fmt} output) is incomplete: missing {', '.join(missing)}",
                          LOAD)
    if fmt == "standalone":
        model = "\n".join(p.read_text(errors="replace") for p in (root / "Source" / "MODEL").glob("*.f"))
        if not re.search(r"^\s+subroutine\s+setpara\s*\(", model, re.IGNORECASE | re.MULTILINE):
            raise BridgeError(f"MadGraph output folder {root} (standalone output) is incomplete: no Source/MODEL/*.f "
                              "defines SUBROUTINE SETPARA(PARAM_NAME), which reads the param card", LOAD)
    for p in pdirs:
        if not _P_NAME.match(p.name):
            raise BridgeError(f"subprocess folder name {p.name!r} in {root} has characters other than letters, "
                              "digits and underscores", LOAD)


def _is_program(path: Path) -> bool:
    """A source with its own main() (MadGraph's check programs), or a test."""
    text = path.read_text(errors="replace")
    return bool(_MAIN.search(text)) or "gtest/gtest.h" in text


def _read(path: Path) -> str:
    return path.read_text(errors="replace")


def _int(pattern: str, text: str, what: str, where: Path) -> int:
    m = re.search(pattern, text, re.IGNORECASE | re.MULTILINE)
    if not m:
        raise BridgeError(f"cannot read {what} from {where}", LOAD)
    return int(m.group(1))


def _process_lines(text: str, where: Path) -> list[tuple[list[str], list[str], str]]:
    """MadGraph's ``Process:`` comment lines (with their ``Decay:`` lines) as (initial, final, text),
    the final state expanded through the decays in MadGraph's external-particle order."""
    out, seen, current = [], set(), None
    for line in text.splitlines():
        body = re.sub(r"^\s*(?://|[Cc!](?=\s))\s*", "", line)
        m = re.match(r"Process:\s*(.+)$", body)
        d = re.match(r"\*+\s*Decay:\s*(.+)$", body)
        if m:
            current = _split_process(m.group(1), where)
            key = " ".join(current[0]) + " > " + " ".join(current[1])
            if key in seen:
                current = None
                continue
            seen.add(key)
            out.append((current[0], current[1], m.group(1).strip()))
        elif d and current is not None:
            parent, products = _split_process(d.group(1), where)
            final = out[-1][1]
            if len(parent) != 1 or parent[0] not in final:
                raise BridgeError(f"cannot place the decay {d.group(1).strip()!r} in {where}", LOAD)
            k = final.index(parent[0])
            final[k : k + 1] = products
        elif not body.strip() or not (line.lstrip().startswith(("//", "C", "c", "!", "*"))):
            current = None
    if not out:
        raise BridgeError(f"no 'Process:' line in {where}: cannot tell which process it computes", LOAD)
    return out


def _split_process(text: str, where: Path) -> tuple[list[str], list[str]]:
    words = text.split()
    if ">" not in words:
        raise BridgeError(f"cannot read the process {text.strip()!r} in {where}", LOAD)
    k = words.index(">")
    final = []
    for w in words[k + 1 :]:
        if w in ("/", "$", "$$", ",") or any(c in w for c in "=<>@,"):
            break
        final.append(w)
    return words[:k], final


def _orders(text: str, initial: list[str], final: list[str]) -> tuple[int, int]:
    """Powers of (alpha_s, alpha) in |M|^2: exact ``QCD=n QED=m`` of the process line, else the
    leading order (one electroweak vertex per colourless particle, the rest QCD)."""
    n = len(initial) + len(final) - 2
    qcd = re.search(r"\bQCD=(\d+)", text)
    qed = re.search(r"\bQED=(\d+)", text)
    if qcd and qed:
        return int(qcd.group(1)), int(qed.group(1))
    colourless = sum(1 for w in initial + final if PARTICLES[w][2] == 1)
    qed_order = min(colourless, n)
    return n - qed_order, qed_order


def _pdg(names: list[str], where: Path) -> list[int]:
    unknown = [w for w in names if w not in PARTICLES]
    if unknown:
        raise BridgeError(f"particle(s) {unknown} in {where} are not Standard-Model names nis knows "
                          f"({' '.join(PARTICLES)})", LOAD)
    return [PARTICLES[w][0] for w in names]


def _make_processes(lines, n_initial: int, n_external: int, where: Path, idens: list[int],
                    me_of=None, mirror_index=None) -> tuple[MadGraphProcess, ...]:
    """MadGraph's processes and their mirrors. ``me_of((id1, id2))``: standalone_cpp's entry of
    getMatrixElements() for those beams (None: unknown); ``mirror_index``: the entry of the mirror
    process when sigmaHat could not be read."""
    direct, mirrors, names = [], [], set()
    for initial, final, text in lines:
        if len(initial) != n_initial or len(initial) + len(final) != n_external:
            raise BridgeError(f"'Process: {text}' in {where} has {len(initial)} -> {len(final)} particles, the code "
                              f"{n_initial} -> {n_external - n_initial}", LOAD)
        pdg = _pdg(initial + final, where)
        identical = math.prod(math.factorial(c) for c in Counter(pdg[n_initial:]).values())
        table = math.prod(PARTICLES[w][1] * PARTICLES[w][2] for w in initial)
        qcd, qed = _orders(text, initial, final)
        index = (me_of((pdg[0], pdg[1])) if me_of and n_initial == 2 else None) or 0
        iden = idens[index] if index < len(idens) else (idens[0] if idens else 0)
        average = identical / iden if iden else 1.0 / table
        name = " ".join(initial) + " -> " + " ".join(final)
        if name in names:
            continue
        names.add(name)
        direct.append(MadGraphProcess(name, tuple(pdg), False, identical, average, qcd, qed, index, False))
        if n_initial == 2 and initial[0] != initial[1]:
            swapped = [initial[1], initial[0]]
            mname = " ".join(swapped) + " -> " + " ".join(final)
            mpdg = (pdg[1], pdg[0], *pdg[2:])
            k = me_of((pdg[1], pdg[0])) if me_of else None
            if k is None and mirror_index is not None:
                k = mirror_index
            if k is not None and k != index:  # MadGraph computes the mirror itself
                miden = idens[k] if k < len(idens) else iden
                maverage = identical / miden if miden else 1.0 / table
                mirrors.append(MadGraphProcess(mname, mpdg, True, identical, maverage, qcd, qed, k, False))
            else:
                mirrors.append(MadGraphProcess(mname, mpdg, True, identical, average, qcd, qed, index, True))
    out = direct + [m for m in mirrors if m.name not in names]
    return tuple(out)


def _read_cpp(root: Path, pdir: Path) -> Subprocess:
    header, source = pdir / "CPPProcess.h", pdir / "CPPProcess.cc"
    htext, ctext = _read(header), _read(source)
    if not re.search(r"\bclass\s+CPPProcess\b", htext) or "sigmaKin" not in htext or "getMatrixElements" not in htext:
        raise BridgeError(f"{header} declares no class CPPProcess with sigmaKin() and getMatrixElements() (is this "
                          "standalone_cpp output?)", LOAD)
    n_initial = _int(r"\bninitial\s*=\s*(\d+)", htext, "ninitial", header)
    n_external = _int(r"\bnexternal\s*=\s*(\d+)", htext, "nexternal", header)
    nprocesses = _int(r"\bnprocesses\s*=\s*(\d+)", htext, "nprocesses", header)
    beams: dict[tuple[int, int], int] = {}
    for m in re.finditer(r"id1\s*==\s*(-?\d+)\s*&&\s*id2\s*==\s*(-?\d+)\s*\)\s*\{(.*?)\}", ctext, re.DOTALL):
        k = re.search(r"matrix_element\[(\d+)\]", m.group(3))
        if k:
            beams.setdefault((int(m.group(1)), int(m.group(2))), int(k.group(1)))
    d = re.search(r"denominators\[nprocesses\]\s*=\s*\{([^}]*)\}", ctext)
    idens = [int(x) for x in re.findall(r"\d+", d.group(1))] if d else []
    lines = _process_lines(htext if "Process:" in htext else ctext, header)
    processes = _make_processes(lines, n_initial, n_external, header, idens, beams.get if beams else None,
                                1 if nprocesses == 2 and not beams else None)
    sources = [p for p in sorted(pdir.glob("*.cc")) + sorted(pdir.glob("*.cpp")) if not _is_program(p)]
    return Subprocess(pdir.name, pdir, n_initial, n_external, processes, tuple(sources), (pdir, root / "src"))


def _read_cudacpp(root: Path, pdir: Path) -> Subprocess:
    header, source = pdir / "CPPProcess.h", pdir / "CPPProcess.cc"
    htext, ctext = _read(header), _read(source)
    n_initial = _int(r"\bnpari\s*=\s*(\d+)", htext, "npari", header)
    n_final = _int(r"\bnparf\s*=\s*(\d+)", htext, "nparf", header)
    d = re.search(r"helcolDenominators\[\d*\]\s*=\s*\{\s*(\d+)", ctext) or re.search(
        r"\bdenominators\s*=\s*(\d+)", ctext)
    idens = [int(d.group(1))] if d else []
    lines = _process_lines(htext if "Process:" in htext else ctext, header)
    if "cFlavors" in ctext + htext:  # flavour-grouped output: nis evaluates flavour combination 0
        lines = lines[:1]
    processes = _make_processes(lines, n_initial, n_initial + n_final, header, idens)
    sources: dict[str, Path] = {}
    for p in sorted((root / "SubProcesses").glob("*.cc")) + sorted(pdir.glob("*.cc")):
        if _CUDACPP_SKIP.match(p.name) or not p.exists() or _is_program(p):
            continue
        sources[p.name] = p  # the subprocess's own (or its link) wins
    return Subprocess(pdir.name, pdir, n_initial, n_initial + n_final, processes, tuple(sources.values()),
                      (pdir, root / "SubProcesses", root / "src"))


def _read_fortran(root: Path, pdir: Path) -> Subprocess:
    matrix = pdir / "matrix.f"
    text = _read(matrix)
    m = re.search(r"^\s+SUBROUTINE\s+(\w*SMATRIX)\s*\(\s*P\s*,\s*ANS\s*\)", text, re.IGNORECASE | re.MULTILINE)
    if not m:
        raise BridgeError(f"{matrix} has no SUBROUTINE SMATRIX(P, ANS) (is this `output standalone`? madevent "
                          "folders have another SMATRIX)", LOAD)
    inc = _read(pdir / "nexternal.inc")
    n_external = _int(r"NEXTERNAL\s*=\s*(\d+)", inc, "NEXTERNAL", pdir / "nexternal.inc")
    n_initial = _int(r"NINCOMING\s*=\s*(\d+)", inc, "NINCOMING", pdir / "nexternal.inc")
    d = re.search(r"PARAMETER\s*\(\s*IDEN\s*=\s*(\d+)\s*\)", text, re.IGNORECASE)
    lines = _process_lines(text, matrix)
    processes = _make_processes(lines, n_initial, n_external, matrix, [int(d.group(1))] if d else [])
    return Subprocess(pdir.name, pdir, n_initial, n_external, processes, (matrix,),
                      (pdir, root / "SubProcesses", root / "Source" / "MODEL", root / "Source"), m.group(1))


def _normalise(process: str) -> str:
    return " ".join("->" if w == ">" else w for w in process.split())


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------

_ARCH = {"none": "", "sse4": "-march=nehalem", "avx2": "-march=haswell",
         "512y": "-march=skylake-avx512 -mprefer-vector-width=256",
         "512z": "-march=skylake-avx512 -DMGONGPU_PVW512", "native": "-march=native"}


def cache_root() -> Path:
    """Where built libraries are cached: ``$NIS_MADGRAPH_CACHE``, else
    ``$XDG_CACHE_HOME/nis/madgraph`` (``~/.cache/nis/madgraph``)."""
    if os.environ.get("NIS_MADGRAPH_CACHE"):
        return Path(os.environ["NIS_MADGRAPH_CACHE"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "nis" / "madgraph"


def resolve_simd(simd: str = "auto") -> str:
    """The SIMD level a cudacpp build uses: ``auto`` is the best of avx2, sse4, none this CPU has."""
    if simd not in SIMD_LEVELS:
        raise BridgeError(f"simd must be one of {', '.join(SIMD_LEVELS)}; got {simd!r}", LOAD)
    if simd != "auto":
        return simd
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return "none"
    try:
        flags = set(re.search(r"^flags\s*:(.*)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE).group(1).split())
    except (OSError, AttributeError):
        return "none"
    return "avx2" if {"avx2", "fma"} <= flags else "sse4" if "sse4_2" in flags else "none"


def compiler_flags(fmt: str, simd: str = "auto") -> list[str]:
    """The optimisation and architecture flags the folder's C++ sources are compiled with (for a
    driver that must agree with the provider bit for bit)."""
    if fmt == "cudacpp":
        return ["-O3", *_ARCH[resolve_simd(simd)].split()]
    return ["-O2"]


def build_madgraph(
    path: str | os.PathLike,
    subprocess: str | None = None,
    build_dir: str | os.PathLike | None = None,
    *,
    simd: str = "auto",
    backend: str = "cpp",
    jobs: int | None = None,
) -> dict[str, Path]:
    """Compile the MadGraph output ``path`` into provider libraries (cached; see the module doc).

    subprocess: one subprocess (name, ``P1``-style prefix or process); None: all of them.
    build_dir: cache folder instead of :func:`cache_root`.
    simd: cudacpp's SIMD level (``auto``, ``none``, ``sse4``, ``avx2``, ``512y``, ``512z``, ``native``).
    backend: cudacpp's ``cpp`` (C++/SIMD) or ``cuda`` (needs nvcc; not tested by nis' CI).
    jobs: parallel compile jobs (default ``$NIS_BUILD_JOBS`` or the CPU count).
    Returns ``{subprocess name: library path}``.
    """
    output = inspect_madgraph(path)
    chosen = [output.subprocess(subprocess)] if subprocess is not None else list(output.subprocesses)
    if backend not in BACKENDS:
        raise BridgeError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}", LOAD)
    if backend == "cuda" and output.format != "cudacpp":
        raise BridgeError(f"backend='cuda' needs CUDACPP output; {output.path} is {output.format}", LOAD)
    level = resolve_simd(simd) if output.format == "cudacpp" else "none"
    _check_tools(output, backend)
    options = {"format": output.format, "simd": level, "backend": backend}
    key = _build_key(output, options)
    home = Path(build_dir).expanduser() if build_dir is not None else cache_root()
    home = home / f"{re.sub(r'[^A-Za-z0-9_.+-]', '_', output.path.name)}-{key[:16]}"
    libs = {s.name: home / "lib" / f"libnis_mg_{s.name}.so" for s in chosen}
    home.mkdir(parents=True, exist_ok=True)
    with _locked(home / ".lock"):
        todo = [s for s in chosen if not (_stamp(libs[s.name]).is_file() and libs[s.name].is_file()
                                          and _stamp(libs[s.name]).read_text() == key)]
        if todo:
            _write_config(home, output, options)
            _run_cmake(home, output, todo, options, jobs)
            for s in todo:
                _atomic_write(_stamp(libs[s.name]), key)
    return libs


def madgraph_matrix_element(
    path: str | os.PathLike,
    subprocess: str | None = None,
    process: str | None = None,
    *,
    build_dir: str | os.PathLike | None = None,
    simd: str = "auto",
    backend: str = "cpp",
    jobs: int | None = None,
    threads: int | None = None,
    tolerance: float = 1e-9,
):
    """A :class:`~nis.bridge.MatrixElement` for one subprocess of the MadGraph output ``path``
    (built if needed, see :func:`build_madgraph`).

    subprocess: name, ``P1``-style prefix or one of its processes; None: the only subprocess, or
    the one that computes ``process``.
    process: which of the subprocess's processes (e.g. the mirror ``"u~ u -> e+ e-"``); None: its
    first. ``threads``/``tolerance``: as for MatrixElement.
    """
    from .matrix_element import MatrixElement

    output = inspect_madgraph(path)
    sub = output.subprocess(subprocess, process)
    chosen = sub.find(process) if process is not None else sub.processes[0]
    lib = build_madgraph(output.path, sub.name, build_dir, simd=simd, backend=backend, jobs=jobs)[sub.name]
    return MatrixElement(chosen.name, library=lib, threads=threads, tolerance=tolerance)


def _stamp(lib: Path) -> Path:
    return lib.with_name(lib.name + ".key")


def _atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` in one step; a file that already reads so is left alone (its
    time stamp too, so that CMake does not recompile what includes it)."""
    if path.is_file() and path.read_text() == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` across processes (two builds of one folder wait for each other)."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _check_tools(output: MadGraphOutput, backend: str) -> None:
    if shutil.which("cmake") is None:
        raise BridgeError("cmake is not installed: building MadGraph matrix elements needs CMake >= 3.16 and a C++17 "
                          "compiler (apt-get install cmake g++, or pip install cmake)", LOAD)
    if output.format == "standalone" and shutil.which(os.environ.get("FC", "gfortran")) is None:
        raise BridgeError(f"{output.path} is Fortran (`output standalone`): building it needs gfortran "
                          "(apt-get install gfortran) or another compiler named by $FC", LOAD)
    if backend == "cuda" and shutil.which("nvcc") is None:
        raise BridgeError("backend='cuda' needs nvcc (the CUDA toolkit) on PATH", LOAD)


def _folder_sources(root: Path) -> list[Path]:
    out = []
    for top in ("SubProcesses", "src", "Source"):
        base = root / top
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d not in ("lib", "build", "Events", "HTML", ".git"))
            for name in sorted(filenames):
                p = Path(dirpath) / name
                if (p.suffix in _SOURCE_SUFFIXES or name in _SOURCE_NAMES) and p.is_file():
                    out.append(p)
    return out


def _build_key(output: MadGraphOutput, options: dict) -> str:
    """SHA-256 of what a build depends on: folder path, sources, adapter, options, compilers."""
    h = hashlib.sha256()
    tools = {v: os.environ.get(v, "") for v in ("CXX", "CC", "FC", "CXXFLAGS", "FFLAGS", "CUDACXX")}
    tools["c++"] = shutil.which("c++") or ""
    h.update(json.dumps({"path": str(output.path), "options": options, "tools": tools}, sort_keys=True).encode())
    adapter = sorted(ADAPTER_DIR.glob("*")) + [INCLUDE_DIR / "nis" / "matrix_element.h"]
    for p in adapter + _folder_sources(output.path):
        if p.is_file():
            h.update(str(p).encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def _c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _cmake_list(paths) -> str:
    return '"' + ";".join(str(p).replace("\\", "/").replace('"', '\\"') for p in paths) + '"'


def _write_config(home: Path, output: MadGraphOutput, options: dict) -> None:
    config = home / "config"
    lines = [
        "# written by nis.bridge.madgraph for " + str(output.path) + "; do not edit",
        f'set(NIS_MG_FORMAT "{output.format}")',
        f"set(NIS_MG_COMMON_SOURCES {_cmake_list(output.common_sources)})",
        f"set(NIS_MG_COMMON_INCLUDES {_cmake_list(output.common_includes)})",
        f"set(NIS_MG_SUBPROCESSES {_cmake_list(s.name for s in output.subprocesses)})",
        f'set(NIS_MG_BACKEND "{options["backend"]}")',
        f'set(NIS_MG_ARCH_FLAGS "{_ARCH[options["simd"]]}")',
    ]
    for s in output.subprocesses:
        generated = config / s.name
        _write_header(generated / "nis_mg_subprocess.h", output, s)
        lines += [
            f"set(NIS_MG_SOURCES_{s.name} {_cmake_list(s.sources)})",
            f"set(NIS_MG_INCLUDES_{s.name} {_cmake_list((generated, *s.includes))})",
            f'set(NIS_MG_SMATRIX_{s.name} "{s.smatrix or "SMATRIX"}")',
        ]
    _atomic_write(config / "config.cmake", "\n".join(lines) + "\n")


def _write_header(path: Path, output: MadGraphOutput, s: Subprocess) -> None:
    """The per-subprocess table the adapter includes (see cpp/madgraph/nis_mg_provider.hpp)."""
    lines = [
        f"// written by nis.bridge.madgraph for {output.path}/SubProcesses/{s.name}; do not edit",
        "#pragma once",
        f"#define NIS_MG_SUBPROCESS {_c_string(s.name)}",
        f"#define NIS_MG_SUBPROCESS_DIR {_c_string(str(s.directory))}",
        f"#define NIS_MG_PARAM_CARD {_c_string(str(output.param_card))}",
        f"#define NIS_MG_N_INITIAL {s.n_initial}",
        f"#define NIS_MG_N_EXTERNAL {s.n_external}",
        "#define NIS_MG_CLASS CPPProcess",
    ]
    for i, p in enumerate(s.processes):
        lines.append(f"static const int nis_mg_pdg_{i}[] = {{{', '.join(map(str, p.pdg))}}};")
    lines.append("static const nis_mg::Process nis_mg_processes[] = {")
    for i, p in enumerate(s.processes):
        lines.append(f"    {{{_c_string(p.name)}, nis_mg_pdg_{i}, {p.me_index}, {int(p.swap_momenta)}, "
                     f"{int(p.mirror)}, {p.identical}, {p.average!r}, {p.order_qcd}, {p.order_qed}}},")
    lines.append("};")
    _atomic_write(path, "\n".join(lines) + "\n")


def _run_cmake(home: Path, output: MadGraphOutput, todo: list[Subprocess], options: dict, jobs: int | None) -> None:
    jobs = jobs or int(os.environ.get("NIS_BUILD_JOBS", "0")) or os.cpu_count() or 1
    binary = home / "cmake"
    log = home / "build.log"
    env = dict(os.environ, LC_ALL="C", LANG="C")  # the compilers' messages in plain ASCII English
    steps = [
        ["cmake", "-S", str(ADAPTER_DIR), "-B", str(binary), f"-DNIS_MG_CONFIG={home / 'config' / 'config.cmake'}",
         f"-DNIS_INCLUDE_DIR={INCLUDE_DIR}", f"-DNIS_MG_LIB_DIR={home / 'lib'}", "-DCMAKE_BUILD_TYPE="],
        ["cmake", "--build", str(binary), "-j", str(jobs), "--target", *(f"nis_mg_{s.name}" for s in todo)],
    ]
    with open(log, "w") as out:
        for cmd in steps:
            out.write("$ " + " ".join(cmd) + "\n")
            out.flush()
            done = _subprocess.run(cmd, check=False, stdout=_subprocess.PIPE, stderr=_subprocess.STDOUT, text=True,
                                   env=env)
            out.write(done.stdout)
            if done.returncode != 0:
                names = ", ".join(s.name for s in todo)
                raise BridgeError(_failure_message(done.stdout, output, names, log), LOAD)


_GCC_ERROR = re.compile(r"^(?P<file>[^\s:][^:\n]*):(?P<line>\d+):(?:\d+:)?\s*(?:fatal )?error:", re.MULTILINE)
_LOCATION = re.compile(r"^(?P<file>[^\s:][^:\n]*):(?P<line>\d+):(?:\d+:)?\s*$")


def _failure_message(text: str, output: MadGraphOutput, names: str, log: Path) -> str:
    """The compiler's own words: the first errors with their source lines, and the file."""
    lines = text.splitlines()
    excerpt, where = [], None
    m = next((i for i, line in enumerate(lines) if _GCC_ERROR.match(line)), None)
    fortran = next((i for i, line in enumerate(lines) if re.match(r"^(Fatal )?Error:", line)), None)
    if m is not None and (fortran is None or m < fortran):
        where = _GCC_ERROR.match(lines[m]).group("file")
        for line in lines[m:]:
            if len(excerpt) >= 12 or line.startswith(("make", "gmake", "ninja", "[")) or "Error " in line:
                break
            excerpt.append(line)
    elif fortran is not None:
        start = next((i for i in range(fortran, max(fortran - 8, -1), -1) if _LOCATION.match(lines[i])), fortran)
        if _LOCATION.match(lines[start]):
            where = _LOCATION.match(lines[start]).group("file")
        excerpt = lines[start : fortran + 1]
    else:
        link = [line for line in lines if "undefined reference" in line or "ld returned" in line
                or line.startswith("CMake Error") or "error" in line.lower()]
        excerpt = link[:12] or lines[-12:]
        where = "the link step" if any("undefined reference" in line for line in link) else None
    shown = where
    if where:
        try:
            shown = str(Path(where).resolve().relative_to(output.path))
        except ValueError:
            shown = where
    head = f"building MadGraph subprocess {names} of {output.path} ({output.format}) failed"
    head += f" in {shown}:" if shown else ":"
    return head + "\n" + "\n".join(excerpt).rstrip() + f"\n(the whole build log: {log})"


# --------------------------------------------------------------------------------------------
# python -m nis.bridge.madgraph FOLDER
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Inspect and build a MadGraph output folder; print its subprocesses and libraries."""
    parser = argparse.ArgumentParser(prog="python -m nis.bridge.madgraph", description=main.__doc__)
    parser.add_argument("folder", help="MadGraph output folder (standalone_cpp, standalone or cudacpp)")
    parser.add_argument("--subprocess", help="build only this subprocess (name, P1-style prefix or process)")
    parser.add_argument("--build-dir", help=f"cache folder (default {cache_root()})")
    parser.add_argument("--simd", default="auto", choices=SIMD_LEVELS, help="cudacpp SIMD level")
    parser.add_argument("--backend", default="cpp", choices=BACKENDS, help="cudacpp back end")
    parser.add_argument("--list", action="store_true", help="only list the subprocesses, build nothing")
    args = parser.parse_args(argv)
    try:
        output = inspect_madgraph(args.folder)
        print(f"{output.path}: {output.format} output, param card {output.param_card}")
        for s in output.subprocesses:
            procs = ", ".join(p.name for p in s.processes)
            print(f"  {s.name}: {procs}")
        if args.list:
            return 0
        start = time.perf_counter()
        libs = build_madgraph(output.path, args.subprocess, args.build_dir, simd=args.simd, backend=args.backend)
        for name, lib in libs.items():
            print(f"  {name} -> {lib}")
        print(f"  ({time.perf_counter() - start:.1f} s)")
    except BridgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


__all__ = [
    "FORMATS",
    "MadGraphOutput",
    "MadGraphProcess",
    "Subprocess",
    "build_madgraph",
    "cache_root",
    "compiler_flags",
    "inspect_madgraph",
    "madgraph_matrix_element",
    "resolve_simd",
]

if __name__ == "__main__":
    sys.exit(main())
