"""madspace's phase-space channels (MadGraph7's phase-space library, PyPI ``madspace`` 0.2.1) for
nis' flows: a drop-in for :class:`~nis.phasespace.channel.ChannelSet` in the process integrand.

Use it from a run card with ``channels: madspace`` in the integrand of a 2 -> n process at a fixed
partonic energy (:class:`~nis.processes.integrand.ProcessIntegrand`; not ``p p -> ...``)::

    integrand:
      matrix_element: "e+ e- -> q q~ g"
      sqrt_s: 91.188
      cuts: {y_cut: 0.01}
      channels: madspace      # needs `pip install madspace==0.2.1`

The channels:

* every propagator tree of nis' channels file for the process (``channels/*.yaml``, found by the
  process string) becomes a madspace ``Diagram`` -> ``Topology`` -> ``PhaseSpaceMapping(topology,
  sqrt_s, leptonic=True, cuts=...)`` with madspace's defaults (``invariant_power`` 0.8, propagator
  t-channel mode). nis' flat (RAMBO) channel is left out when there are trees (the channel weights
  below need a topology per channel). A file with only the flat channel gives one madspace channel:
  ``PhaseSpaceMapping`` in ``rambo`` mode (FastRambo), or, for 2 -> 2, the one s-channel diagram;
* cuts are folded into the sampling: madspace gets the lower bounds that nis' cuts imply (a pair
  invariant mass >= ``max(m_min, sqrt(y_cut) sqrt_s)`` for every parton pair, since a Durham
  ``y_ij <= s_ij / s``, and ``pT >= pt_min`` per parton), so its invariant mappings start where the
  cuts do; the integrand's own cut mask still decides every value (madspace's bounds are implied by
  nis' cuts, so they remove nothing that nis' cuts keep);
* :meth:`MadspaceChannels.map`: cube points ``u`` in ``[0, 1]^dims`` (``dims`` is madspace's random
  dimension, the same for all channels) -> momenta (n, 2 + n_out, 4), incoming first, and madspace's
  ``det``, which is already nis' weight (``dPhi_n = prod d^3p / ((2 pi)^3 2E) (2 pi)^4 delta^4``,
  ``int du w f = int dPhi_n f``). Points that madspace rejects (``det`` 0: outside its cut bounds, or
  unphysical) get weight 0; those whose momenta are unphysical or not finite (madspace returns
  e.g. a 10^15 GeV invariant at u = 1) get their final-state momenta set to 0, so that features and
  channel weights stay finite;
* :meth:`MadspaceChannels.densities`: madspace's single-diagram-enhanced channel weights
  ``PropagatorChannelWeights`` alpha_c(p) (normalised to 1; uniform where they are not finite). The
  integrand normalises what ``densities`` returns into its prior, so the prior is alpha_c(p).

madspace runs on the CPU; :meth:`~MadspaceChannels.map` and :meth:`~MadspaceChannels.densities` take
and return torch float64 tensors on the caller's device. The compute graphs are deterministic: the
same cube points give the same momenta and weights.

The shared construction (diagrams from nis' trees, madspace cuts from nis' cuts, the mappings and
the channel weights) is also what the benchmark peer :mod:`nis.bench.madspace_peer` samples with.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

__all__ = ["MADSPACE", "MadspaceChannels", "MadspaceNotApplicable", "import_madspace", "madspace_cuts",
           "count_madspace_channels", "to_numpy"]

#: the value of a process config's ``channels`` key that selects madspace's channels
MADSPACE = "madspace"
#: the madspace version this module was written against
MADSPACE_VERSION = "0.2.1"
#: how far (relative to sqrt_s) momentum conservation may be off before a point counts as unphysical
_CONSERVATION_TOLERANCE = 1e-6


class MadspaceNotApplicable(ValueError):
    """madspace cannot sample this integrand or channel set (says why)."""


def import_madspace():
    """The ``madspace`` module, or a :class:`~nis.config.ConfigError` that says how to install it."""
    try:
        import madspace
    except ImportError as exc:
        from nis.config import ConfigError

        raise ConfigError(
            f"integrand.channels: {MADSPACE} needs the madspace package (MadGraph7's phase-space library): "
            f"pip install madspace=={MADSPACE_VERSION}  ({exc})"
        ) from None
    return madspace


# --------------------------------------------------------------------------------------------
# nis' propagator trees as madspace diagrams
# --------------------------------------------------------------------------------------------


def _line(node, ms, props: list, vertices: list, masses_of) -> object:
    """The madspace line of ``node`` (an outgoing particle or a new s-channel propagator), adding
    the vertices below it."""
    if node.is_leaf:
        return ms.LineRef(f"o{node.leaves[0]}")
    if node.exchange is not None:
        raise MadspaceNotApplicable("a t-channel block below an s-channel propagator has no madspace diagram here")
    mass, width = masses_of(node)
    props.append(ms.Propagator(mass=mass, width=width))
    me = ms.LineRef(f"p{len(props) - 1}")
    a, b = node.children
    vertices.append([me, _line(a, ms, props, vertices, masses_of), _line(b, ms, props, vertices, masses_of)])
    return me


def _diagram(root, masses: tuple, ms):
    """A madspace Diagram with the topology of nis' channel tree ``root`` (final-state ``masses``)."""
    from nis.phasespace.invariants import BreitWignerMass

    def masses_of(node):
        m = node.mapping
        if isinstance(m, BreitWignerMass):
            return float(m.mass), float(m.width)
        return 0.0, 0.0

    props: list = []
    vertices: list = []
    if root.exchange is None:  # s-channel: the whole final state from one propagator
        props.append(ms.Propagator())
        top = ms.LineRef("p0")
        vertices.append([ms.LineRef("i0"), ms.LineRef("i1"), top])
        a, b = root.children
        vertices.append([top, _line(a, ms, props, vertices, masses_of), _line(b, ms, props, vertices, masses_of)])
    else:  # multi-peripheral chain from particle 1 to particle 2
        upper = ms.LineRef("i0")
        node = root
        while True:
            a, b = node.children
            props.append(ms.Propagator(mass=float(node.exchange.mass)))
            t = ms.LineRef(f"p{len(props) - 1}")
            vertices.append([upper, _line(a, ms, props, vertices, masses_of), t])
            upper = t
            if b.exchange is None:
                vertices.append([upper, _line(b, ms, props, vertices, masses_of), ms.LineRef("i1")])
                break
            node = b
    return ms.Diagram([0.0, 0.0], [float(m) for m in masses], props, vertices)


