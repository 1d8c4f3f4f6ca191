"""Sherpa's matrix elements (Comix) through the bridge.

>>> from nis.bridge.sherpa import sherpa_matrix_element
>>> me = sherpa_matrix_element("e+ e- -> d d~ g", settings={"ALPHAS(MZ)": 0.118})  # doctest: +SKIP
>>> me(momenta)  # (n, 5, 4) float64, the particles in the order of the process string  # doctest: +SKIP

The processes go into a Sherpa run card that nis writes (:func:`write_run_card`): a user's own
card and ``settings`` on top of nis' defaults (Comix, exact colour sums, fixed scale, no shower,
hadronisation or QED radiation; |M|^2 summed over colours exactly), with PROCESSES replaced by the requested ones. Sherpa is
initialised from it once per card (model, couplings, amplitudes; no integration) in the card's
directory, by default ``$XDG_CACHE_HOME/nis/sherpa/<hash of the card>``, where Comix keeps its
amplitude files for the next run. Sherpa keeps process-wide state, so one card is live at a time:
build all the processes a run needs in one call of :func:`sherpa_matrix_elements`.

Normalisation as for every nis provider: |M|^2 averaged over initial and summed over final spins
and colours, without the final-state symmetry factor (``info.symmetry_factor`` holds it).
:func:`settings_from_parameters` turns nis' SM parameters (``alpha``, ``sin2w``, ``mZ``, ``wZ``,
``alpha_s``) into Sherpa's (EW scheme alphamZsW, fixed widths), so Sherpa's and the built-in
providers' numbers can be compared point by point.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from .errors import BridgeError
from .matrix_element import MatrixElement, parse_process
from .sherpa_install import SETUP_HINT, sherpa_prefix

LEPTONS = {11, 12, 13, 14, 15, 16}

#: nis' defaults for a matrix-element-only Sherpa; a user's card and ``settings`` override them
#: (except PROCESSES, which holds exactly the requested processes)
DEFAULT_SETTINGS: dict = {
    "ME_GENERATORS": ["Comix"],
    "SCALES": "VAR{sqr(91.1876)}",
    "SHOWER_GENERATOR": "None",
    "FRAGMENTATION": "None",
    "MI_HANDLER": "None",
    "BEAM_REMNANTS": False,
    "ME_QED": {"ENABLED": False},
    "WRITE_REFERENCES_FILE": False,
    "CHECK_SETTINGS": False,
    "OUTPUT": 1,
}


def _library() -> str:
    prefix = sherpa_prefix()
    if prefix is None:
        raise BridgeError(f"Sherpa is not installed here; set it up with: {SETUP_HINT}", "NIS_ERR_LOAD")
    here = Path(__file__).resolve().parent
    found = sorted(here.glob("libnis_sherpa*.so"))
    if not found:
        raise BridgeError(
            "nis was installed before Sherpa, so its Sherpa provider was not built; rebuild nis: "
            "`python -m pip install -e .` (or `bash setup.sh`)",
            "NIS_ERR_LOAD",
        )
    return str(found[0])


def _ids(process: str | Sequence) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """PDG ids of ``"e+ e- -> mu+ mu-"``, ``"11 -11 -> 13 -13"`` or ``((11, -11), (13, -13))``."""
    if not isinstance(process, str):
        incoming, outgoing = process
        return tuple(int(i) for i in incoming), tuple(int(i) for i in outgoing)
    if "->" not in process:
        raise BridgeError(f"process must read like 'e+ e- -> mu+ mu-'; got {process!r}", "NIS_ERR_UNKNOWN_PROCESS")
    sides = [s.split() for s in process.split("->")]
    if all(w.lstrip("-").isdigit() for side in sides for w in side):
        return tuple(int(w) for w in sides[0]), tuple(int(w) for w in sides[1])
    return parse_process(process)


def initial_state_order(incoming: Sequence[int]) -> tuple[int, ...]:
    """The two incoming PDG ids in Sherpa's order (it stops a run whose card has another):
    colourless before coloured, vector before fermion, particle before antiparticle, then the
    smaller PDG code. (Sherpa also puts massive and high-priority particles first; nis' incoming
    particles are massless SM ones.)"""

    def key(pdg: int):
        a = abs(pdg)
        strong = a <= 6 or a == 21
        fermion = a <= 16
        return (strong, fermion, pdg < 0, a)

    return tuple(sorted(incoming, key=key))


def settings_from_parameters(parameters: Mapping[str, float]) -> dict:
    """Sherpa settings for nis' SM parameters (names as in :func:`nis.bridge.sm_defaults`)."""
    from . import sm_defaults

    unknown = set(parameters) - set(sm_defaults())
    if unknown:
        raise BridgeError(f"no Sherpa setting for parameter(s) {sorted(unknown)}", "NIS_ERR_BAD_PARAMETER")
    p = {**sm_defaults(), **parameters}
    return {
        "EW_SCHEME": "alphamZsW",
        "WIDTH_SCHEME": "Fixed",
        "1/ALPHAQED(MZ)": 1.0 / p["alpha"],
        "SIN2THETAW": p["sin2w"],
        "ALPHAS(MZ)": p["alpha_s"],
        "SCALES": f"VAR{{sqr({p['mZ']!r})}}",
        "PARTICLE_DATA": {23: {"Mass": p["mZ"], "Width": p["wZ"]}},
    }


