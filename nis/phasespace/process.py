"""Process strings such as ``"e+ e- -> q q~ g"``: parsing and matching a channels file to a process.

A process string is two incoming particle names, ``->``, and the outgoing names, separated by
spaces; particles are numbered 1, 2 (incoming) and 3, 4, ... (outgoing) in that order. Names are
compared token by token, in order, after normalising ``xbar`` to ``x~``. In a channels file the
wildcard ``q`` stands for any light quark (``d u s c b``) and ``q~`` for any light antiquark, each
token on its own (channels depend on the topology, not on the flavour): the file
``"e+ e- -> q q~ g"`` matches ``"e+ e- -> d d~ g"`` and ``"e+ e- -> b b~ g"``, but not
``"e+ e- -> d~ d g"`` (the order fixes the numbering).
"""

from __future__ import annotations

__all__ = ["LIGHT_QUARKS", "parse_process", "process_matches", "normalise_process"]

LIGHT_QUARKS = ("d", "u", "s", "c", "b")
_WILDCARDS = {"q": set(LIGHT_QUARKS) | {"q"}, "q~": {f"{q}~" for q in LIGHT_QUARKS} | {"q~"}}


def _token(name: str) -> str:
    return name[:-3] + "~" if name.endswith("bar") and len(name) > 3 else name


def parse_process(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``"a b -> c d ..."`` -> (incoming names, outgoing names); ValueError unless 2 -> at least 2."""
    if not isinstance(text, str) or text.count("->") != 1:
        raise ValueError(f"process {text!r} is not of the form 'a b -> c d ...'")
    left, right = text.split("->")
    incoming = tuple(_token(t) for t in left.split())
    outgoing = tuple(_token(t) for t in right.split())
    if len(incoming) != 2:
        raise ValueError(f"process {text!r} has {len(incoming)} incoming particles; 2 are needed")
    if len(outgoing) < 2:
        raise ValueError(f"process {text!r} has {len(outgoing)} outgoing particle(s); at least 2 are needed")
    return incoming, outgoing


def normalise_process(text: str) -> str:
    """Canonical spelling: single spaces, ``xbar`` -> ``x~``."""
    incoming, outgoing = parse_process(text)
    return " ".join(incoming) + " -> " + " ".join(outgoing)


def process_matches(file_process: str, process: str) -> bool:
    """True if a channels file written for ``file_process`` (which may use the wildcards ``q``,
    ``q~``) serves ``process``."""
    fi, fo = parse_process(file_process)
    pi, po = parse_process(process)
    if len(fi) != len(pi) or len(fo) != len(po):
        return False
    return all(p == f or p in _WILDCARDS.get(f, ()) for f, p in zip(fi + fo, pi + po))