def madspace_cuts(cuts, pids, n_in: int, sqrt_s: float, ms):
    """madspace ``Cuts`` with the lower bounds that nis' ``cuts`` (:class:`~nis.phasespace.cuts.Cuts`)
    imply for the particles ``pids`` (PDG ids, incoming first); None when there are none to give
    (or madspace, which selects particles by PDG id, could not tell the cut ones apart)."""
    pids = [int(p) for p in pids]
    positions = cuts.partons if cuts.partons is not None else tuple(range(n_in, len(pids)))
    parton_pids = sorted({pids[i] for i in positions})
    others = {pids[i] for i in range(n_in, len(pids)) if i not in positions}
    if not parton_pids or others & set(parton_pids):
        return None
    O = ms.Observable
    items = []
    m_inv = max(float(cuts.m_min), math.sqrt(float(cuts.y_cut)) * float(sqrt_s))
    if m_inv > 0 and len(positions) >= 2:
        items.append(ms.CutItem(O(pids, O.obs_pair_mass, [parton_pids, parton_pids]), min=m_inv))
    if cuts.pt_min > 0:
        items.append(ms.CutItem(O(pids, O.obs_pt, [parton_pids]), min=float(cuts.pt_min)))
    return ms.Cuts(items) if items else None


def count_madspace_channels(channels) -> int:
    """How many madspace channels a channel set gives: its propagator trees, or the one flat channel
    (``channels`` a :class:`~nis.phasespace.channel.ChannelSet` or a :class:`MadspaceChannels`)."""
    from nis.phasespace.tree import TreeChannel

    if isinstance(channels, MadspaceChannels):
        return channels.n_channels
    if channels is None:
        return 1
    return max(1, sum(isinstance(ch, TreeChannel) for ch in channels.channels))


def to_numpy(t) -> np.ndarray:
    """A madspace output tensor as an owned float64 numpy array."""
    return np.array(np.from_dlpack(t), dtype=np.float64, copy=True)


