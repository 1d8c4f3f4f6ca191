"""Pythia 8 through its PyPI bindings (``pythia8mc``), and FastJet's (``fastjet``).

Both are optional dependencies of nis: importing them here turns a missing package into one
message with the command that installs it, instead of an ImportError trace.
"""

from __future__ import annotations

INSTALL = "python -m pip install --only-binary pythia8mc 'pythia8mc==8.317.2' fastjet"


class MissingDependency(RuntimeError):
    """An optional package nis needs for this command is not installed."""


def load_pythia():
    """The ``pythia8mc`` module, or MissingDependency with the install command."""
    try:
        import pythia8mc
    except ImportError as exc:
        raise MissingDependency(
            f"Pythia 8 is not installed ({exc}); install it with: {INSTALL}"
            " (8.317.2 is the newest release with a prebuilt wheel), or run bash setup.sh"
        ) from None
    return pythia8mc


def load_fastjet():
    """The ``fastjet`` module, or MissingDependency with the install command."""
    try:
        import fastjet
    except ImportError as exc:
        raise MissingDependency(f"FastJet is not installed ({exc}); install it with: {INSTALL}") from None
    return fastjet


def run_settings(seed: int, mpi: bool = True, hadronisation: bool = True) -> list[str]:
    """The Pythia setting lines every nis run sets: its seed, multiple interactions, hadronisation."""
    return [
        "Random:setSeed = on",
        f"Random:seed = {seed}",
        f"PartonLevel:MPI = {'on' if mpi else 'off'}",
        f"HadronLevel:all = {'on' if hadronisation else 'off'}",
    ]
