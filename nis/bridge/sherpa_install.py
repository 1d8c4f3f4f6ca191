"""Where Sherpa is installed: PyPI's ``sherpa-mc`` puts ``Sherpa.py`` at the root of
site-packages and its headers, libraries and CMake package below it (``include/SHERPA-MC``,
``lib/SHERPA-MC``, ``share/SHERPA-MC``). Used by setup.py (without importing nis or torch) and
by :mod:`nis.bridge.sherpa`; no hand-set paths.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

SETUP_HINT = "bash setup.sh  (builds Sherpa 3 from PyPI's sherpa-mc, about 15 minutes the first time)"


def _prefix(origin: str | None) -> str | None:
    """The installation prefix for ``Sherpa.py`` at ``origin``, if its headers are there too."""
    prefix = os.path.dirname(origin) if origin else ""
    return prefix if prefix and os.path.isdir(os.path.join(prefix, "include", "SHERPA-MC")) else None


def sherpa_prefix() -> str | None:
    """The directory holding ``Sherpa.py`` for this interpreter, or None (no Sherpa installed)."""
    spec = importlib.util.find_spec("Sherpa")
    return _prefix(spec.origin if spec else None)


def environment_sherpa_prefix() -> str | None:
    """:func:`sherpa_prefix` as the environment sees it outside pip's build isolation (for
    setup.py, whose isolated interpreter does not see the target's site-packages): asks a fresh
    interpreter with the isolation variables removed."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONNOUSERSITE", "PYTHONHOME")}
    code = "import importlib.util as u; s = u.find_spec('Sherpa'); print(s.origin if s else '')"
    try:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return _prefix(out.stdout.strip())


def sherpa_libraries(prefix: str) -> list[str]:
    """Names (without lib/.so) of the libraries in Sherpa's ``SHERPA::All`` target, plus MEProcess."""
    targets = os.path.join(prefix, "share", "SHERPA-MC", "SHERPATargets.cmake")
    with open(targets) as fh:
        text = fh.read()
    block = re.search(r"set_target_properties\(SHERPA::All .*?INTERFACE_LINK_LIBRARIES \"([^\"]*)\"", text, re.S)
    names = [n.split("::", 1)[1] for n in block.group(1).split(";") if n.startswith("SHERPA::")] if block else []
    return names + ["MEProcess"]


def sherpa_executable(prefix: str | None = None) -> str | None:
    """The ``Sherpa`` executable of the installation at ``prefix`` (default: this interpreter's)."""
    prefix = prefix or sherpa_prefix()
    exe = os.path.join(prefix, "bin", "Sherpa") if prefix else ""
    return exe if exe and os.access(exe, os.X_OK) else None


def plugin_library(prefix: str | None = None) -> str | None:
    """nis' in-process integrator ``libProc_NIS.so`` where Sherpa finds it, or None (not installed:
    ``cmake --install build --component sherpa_plugin``, part of setup.sh)."""
    prefix = prefix or sherpa_prefix()
    lib = os.path.join(prefix, "lib", "SHERPA-MC", "libProc_NIS.so") if prefix else ""
    return lib if lib and os.path.exists(lib) else None
