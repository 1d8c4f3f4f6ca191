"""Where the example provider library (plain C, ``cpp/examples/ee_mumu_c``) was built to."""

from __future__ import annotations

from pathlib import Path

EXAMPLE_STEM = "libnis_ee_mumu"


def example_library() -> Path | None:
    """Path of the C example provider (e+ e- -> mu+ mu-, photon only) that ``pip install`` builds
    next to this module, or None when the build left it out.

    Load it with ``MatrixElement("e+ e- -> mu+ mu-", library=example_library())``.
    """
    here = Path(__file__).resolve().parent
    found = sorted(here.glob(EXAMPLE_STEM + "*.so")) + sorted(here.glob(EXAMPLE_STEM + "*.dylib"))
    return found[0] if found else None
