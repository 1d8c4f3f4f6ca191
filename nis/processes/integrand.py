"""A process as an :class:`~nis.integrator.Integrand`: phase-space channels times |M|^2.

For channel ``c`` a cube point ``u`` becomes momenta ``p = x_c(u)`` with phase-space weight
``w_c(u)`` (``dPhi = w_c du``, see :mod:`nis.phasespace`). The integrand value is

    value_c(u) = conv * S / (2 s) * sum_f |M_f|^2(p) * w_c(u) * cut(p)        [pb]

with ``conv = 0.3893793721e9 pb GeV^2``, the flux ``1/(2s)`` of massless incoming partons,
the symmetry factor ``S`` of identical final-state particles and the sum over the flavours
'q' stands for. The prior channel weights are the multi-channel ones,
``alpha^prior_c = g_c(p) / sum_k g_k(p)`` with ``g_k = 1/w_k`` the density of channel ``k`` at
``p``, and the learned channel weights see the final-state momenta in units of ``sqrt(s)/2``.

With ``channels: madspace`` the channels are madspace's phase-space mappings over the propagator
trees of the process' channels file and the prior is madspace's single-diagram-enhanced channel
weights (:mod:`nis.phasespace.madspace_channels`).

Flavours whose couplings are the same for massless quarks (d, s, b and u, c) share one matrix
element call: the sum is ``sum_class n_class |M_class|^2``.

With ``provider: madgraph`` the matrix element is one MadGraph subprocess
(:func:`nis.bridge.madgraph.madgraph_matrix_element`), and the process string, when the config
gives none, is that subprocess's first process. Its |M|^2 comes without the symmetry factor
``S`` (the provider undoes MadGraph's), so the formula above holds unchanged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nis.config import ConfigError
from nis.integrator.integrand import Integrand, IntegrandBatch
from nis.processes.spec import MADSPACE, ProcessConfig

#: GeV^-2 -> pb
GEV2_TO_PB = 0.3893793721e9

_DOWN_TYPE = {"d", "s", "b"}


@dataclass
class _Flavour:
    """One coupling class of the summed flavours: the matrix element and who shares it."""

    matrix_element: object  # nis.bridge.MatrixElement
    flavours: list  # flavour names in the class ("" when the process has no 'q')
    processes: list  # the process string of each flavour


def _regulator(cuts, config: ProcessConfig) -> float:
    """``s0 / shat`` of the massless propagator mappings, matched to the cuts: a Durham cut keeps
    every ``s_ij >= y_cut s``, a pT cut keeps ``s_ij`` above about ``pT_min^2``."""
    if cuts.y_cut > 0:
        return cuts.y_cut
    if cuts.pt_min > 0:
        return min(0.1, (cuts.pt_min / config.sqrt_s) ** 2)
    return 1e-3


def _madgraph_matrix_element(config: ProcessConfig):
    """The MadGraph subprocess the config names (built on first use, see nis.bridge.madgraph)."""
    from nis.bridge.madgraph import madgraph_matrix_element

    mg = config.madgraph
    options = {k: mg[k] for k in ("build_dir", "simd", "backend") if k in mg}
    return madgraph_matrix_element(mg["path"], mg.get("subprocess"), config.matrix_element or None, **options)


class ProcessIntegrand(Integrand):
    """Cross section of one process at fixed ``sqrt_s``, in pb, over its phase-space channels."""

    def __init__(self, config: ProcessConfig, name: str | None = None):
        from nis.bridge import MatrixElement
        from nis.phasespace import ChannelsError, Cuts, find_channels, load_channels

        madgraph_me = None
        if config.provider == "madgraph":
            madgraph_me = _madgraph_matrix_element(config)
            if not config.matrix_element:  # the process of the MadGraph subprocess
                config = dataclasses.replace(config, matrix_element=madgraph_me.info.name)
        self.config = config
        classes: dict[str, _Flavour] = {}
        for flavour, process in config.subprocesses():
            key = "" if not flavour else ("down" if flavour in _DOWN_TYPE else "up")
            if key not in classes:
                classes[key] = _Flavour(None, [], [])
            classes[key].flavours.append(flavour)
            classes[key].processes.append(process)
        self.classes = list(classes.values())
        representatives = [c.processes[0] for c in self.classes]
        if config.provider == "sherpa":
            from nis.bridge.sherpa import settings_from_parameters, sherpa_matrix_elements

            settings = {**settings_from_parameters(config.parameters), **config.sherpa.get("settings", {})}
            mes = sherpa_matrix_elements(
                representatives, settings=settings, run_card_path=config.sherpa.get("run_card"), sqrt_s=config.sqrt_s
            )
        elif madgraph_me is not None:
            mes = [madgraph_me]
        else:
            mes = [MatrixElement(p, parameters=config.parameters, library=config.library or None) for p in representatives]
        for c, me in zip(self.classes, mes):
            c.matrix_element = me
        info = self.classes[0].matrix_element.info
        self.info = info
        self.name = name or config.matrix_element
        self.n_in, self.n_out = len(info.pdg_in), len(info.pdg_out)
        if self.n_in != 2:
            raise ValueError(f"{config.matrix_element!r}: nis integrates 2 -> n processes; this one has {self.n_in} in")
        self.cuts = Cuts.from_dict(config.cuts)
        madspace = config.channels == MADSPACE  # madspace's channels over the trees of the process' file
        if config.channels and not madspace:
            path = Path(config.channels)
        else:
            try:
                path = find_channels(config.matrix_element)
            except ChannelsError as exc:
                if not madspace:
                    raise
                raise ConfigError(f"integrand.channels: {MADSPACE} builds its channels from the propagator trees of"
                                  f" the process' channels file, and there is none: {exc}") from None
        self.channels = load_channels(
            path, len(info.pdg_out), config.sqrt_s, process=config.matrix_element, s0_frac=_regulator(self.cuts, config)
        )
        if madspace:
            from nis.phasespace.madspace_channels import MadspaceChannels

            self.channels = MadspaceChannels.for_integrand(self)
        self.dims = self.channels.dims
        self.n_channels = self.channels.n_channels
        s = config.sqrt_s**2
        self.norm = GEV2_TO_PB * info.symmetry_factor / (2.0 * s)
        self.exact = None

    @property
    def feature_dims(self) -> int:
        return 4 * self.n_out

    # -- matrix elements -----------------------------------------------------------------
    def matrix_elements(self, p: Tensor) -> Tensor:
        """|M|^2 of each coupling class at momenta ``p`` (n, n_particles, 4): shape (n, classes),
        already multiplied by the number of flavours in the class."""
        host = p.detach().to("cpu", torch.float64).contiguous().numpy()
        out = np.stack([len(c.flavours) * c.matrix_element(host) for c in self.classes], axis=1)
        return torch.from_numpy(out).to(p.device)

    def features(self, p: Tensor) -> Tensor:
        """Final-state momenta in units of sqrt(s)/2, flattened: shape (n, 4 n_out)."""
        return p[:, self.n_in :, :].reshape(p.shape[0], -1) * (2.0 / self.config.sqrt_s)

    def evaluate(self, u: Tensor, channel: int) -> IntegrandBatch:
        p, w = self.channels.map(channel, u)
        keep = self.cuts.mask(p) & (w > 0)
        value = torch.zeros_like(w)
        idx = torch.nonzero(keep).squeeze(1)
        if idx.numel():
            me = self.matrix_elements(p[idx]).sum(dim=1)
            value[idx] = self.norm * me * w[idx]
        g = self.channels.densities(p)
        prior = g / g.sum(dim=1, keepdim=True)
        features = self.features(p)
        # A cube point on an edge (a coordinate exactly 0 or 1, which float32 flows do produce)
        # can map to degenerate momenta: value 0, but features and channel densities 0/0. Such a
        # point carries no cross section; give it finite features and this channel's own prior.
        degenerate = ~(torch.isfinite(features).all(dim=1) & torch.isfinite(prior).all(dim=1))
        features = torch.where(degenerate[:, None], 0.0, features)
        own = torch.nn.functional.one_hot(torch.tensor(channel, device=u.device), self.n_channels).to(prior)
        prior = torch.where(degenerate[:, None], own, prior)
        value = torch.where(degenerate, 0.0, value)
        return IntegrandBatch(value=value, features=features, prior=prior if self.n_channels > 1 else None)

    # -- events -----------------------------------------------------------------------------
    def momenta(self, u: Tensor, channel: Tensor) -> Tensor:
        """Momenta (n, n_particles, 4) of cube points ``u`` (n, dims) drawn in channels ``channel`` (n,)."""
        p = torch.empty(u.shape[0], self.n_in + self.n_out, 4, dtype=torch.float64, device=u.device)
        for c in torch.unique(channel).tolist():
            rows = channel == c
            p[rows] = self.channels.map(c, u[rows])[0]
        return p

    def choose_flavours(self, p: Tensor, rng: np.random.Generator) -> list[str]:
        """A flavour per event, with probability proportional to its |M|^2 (the process string)."""
        if len(self.classes) == 1 and len(self.classes[0].processes) == 1:
            return self.classes[0].processes * p.shape[0]
        me = self.matrix_elements(p).cpu().numpy()
        cum = np.cumsum(me / me.sum(axis=1, keepdims=True), axis=1)
        cls = np.minimum((rng.random(len(me))[:, None] > cum).sum(axis=1), len(self.classes) - 1)
        out = []
        for k in cls:
            procs = self.classes[k].processes
            out.append(procs[rng.integers(len(procs))])
        return out
