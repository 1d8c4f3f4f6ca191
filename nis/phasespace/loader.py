"""Channels as data: the YAML channels files in ``channels/`` and :func:`load_channels`.

Format (see ``channels/README.md`` for the full description)::

    process: "e+ e- -> q q~ g"          # required; particles 1, 2 incoming, 3, 4, 5 outgoing
    defaults: {nu: 1.0}                 # optional: options for every propagator of the file
    channels:                           # required, non-empty
      - name: flat
        rambo: true                     # flat massless phase space
      - name: s35
        s: [[3, 5], 4]                  # s-channel decay tree; a nested list is a propagator
      - name: s45
        s: [{prop: [4, 5], nu: 0.8}, 3] # a propagator with options
      # t-channel chain (2 -> n): t: [3, 4, 5] or t: {chain: [3, [4, 5]], nu: 1.0}

Blocks (entries of ``s``, ``t`` and ``prop`` lists): a final-state particle number, a list of
blocks (an s-channel propagator with the file's default options), or ``{prop: [blocks], ...}``
with options ``nu``, ``s0_frac``, ``smin_frac`` (power law ``(s + s0)^(-nu)``, ``s >= smin``, both
in units of shat) or ``mass`` and ``width`` (GeV, a Breit-Wigner). A t chain takes ``nu``,
``s0_frac`` and ``mass`` (of the exchanged particles).

Every problem raises :class:`ChannelsError` naming the file, the line and channel, and the problem.
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from nis.phasespace.channel import ChannelSet, RamboChannel
from nis.phasespace.invariants import BreitWignerMass, PowerLawMass
from nis.phasespace.process import parse_process, process_matches
from nis.phasespace.tchannel import TExchange
from nis.phasespace.tree import Node, TreeChannel, cluster, leaf

__all__ = ["ChannelsError", "load_channels", "find_channels_file", "find_channels", "CHANNELS_DIR", "DEFAULT_S0_FRAC"]

#: the ``channels/`` folder of the source tree
CHANNELS_DIR = Path(__file__).resolve().parents[2] / "channels"
#: regulator ``s0 / shat`` of massless propagators when neither the file nor the caller sets one
DEFAULT_S0_FRAC = 1e-3

_S_OPTIONS = {"nu", "s0_frac", "smin_frac", "mass", "width"}
_T_OPTIONS = {"nu", "s0_frac", "mass"}
_TOP_KEYS = {"process", "description", "defaults", "channels"}
_CHANNEL_KEYS = {"name", "description", "rambo", "s", "t"}


class ChannelsError(ValueError):
    """A channels file is unreadable, malformed, or does not fit the process."""


class _Map(dict):
    line = 0


class _Seq(list):
    line = 0


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line (1-based) of every mapping and sequence."""


def _map(loader, node):
    out = _Map(loader.construct_mapping(node, deep=True))
    out.line = node.start_mark.line + 1
    return out


def _seq(loader, node):
    out = _Seq(loader.construct_sequence(node, deep=True))
    out.line = node.start_mark.line + 1
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _map)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _seq)


class _Context:
    def __init__(self, path: Path, n_out: int, process: str):
        self.path, self.n_out, self.process = path, n_out, process
        self.where = ""

    def error(self, line: int | None, problem: str) -> ChannelsError:
        at = f"line {line}" if line else "file"
        where = f", {self.where}" if self.where else ""
        return ChannelsError(f"{self.path}: {at}{where}: {problem}")


def _line(obj, default: int) -> int:
    return getattr(obj, "line", 0) or default