class MadspaceChannels:
    """madspace's phase-space mappings and SDE channel weights over the propagator trees of nis'
    channel set ``base`` (see the module docstring); offers what the process integrand uses of a
    :class:`~nis.phasespace.channel.ChannelSet`.

    base: nis' channels of the process (from its channels file); cuts: nis'
    :class:`~nis.phasespace.cuts.Cuts`; pids: PDG ids of all particles, incoming first; masses:
    final-state masses in GeV (default massless); n_in: incoming particles (2); threads: madspace's
    thread count (default torch's); context: a madspace ``Context`` to run on (default a new one).

    Attributes: ``n_channels``, ``dims``, ``names``, ``n_out``, ``sqrt_s``, ``process``, ``source``
    (as for ChannelSet), ``base``, ``mappings`` (madspace ``PhaseSpaceMapping`` per channel),
    ``topologies`` (madspace ``Topology`` per channel, None for FastRambo), ``dropped`` (nis' channels
    left out), ``ms_cuts`` (the madspace ``Cuts`` or None), ``ms`` (the module), ``ctx``.
    """

    def __init__(self, base, cuts, pids, masses=None, *, n_in: int = 2, threads: int | None = None, context=None):
        from nis.phasespace.channel import RamboChannel
        from nis.phasespace.tree import TreeChannel

        ms = import_madspace()
        self.ms, self.base = ms, base
        self.n_in, self.n_out, self.sqrt_s = int(n_in), int(base.n_out), float(base.sqrt_s)
        self.process, self.source = base.process, base.source
        if threads is None:
            threads = torch.get_num_threads()
        self.ctx = context if context is not None else ms.Context(max(1, int(threads)))
        masses = tuple(float(m) for m in masses) if masses is not None else (0.0,) * self.n_out
        if len(masses) != self.n_out:
            raise ValueError(f"{len(masses)} final-state masses for {self.n_out} final-state particles")
        self.ms_cuts = madspace_cuts(cuts, pids, self.n_in, self.sqrt_s, ms)
        trees = [(name, ch) for name, ch in zip(base.names, base.channels) if isinstance(ch, TreeChannel)]
        flats = [name for name, ch in zip(base.names, base.channels) if isinstance(ch, RamboChannel)]
        if len(trees) + len(flats) != base.n_channels:
            raise MadspaceNotApplicable(f"channels {base.names}: only RAMBO and propagator-tree channels translate")
        if trees:  # (name, topology or None) per channel
            specs = [(name, ms.Topology(_diagram(ch.root, masses, ms))) for name, ch in trees]
        elif self.n_out == 2:
            diag = ms.Diagram([0.0, 0.0], list(masses), [ms.Propagator()],
                              [[ms.LineRef("i0"), ms.LineRef("i1"), ms.LineRef("p0")],
                               [ms.LineRef("p0"), ms.LineRef("o0"), ms.LineRef("o1")]])
            specs = [("s-channel", ms.Topology(diag))]
        else:
            specs = [("rambo", None)]
        self.dropped = flats if trees else []
        self.names = [name for name, _ in specs]
        self.topologies = [top for _, top in specs]
        self.mappings = [self._mapping(top, masses) for top in self.topologies]
        for name, psm in zip(self.names, self.mappings):
            if psm.discrete_dim() != 0:
                raise MadspaceNotApplicable(f"channel {name}: madspace wants discrete inputs (two-solution choices)")
        dims = [int(psm.random_dim()) for psm in self.mappings]
        if len(set(dims)) != 1:
            raise MadspaceNotApplicable(
                "madspace's channels have different random dimensions ("
                + ", ".join(f"{n}: {d}" for n, d in zip(self.names, dims))
                + "); nis' flows need one cube dimension for all channels")
        self.dims = dims[0]
        self._forward = [ms.FunctionRuntime(psm.forward_function(), self.ctx) for psm in self.mappings]
        self._weights = None
        if self.n_channels > 1:
            n_particles = self.n_in + self.n_out
            cw = ms.PropagatorChannelWeights(self.topologies, [[list(range(n_particles))] for _ in self.topologies],
                                             [[c] for c in range(self.n_channels)])
            self._weights = ms.FunctionRuntime(cw.function(), self.ctx)

    @classmethod
    def for_integrand(cls, integrand, *, threads: int | None = None, context=None) -> "MadspaceChannels":
        """The madspace channels of a :class:`~nis.processes.integrand.ProcessIntegrand` (built from
        its channels file's trees, also when the integrand already samples madspace's channels)."""
        chs = integrand.channels
        base = chs.base if isinstance(chs, cls) else chs
        info = integrand.info
        return cls(base, integrand.cuts, [*info.pdg_in, *info.pdg_out], info.masses[integrand.n_in:],
                   n_in=integrand.n_in, threads=threads, context=context)

    def _mapping(self, topology, masses):
        ms = self.ms
        try:
            if topology is None:
                return ms.PhaseSpaceMapping([0.0, 0.0, *masses], self.sqrt_s, leptonic=True,
                                            mode=ms.PhaseSpaceMapping.rambo, cuts=self.ms_cuts)
            return ms.PhaseSpaceMapping(topology, self.sqrt_s, leptonic=True, cuts=self.ms_cuts)
        except Exception as e:  # pragma: no cover - depends on madspace's topology support
            raise MadspaceNotApplicable(f"madspace PhaseSpaceMapping refuses topology\n{topology}: {e}") from e

    @property
    def n_channels(self) -> int:
        return len(self.mappings)

    def __len__(self) -> int:
        return self.n_channels

    def __repr__(self) -> str:
        return f"MadspaceChannels({self.process!r}, sqrt_s={self.sqrt_s}, channels={self.names})"

    def map(self, c: int, u: Tensor, sqrt_s: float | None = None) -> tuple[Tensor, Tensor]:
        """Channel ``c``: cube points u (n, dims) -> momenta p (n, 2 + n_out, 4) incoming first, and
        weights w (n,) (nis' convention), float64 on u's device. Rejected points have w = 0; unphysical
        or non-finite momenta have their final state set to 0. ``sqrt_s`` must be None or the set's."""
        if sqrt_s is not None and (isinstance(sqrt_s, Tensor) or float(sqrt_s) != self.sqrt_s):
            raise ValueError(f"madspace channels are built at sqrt_s = {self.sqrt_s} GeV; they cannot map at another"
                             " energy")
        if u.ndim != 2 or u.shape[1] != self.dims:
            raise ValueError(f"cube points of shape {tuple(u.shape)}; expected (n, {self.dims})")
        n = u.shape[0]
        if n == 0:
            return (torch.zeros(0, self.n_in + self.n_out, 4, dtype=torch.float64, device=u.device),
                    torch.zeros(0, dtype=torch.float64, device=u.device))
        r = np.ascontiguousarray(u.detach().to("cpu", torch.float64).numpy())
        out = self._forward[c].call([r])
        p, det = to_numpy(out[0]), to_numpy(out[-1])
        finite = np.isfinite(p).all(axis=(1, 2))
        with np.errstate(invalid="ignore", over="ignore"):
            balance = np.abs(np.where(finite[:, None], p[:, self.n_in:].sum(1) - p[:, :self.n_in].sum(1), 0.0)).max(1)
        physical = finite & (balance <= _CONSERVATION_TOLERANCE * self.sqrt_s)
        p[~physical, self.n_in:] = 0.0
        w = np.where(physical & np.isfinite(det) & (det > 0), det, 0.0)
        return torch.from_numpy(p).to(u.device), torch.from_numpy(w).to(u.device)

    def densities(self, p: Tensor) -> Tensor:
        """madspace's channel weights alpha_c(p) (n, n_channels) at momenta p (n, 2 + n_out, 4): rows
        sum to 1 (uniform where madspace's weights are not finite); ones for a single channel."""
        if p.ndim != 3 or p.shape[1] != self.n_in + self.n_out or p.shape[2] != 4:
            raise ValueError(f"momenta of shape {tuple(p.shape)}; expected (n, {self.n_in + self.n_out}, 4)")
        n = p.shape[0]
        if self._weights is None or n == 0:
            return torch.ones(n, self.n_channels, dtype=torch.float64, device=p.device)
        host = np.ascontiguousarray(p.detach().to("cpu", torch.float64).numpy())
        alpha = to_numpy(self._weights.call([host])[0])
        total = alpha.sum(axis=1)
        ok = np.isfinite(alpha).all(axis=1) & (alpha >= 0).all(axis=1) & (total > 0)
        alpha[ok] /= total[ok, None]
        alpha[~ok] = 1.0 / self.n_channels
        return torch.from_numpy(alpha).to(p.device)
