"""Phase space: unit hypercube -> momenta, per channel, with exact inverses.

Conventions: torch float64, batched, on the device of the inputs; momenta (n, n_particles, 4) as
(E, px, py, pz) in GeV, the two massless incoming particles first, along +z and -z in their c.m.
frame at a partonic energy sqrt_s. A mapping turns u (n, dims) into final-state momenta and a
weight w (n,) with ``int du w f(p(u)) = int dPhi_n f`` (standard Lorentz-invariant phase space,
``dPhi_n = prod d^3p/((2 pi)^3 2E) (2 pi)^4 delta^4``); its density is ``g = 1 / w(u(p))``.

Modules (one idea each):

* :mod:`~nis.phasespace.kinematics` -- Minkowski products, boosts, pT / rapidity, checks,
* :mod:`~nis.phasespace.rambo` -- flat massless n-body (RAMBO on diet) and its inverse,
* :mod:`~nis.phasespace.invariants` -- s-channel propagator mappings (power law, Breit-Wigner),
* :mod:`~nis.phasespace.decays` -- isotropic two-body decays,
* :mod:`~nis.phasespace.tchannel` -- the t-channel 2 -> 2 block,
* :mod:`~nis.phasespace.tree` -- channels from propagator topologies,
* :mod:`~nis.phasespace.channel` -- :class:`ChannelSet` (map, inverse, densities, prior),
* :mod:`~nis.phasespace.process` -- process strings and matching,
* :mod:`~nis.phasespace.loader` -- the YAML channels files of ``channels/``,
* :mod:`~nis.phasespace.cuts` -- generation cuts,
* :mod:`~nis.phasespace.madspace_channels` -- madspace's mappings as a channel set (``channels: madspace``;
  needs the optional madspace package).
"""

from nis.phasespace.channel import Channel, ChannelSet, RamboChannel
from nis.phasespace.cuts import Cuts
from nis.phasespace.decays import two_body_decay, two_body_inverse
from nis.phasespace.invariants import BreitWignerMass, FlatMass, MassMapping, PowerLawMass
from nis.phasespace.kinematics import (
    boost,
    boost_from_rest,
    boost_to_rest,
    check_momentum_conservation,
    check_on_shell,
    delta_r,
    incoming_momenta,
    mass2,
    minkowski_dot,
    momentum_violation,
    pt,
    rapidity,
)
from nis.phasespace.loader import CHANNELS_DIR, ChannelsError, find_channels, find_channels_file, load_channels
from nis.phasespace.process import normalise_process, parse_process, process_matches
from nis.phasespace.rambo import massless_volume, rambo_forward, rambo_inverse
from nis.phasespace.tchannel import TExchange, t_channel_decay, t_channel_inverse
from nis.phasespace.tree import Node, TreeChannel, cluster, leaf

__all__ = [
    "Channel", "ChannelSet", "RamboChannel", "TreeChannel", "Node", "leaf", "cluster",
    "Cuts", "ChannelsError", "load_channels", "find_channels_file", "find_channels", "CHANNELS_DIR",
    "parse_process", "process_matches", "normalise_process",
    "massless_volume", "rambo_forward", "rambo_inverse",
    "MassMapping", "FlatMass", "PowerLawMass", "BreitWignerMass",
    "two_body_decay", "two_body_inverse", "TExchange", "t_channel_decay", "t_channel_inverse",
    "minkowski_dot", "mass2", "boost", "boost_to_rest", "boost_from_rest", "pt", "rapidity", "delta_r",
    "incoming_momenta", "momentum_violation", "check_momentum_conservation", "check_on_shell",
]