def _number(ctx, line, key, value, low=0.0, high=math.inf, high_open=True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ctx.error(line, f"'{key}' must be a number, got {value!r}")
    ok = low <= value and (value < high if high_open else value <= high)
    if not ok or math.isinf(value):
        raise ctx.error(line, f"'{key}' = {value!r} is outside [{low}, {high}{')' if high_open else ']'}")
    return float(value)


def _options(ctx, line, given: dict, allowed: set, defaults: dict, what: str) -> dict:
    unknown = set(given) - allowed
    if unknown:
        raise ctx.error(line, f"unknown option(s) {sorted(unknown)} for {what}; allowed: {sorted(allowed)}")
    opts = {k: v for k, v in defaults.items() if k in allowed}
    opts.update(given)
    out = {}
    if "nu" in opts:
        out["nu"] = _number(ctx, line, "nu", opts["nu"], 0.0, 10.0, high_open=False)
    if "s0_frac" in opts:
        out["s0_frac"] = _number(ctx, line, "s0_frac", opts["s0_frac"])
    if "smin_frac" in opts:
        out["smin_frac"] = _number(ctx, line, "smin_frac", opts["smin_frac"], 0.0, 1.0)
    if "mass" in opts:
        out["mass"] = _number(ctx, line, "mass", opts["mass"])
    if "width" in opts:
        out["width"] = _number(ctx, line, "width", opts["width"])
    return out


class _Builder:
    """Turns the blocks of one channel into a tree, checking particles as it goes."""

    def __init__(self, ctx: _Context, defaults: dict, masses: tuple[float, ...]):
        self.ctx, self.defaults, self.masses = ctx, defaults, masses
        self.seen: dict[int, int] = {}

    def particle(self, value, line) -> Node:
        ctx = self.ctx
        last = ctx.n_out + 2
        if isinstance(value, bool) or not isinstance(value, int):
            raise ctx.error(line, f"{value!r} is not a particle number, a list (propagator) or a {{prop: ...}} mapping")
        if not 3 <= value <= last:
            extra = " (1 and 2 are the incoming particles)" if value in (1, 2) else ""
            raise ctx.error(
                line, f"particle index {value} is out of range{extra}: the final state of {ctx.process!r} is 3..{last}"
            )
        if value in self.seen:
            raise ctx.error(line, f"particle {value} appears twice (first on line {self.seen[value]})")
        self.seen[value] = line
        return leaf(value - 3)

    def block(self, value, line) -> Node:
        if isinstance(value, dict):
            line = _line(value, line)
            if "prop" not in value:
                raise self.ctx.error(line, f"a propagator mapping needs the key 'prop' (a list of blocks), got {sorted(value)}")
            opts = dict(value)
            blocks = opts.pop("prop")
            return self.propagator(blocks, _line(blocks, line), opts)
        if isinstance(value, list):
            return self.propagator(value, _line(value, line), {})
        return self.particle(value, line)

    def chain(self, values, line) -> list[Node]:
        if not isinstance(values, list):
            raise self.ctx.error(line, f"expected a list of blocks, got {values!r}")
        return [self.block(v, _line(v, line)) for v in values]

    def propagator(self, blocks, line, opts) -> Node:
        ctx = self.ctx
        nodes = self.chain(blocks, line)
        leaves = sorted(i + 3 for n in nodes for i in n.leaves)
        label = "(" + ",".join(map(str, leaves)) + ")"
        if len(leaves) < 2:
            raise ctx.error(line, f"propagator {label} contains only one particle; a propagator needs at least two")
        if len(leaves) == ctx.n_out:
            raise ctx.error(
                line, f"propagator {label} contains all final-state particles; list the top-level blocks directly"
            )
        o = _options(ctx, line, opts, _S_OPTIONS, self.defaults, f"propagator {label}")
        if o.get("width", 0.0) > 0.0 or o.get("mass", 0.0) > 0.0:
            if not (o.get("mass", 0.0) > 0.0 and o.get("width", 0.0) > 0.0):
                raise ctx.error(line, f"propagator {label}: a Breit-Wigner needs both mass > 0 and width > 0, got {o}")
            mapping = BreitWignerMass(o["mass"], o["width"])
        else:
            nu, s0, smin = o.get("nu", 1.0), o.get("s0_frac", 0.0), o.get("smin_frac", 0.0)
            lo = sum(self.masses[i - 3] for i in leaves)
            if nu >= 1.0 and s0 == 0.0 and smin == 0.0 and lo == 0.0:
                raise ctx.error(
                    line, f"propagator {label}: nu = {nu} >= 1 diverges at s = 0; set s0_frac > 0 or smin_frac > 0"
                )
            mapping = PowerLawMass(nu, s0, smin)
        return self.split(nodes, mapping)

    @staticmethod
    def split(nodes: list[Node], mapping=None, exchange=None) -> Node:
        """Binary tree of a k-block split: first block against (auxiliary flat cluster of) the rest."""
        if len(nodes) == 2:
            return cluster(nodes[0], nodes[1], mapping, exchange)
        inner = _Builder.split(nodes[1:], None, exchange)
        return cluster(nodes[0], inner, mapping, exchange)

    def check_complete(self, line) -> None:
        missing = [i for i in range(3, self.ctx.n_out + 3) if i not in self.seen]
        if missing:
            raise self.ctx.error(line, f"final-state particle(s) {missing} missing from the channel")


def _read(path: Path):
    try:
        text = path.read_text()
    except OSError as exc:
        raise ChannelsError(f"{path}: cannot read the channels file ({exc.strerror or exc})") from None
    try:
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}" if mark is not None else "file"
        raise ChannelsError(f"{path}: {at}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    if not isinstance(data, dict):
        raise ChannelsError(f"{path}: file: expected a mapping with keys 'process' and 'channels'")
    return data


def _file_process(path: Path, data) -> tuple[str, int]:
    if "process" not in data:
        raise ChannelsError(f"{path}: file: the key 'process' (e.g. process: \"e+ e- -> q q~ g\") is missing")
    try:
        _, outgoing = parse_process(data["process"])
    except ValueError as exc:
        raise ChannelsError(f"{path}: line 1: {exc}") from None
    return data["process"], len(outgoing)


def load_channels(
    path: str | Path,
    n_out: int | str,
    sqrt_s: float,
    *,
    process: str | None = None,
    s0_frac: float = DEFAULT_S0_FRAC,
    masses: tuple[float, ...] | None = None,
) -> ChannelSet:
    """Build the :class:`ChannelSet` of a channels file.

    path: the YAML file; n_out: number of final-state particles of the process, or the process
    string itself (then it is also checked against the file, as ``process``); sqrt_s: partonic
    c.m. energy in GeV; process: the process string to check the file against (None: no check);
    s0_frac: regulator ``s0 / shat`` of massless propagators that neither the propagator nor the
    file's ``defaults`` set (for cuts that bound invariants, ``s_min / shat`` is a good choice);
    masses: final-state masses in GeV (default massless; the rambo channel needs massless).
    Raises :class:`ChannelsError` for every problem with the file or its fit to the process.
    """
    path = Path(path)
    if isinstance(n_out, str):
        if process is not None and process != n_out:
            raise ChannelsError(f"{path}: two different processes given: {n_out!r} and {process!r}")
        process = n_out
        try:
            n_out = len(parse_process(process)[1])
        except ValueError as exc:
            raise ChannelsError(f"{path}: cannot check the file against the process: {exc}") from None
    if isinstance(n_out, bool) or not isinstance(n_out, int) or n_out < 2:
        raise ChannelsError(f"{path}: n_out must be an integer >= 2 (final-state particles), got {n_out!r}")
    data = _read(path)
    file_process, file_n_out = _file_process(path, data)
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ChannelsError(f"{path}: file: unknown key(s) {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}")
    if process is not None:
        try:
            ok = process_matches(file_process, process)
        except ValueError as exc:
            raise ChannelsError(f"{path}: cannot check the file against the process: {exc}") from None
        if not ok:
            raise ChannelsError(
                f"{path}: line 1: the file is for process {file_process!r}, not {process!r}"
                " (q / q~ in a file stand for any light quark / antiquark; the order must match)"
            )
    if n_out != file_n_out:
        raise ChannelsError(
            f"{path}: line 1: the file's process {file_process!r} has {file_n_out} final-state particles,"
            f" the process has {n_out}"
        )
    masses = tuple(float(m) for m in masses) if masses is not None else (0.0,) * n_out
    if len(masses) != n_out:
        raise ChannelsError(f"{path}: {len(masses)} masses given for {n_out} final-state particles")
    ctx = _Context(path, n_out, file_process)

    defaults = data.get("defaults", {}) or {}
    if not isinstance(defaults, dict):
        raise ctx.error(_line(defaults, 0), "'defaults' must be a mapping of propagator options")
    base = {"s0_frac": s0_frac}
    base.update(_options(ctx, _line(defaults, 0), defaults, {"nu", "s0_frac", "smin_frac"}, {}, "defaults"))

    entries = data.get("channels")
    if not isinstance(entries, list) or not entries:
        raise ctx.error(_line(entries, 0), "'channels' must be a non-empty list of channels")
    channels, names = [], []
    for i, entry in enumerate(entries):
        line = _line(entry, _line(entries, 0))
        ctx.where = f"channel {i}"
        if not isinstance(entry, dict):
            raise ctx.error(line, f"a channel must be a mapping with one of 'rambo', 's', 't'; got {entry!r}")
        name = str(entry.get("name", f"channel{i}"))
        ctx.where = f"channel {i} ({name!r})"
        if name in names:
            raise ctx.error(line, f"duplicate channel name {name!r}")
        unknown = set(entry) - _CHANNEL_KEYS
        if unknown:
            raise ctx.error(line, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_CHANNEL_KEYS)}")
        kinds = [k for k in ("rambo", "s", "t") if k in entry]
        if len(kinds) != 1:
            raise ctx.error(line, f"a channel needs exactly one of 'rambo', 's', 't'; got {kinds or 'none'}")
        channels.append(_build(ctx, kinds[0], entry[kinds[0]], line, base, masses))
        names.append(name)
    return ChannelSet(channels, names, n_out, sqrt_s, process=file_process, source=path)


