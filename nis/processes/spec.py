"""A scattering process as a run card describes it: the ``integrand`` mapping of a config with a
``matrix_element`` key (instead of a test function's ``function`` key)::

    integrand:
      matrix_element: "e+ e- -> q q~ g"   # incoming first; 'q' runs over `flavours`
      flavours: [d, u, s, c, b]           # light flavours summed over (default when 'q' appears)
      sqrt_s: 91.188                      # GeV, fixed partonic centre-of-mass energy
      parameters: {alpha_s: 0.118}        # SM parameters for the provider (see cpp/README.md)
      cuts: {y_cut: 0.01}                 # see nis.phasespace.cuts
      channels: channels/ee_qqg.yaml      # default: the file in channels/ that names this process;
                                          # `madspace`: madspace's mappings (see below)
      library: null                       # provider shared library; default: built-in providers
      scale: 91.188                       # GeV, written to LHE as SCALUP (default: sqrt_s)

Sherpa's matrix elements instead of the built-in ones (``parameters`` become Sherpa settings,
see :func:`nis.bridge.sherpa.settings_from_parameters`; ``settings`` and ``run_card`` go on top)::

      matrix_element: {process: "e+ e- -> q q~ g", provider: sherpa,
                       run_card: my_sherpa.yaml, settings: {ALPHAS(MZ): 0.118}}

``channels: madspace`` samples on madspace's channels instead of nis' own (MadGraph7's phase-space
library, ``pip install madspace==0.2.1``; :mod:`nis.phasespace.madspace_channels`): each propagator
tree of the process' channels file in ``channels/`` becomes a madspace ``PhaseSpaceMapping``, with
nis' cuts folded into its invariant bounds, and the prior channel weights are madspace's
single-diagram-enhanced ``PropagatorChannelWeights``. The flat channel is left out when the file has
trees. Only for these 2 -> n processes at a fixed energy (not ``p p -> ...``); the process needs a
channels file.

MadGraph's matrix elements from an output folder (``output standalone_cpp``, ``output standalone``
or the CUDACPP plugin's standalone output; see :mod:`nis.bridge.madgraph`), built on first use
and cached; ``path`` is relative to the working directory, ``subprocess`` names the
``SubProcesses/P*`` folder (or a ``P1``-style prefix, or one of its processes; needed when the
folder has several), ``process`` picks one of its processes (e.g. the mirror ``"u~ u -> e+ e-"``;
default its first). The parameters come from the folder's ``Cards/param_card.dat``, so
``parameters`` must stay empty::

      matrix_element: {provider: madgraph, path: my_mg_output, subprocess: P1_Sigma_sm_epem_mupmum}
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nis.config import ConfigError, from_dict
from nis.phasespace.madspace_channels import MADSPACE, import_madspace
from nis.phasespace.process import LIGHT_QUARKS as LIGHT_FLAVOURS

#: the quark placeholder in a process string (as in channels files); it stands for `flavours`
QUARK = "q"
#: where matrix elements come from
PROVIDERS = ("builtin", "sherpa", "madgraph")
#: the keys of ``matrix_element: {provider: madgraph, ...}`` (see nis.bridge.madgraph)
MADGRAPH_KEYS = ("path", "subprocess", "build_dir", "simd", "backend")


@dataclass
class ProcessConfig:
    """One process at a fixed partonic energy; see the module docstring for the keys."""

    matrix_element: str  #: process string, e.g. "e+ e- -> q q~ g g" or "g g -> g g g"
    sqrt_s: float  #: partonic centre-of-mass energy in GeV
    flavours: list = field(default_factory=list)  #: what 'q' stands for (default d u s c b)
    parameters: dict = field(default_factory=dict)  #: provider parameters (alpha_s, mZ, ...)
    cuts: dict = field(default_factory=dict)  #: phase-space cuts, see nis.phasespace.cuts
    channels: str = ""  #: channels file (default: looked up in channels/ by process), or "madspace"
    library: str = ""  #: provider shared library path; default: the built-in providers
    scale: float = 0.0  #: GeV, the scale written to LHE files; default sqrt_s
    provider: str = "builtin"  #: "builtin" (nis' providers, or `library`), "sherpa" or "madgraph"
    sherpa: dict = field(default_factory=dict)  #: provider sherpa: {run_card: path, settings: {KEY: value}}
    #: provider madgraph: {path: output folder, subprocess: P1_..., build_dir: cache folder, simd: avx2, ...}
    madgraph: dict = field(default_factory=dict)

    def __post_init__(self):
        self._check_madgraph()
        if self.provider == "madgraph" and not self.matrix_element:
            pass  # the process comes from the MadGraph folder (ProcessIntegrand reads it)
        elif "->" not in self.matrix_element:
            raise ConfigError(
                f"integrand.matrix_element must read like 'e+ e- -> mu+ mu-'; got {self.matrix_element!r}"
            )
        if self.sqrt_s <= 0:
            raise ConfigError(f"integrand.sqrt_s must be positive (GeV); got {self.sqrt_s}")
        if not isinstance(self.flavours, list) or not all(isinstance(f, str) for f in self.flavours):
            raise ConfigError(f"integrand.flavours must be a list of quark names like [d, u, s]; got {self.flavours!r}")
        has_q = QUARK in self.matrix_element.split()
        if self.flavours and not has_q:
            raise ConfigError(
                f"integrand.flavours is set but {self.matrix_element!r} has no '{QUARK}' to stand for them"
            )
        if has_q and not self.flavours:
            self.flavours = list(LIGHT_FLAVOURS)
        unknown = [f for f in self.flavours if f not in LIGHT_FLAVOURS]
        if unknown:
            raise ConfigError(f"integrand.flavours: unknown quark(s) {unknown}; choose from {list(LIGHT_FLAVOURS)}")
        for key, value in self.parameters.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ConfigError(f"integrand.parameters.{key} must be a number; got {value!r}")
        from nis.phasespace.cuts import Cuts

        try:
            Cuts.from_dict(self.cuts)
        except ValueError as exc:
            raise ConfigError(f"integrand.cuts: {exc}") from None
        if self.provider not in PROVIDERS:
            raise ConfigError(
                f"integrand.matrix_element.provider must be {', '.join(PROVIDERS[:-1])} or {PROVIDERS[-1]}; "
                f"got {self.provider!r}"
            )
        unknown = set(self.sherpa) - {"run_card", "settings"}
        if unknown:
            raise ConfigError(f"integrand.matrix_element: unknown Sherpa key(s) {sorted(unknown)}; known: run_card, settings")
        if self.sherpa and self.provider != "sherpa":
            raise ConfigError("integrand.matrix_element: run_card and settings need provider: sherpa")
        if self.provider == "sherpa" and self.library:
            raise ConfigError("integrand: library and provider: sherpa exclude each other")
        if self.scale < 0:
            raise ConfigError(f"integrand.scale must be positive (GeV); got {self.scale}")
        if self.channels == MADSPACE:
            import_madspace()  # a ConfigError that says how to install it
        if not self.scale:
            self.scale = float(self.sqrt_s)

    def _check_madgraph(self) -> None:
        """provider: madgraph takes a folder and no parameters; its settings need that provider."""
        if self.madgraph and self.provider != "madgraph":
            keys = ", ".join(sorted(self.madgraph))
            raise ConfigError(f"integrand.matrix_element: {keys} need(s) provider: madgraph")
        if self.provider != "madgraph":
            return
        unknown = set(self.madgraph) - set(MADGRAPH_KEYS)
        if unknown:
            raise ConfigError(f"integrand.matrix_element: unknown MadGraph key(s) {sorted(unknown)}; known: "
                              f"{', '.join(MADGRAPH_KEYS)}")
        path = self.madgraph.get("path")
        if not isinstance(path, str) or not path:
            raise ConfigError("integrand.matrix_element: provider madgraph needs path: the MadGraph output folder, "
                              "e.g. {provider: madgraph, path: my_mg_output, subprocess: P1_Sigma_sm_epem_mupmum}")
        for key in ("subprocess", "build_dir", "simd", "backend"):
            if key in self.madgraph and not isinstance(self.madgraph[key], str):
                raise ConfigError(f"integrand.matrix_element.{key} must be a string; got {self.madgraph[key]!r}")
        if self.parameters:
            raise ConfigError("integrand.parameters: MadGraph matrix elements take their parameters from the output "
                              "folder's Cards/param_card.dat; edit the card and leave parameters out")
        if self.library:
            raise ConfigError("integrand: library and provider: madgraph exclude each other")
        if QUARK in self.matrix_element.split() or self.flavours:
            raise ConfigError("integrand: provider madgraph computes one MadGraph subprocess; 'q' and flavours "
                              "do not apply (choose the subprocess instead)")

    @classmethod
    def from_mapping(cls, data: dict) -> "ProcessConfig":
        """Build from a config's ``integrand`` mapping (unknown keys are errors)."""
        me = data.get("matrix_element")
        if isinstance(me, dict):  # {process: ..., provider: ..., run_card: ..., settings: ...}
            me = dict(me)
            provider = me.pop("provider", "builtin")
            if provider == "madgraph":  # {provider: madgraph, path: ..., subprocess: ..., process: ...}
                data = {**data, "matrix_element": me.pop("process", ""), "provider": provider, "madgraph": me}
                return from_dict(cls, data, "integrand")
            if "process" not in me:
                raise ConfigError("integrand.matrix_element needs a process, e.g. {process: 'e+ e- -> mu+ mu-', provider: sherpa}")
            data = {**data, "matrix_element": me.pop("process"), "provider": provider}
            if me:
                data["sherpa"] = me
        return from_dict(cls, data, "integrand")

    def subprocesses(self) -> list[tuple[str, str]]:
        """``(flavour, process string)`` for every flavour 'q' stands for (one entry if none)."""
        words = self.matrix_element.split()
        if QUARK not in words:
            return [("", " ".join(words))]
        out = []
        for f in self.flavours:
            out.append((f, " ".join(f if w == QUARK else f"{f}~" if w == f"{QUARK}~" else w for w in words)))
        return out