def _merge(base: dict, extra: Mapping) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _per_process(process_settings, n: int) -> list[dict]:
    """``process_settings`` (one mapping for every process, or one per process) as n dicts."""
    if process_settings is None:
        return [{} for _ in range(n)]
    if isinstance(process_settings, Mapping):
        return [dict(process_settings) for _ in range(n)]
    out = [dict(s or {}) for s in process_settings]
    if len(out) != n:
        raise BridgeError(
            f"process_settings has {len(out)} entries for {n} processes (give one mapping, or one per process)",
            "NIS_ERR_BAD_PARAMETER",
        )
    return out


def run_card(
    processes: Sequence,
    settings: Mapping | None = None,
    user_card: str | os.PathLike | None = None,
    sqrt_s: float = 91.1876,
    process_settings: Mapping | Sequence[Mapping | None] | None = None,
) -> dict:
    """The settings of a Sherpa run card for ``processes`` (as YAML data). ``process_settings``:
    Sherpa's per-process options (one mapping for all, or one per process), e.g.
    ``{"Order": {"QCD": 2, "EW": 2}}`` for the powers of alpha_s and alpha in |M|^2 (Sherpa's
    default is every order: for p p -> l+ l- j j also the electroweak exchanges between the quark
    lines, O(alpha^4), and their interference with QCD, O(alpha_s alpha^3))."""
    ids = [_ids(p) for p in processes]
    options = _per_process(process_settings, len(ids))
    incoming = {initial_state_order(i) for i, _ in ids}
    card = dict(DEFAULT_SETTINGS)
    leptonic = all(abs(i) in LEPTONS for pair in incoming for i in pair)
    beams = next(iter(incoming)) if leptonic and len(incoming) == 1 else (2212, 2212)
    card.update({"BEAMS": list(beams), "BEAM_ENERGIES": float(sqrt_s) / 2.0})
    if leptonic:
        card["PDF_LIBRARY"] = "None"
    if user_card is not None:
        with open(user_card) as fh:
            data = yaml.safe_load(fh) or {}
        if not isinstance(data, Mapping):
            raise BridgeError(f"Sherpa run card {user_card} is not a YAML mapping", "NIS_ERR_BAD_PARAMETER")
        card = _merge(card, data)
    card = _merge(card, settings or {})
    card["PROCESSES"] = [
        {f"{' '.join(map(str, initial_state_order(i)))} -> {' '.join(map(str, o))}": opts}
        for (i, o), opts in zip(ids, options)
    ]
    return card


def write_run_card(card: Mapping, work_dir: str | os.PathLike | None = None) -> Path:
    """Write ``card`` as ``Sherpa.yaml`` into ``work_dir`` (default: a cache directory named by the
    card's hash, so the same card reuses Comix's stored amplitudes); returns its path."""
    text = yaml.safe_dump(dict(card), sort_keys=True)
    if work_dir is None:
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        work_dir = cache / "nis" / "sherpa" / hashlib.sha1(text.encode()).hexdigest()[:16]
    path = Path(work_dir).resolve() / "Sherpa.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def sherpa_matrix_elements(
    processes: Sequence,
    settings: Mapping | None = None,
    run_card_path: str | os.PathLike | None = None,
    work_dir: str | os.PathLike | None = None,
    sqrt_s: float = 91.1876,
    process_settings: Mapping | Sequence[Mapping | None] | None = None,
) -> list[MatrixElement]:
    """One :class:`MatrixElement` per process, all from one Sherpa (one run card).

    processes: process strings (``"e+ e- -> d d~ g"`` or PDG ids ``"11 -11 -> 1 -1 21"``); each
        matrix element takes momenta in that string's particle order.
    settings: Sherpa settings (run-card keys) over nis' defaults and ``run_card_path``'s.
    sqrt_s: beam energy for the card (Sherpa needs one; the matrix elements do not depend on it).
    process_settings: Sherpa's per-process options, one mapping for all or one per process (e.g.
        ``{"Order": {"QCD": 2, "EW": 2}}``: the powers of alpha_s and alpha in |M|^2; default all).
    A process Sherpa cannot build raises :class:`BridgeError` with Sherpa's reason.
    """
    library = _library()
    card = write_run_card(run_card(processes, settings, run_card_path, sqrt_s, process_settings), work_dir)
    out = []
    for process in processes:
        incoming, outgoing = _ids(process)
        text = f"{' '.join(map(str, incoming))} -> {' '.join(map(str, outgoing))} @ {card}"
        me = MatrixElement(text, library=library)
        me.process = process if isinstance(process, str) else text
        me.run_card = card
        out.append(me)
    return out


def sherpa_matrix_element(process, **kwargs) -> MatrixElement:
    """:func:`sherpa_matrix_elements` for one process."""
    return sherpa_matrix_elements([process], **kwargs)[0]