def _build(ctx, kind, value, line, defaults, masses):
    if kind == "rambo":
        if value is not True:
            raise ctx.error(line, f"'rambo' must be true, got {value!r}")
        if any(m != 0.0 for m in masses):
            raise ctx.error(line, "the rambo channel is for massless final states only")
        return RamboChannel(ctx.n_out)
    b = _Builder(ctx, defaults, masses)
    line = _line(value, line)
    if kind == "s":
        if not isinstance(value, list):
            raise ctx.error(line, f"'s' must be a list of blocks (the split of the whole final state), got {value!r}")
        nodes = b.chain(value, line)
        if len(nodes) < 2:
            raise ctx.error(line, "'s' needs at least two blocks (the split of the whole final state)")
        b.check_complete(line)
        root = b.split(nodes)
    else:
        opts = {}
        if isinstance(value, dict):
            if "chain" not in value:
                raise ctx.error(line, f"a t mapping needs the key 'chain' (a list of blocks), got {sorted(value)}")
            opts = dict(value)
            value = opts.pop("chain")
            line = _line(value, line)
        if not isinstance(value, list):
            raise ctx.error(line, f"a t chain must be a list of blocks, got {value!r}")
        o = _options(ctx, line, opts, _T_OPTIONS, defaults, "a t chain")
        exchange = TExchange(o.get("nu", 1.0), o.get("mass", 0.0), o.get("s0_frac", 0.0))
        if exchange.nu >= 1.0 and exchange.mass == 0.0 and exchange.s0_frac == 0.0:
            raise ctx.error(line, f"t chain: nu = {exchange.nu} >= 1 with a massless exchange needs s0_frac > 0")
        nodes = b.chain(value, line)
        if len(nodes) < 2:
            raise ctx.error(line, "a t chain needs at least two blocks")
        b.check_complete(line)
        root = b.split(nodes, None, exchange)
    return TreeChannel(root, ctx.n_out, masses)


def find_channels_file(process: str, directory: str | Path | None = None) -> Path:
    """The one ``*.yaml`` file in ``directory`` (default :data:`CHANNELS_DIR`) whose process matches
    ``process``; :class:`ChannelsError` if none or several do."""
    directory = Path(directory) if directory is not None else CHANNELS_DIR
    try:
        parse_process(process)
    except ValueError as exc:
        raise ChannelsError(str(exc)) from None
    hits = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = _read(path)
            file_process = data.get("process")
            if isinstance(file_process, str) and process_matches(file_process, process):
                hits.append(path)
        except (ChannelsError, ValueError):
            continue
    if len(hits) != 1:
        found = "no channels file" if not hits else f"several channels files ({', '.join(map(str, hits))})"
        raise ChannelsError(f"{found} in {directory} for process {process!r}")
    return hits[0]


#: alias of :func:`find_channels_file`
find_channels = find_channels_file
