"""Where an LHAPDF6 set lives: the directories searched for ``<dir>/<NAME>/<NAME>.info``.

In this order, without duplicates:

1. ``$LHAPDF_DATA_PATH`` and then ``$LHAPATH`` (each colon-separated, as LHAPDF reads them);
2. ``lhapdf.paths()`` when the ``lhapdf`` Python module is importable;
3. ``lhapdf-config --datadir`` when that program is on ``$PATH``;
4. the usual install locations: ``<sys.prefix>/share/LHAPDF``, ``/usr/local/share/LHAPDF``,
   ``/usr/share/LHAPDF``, ``~/.local/share/LHAPDF``;
5. Sherpa's own copy: PyPI's ``sherpa-mc`` installs its NNPDF set under
   ``<site-packages>/share/SHERPA-MC/<NAME>/`` (found next to ``Sherpa.py`` without importing it).

A name that is itself a path to a set directory (it contains a path separator) is used as is.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from .errors import PDFSetNotFoundError

ENV_VARS = ("LHAPDF_DATA_PATH", "LHAPATH")
STANDARD_DIRS = ("/usr/local/share/LHAPDF", "/usr/share/LHAPDF", "~/.local/share/LHAPDF")


@functools.lru_cache(maxsize=1)
def _lhapdf_config_datadir() -> str | None:
    """``lhapdf-config --datadir``, or None when the program is missing or fails (cached)."""
    exe = shutil.which("lhapdf-config")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--datadir"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def _lhapdf_module_paths() -> list[str]:
    """``lhapdf.paths()`` if the module imports (it is optional), else nothing."""
    if importlib.util.find_spec("lhapdf") is None:
        return []
    try:
        import lhapdf

        return [str(p) for p in lhapdf.paths()]
    except Exception:  # noqa: BLE001 - a broken optional install must not stop the search
        return []


def _sherpa_share_dirs() -> list[str]:
    """``share/SHERPA-MC`` next to this interpreter's ``Sherpa.py`` and in its site-packages."""
    dirs = []
    spec = importlib.util.find_spec("Sherpa")
    if spec is not None and spec.origin:
        dirs.append(os.path.join(os.path.dirname(spec.origin), "share", "SHERPA-MC"))
    dirs.append(os.path.join(sysconfig.get_paths()["purelib"], "share", "SHERPA-MC"))
    return dirs


def search_paths() -> list[Path]:
    """Every directory looked in for a set, in search order (existing or not), without repeats."""
    candidates: list[str] = []
    for var in ENV_VARS:
        candidates += [p for p in os.environ.get(var, "").split(os.pathsep) if p]
    candidates += _lhapdf_module_paths()
    datadir = _lhapdf_config_datadir()
    if datadir:
        candidates.append(datadir)
    candidates.append(os.path.join(sys.prefix, "share", "LHAPDF"))
    candidates += list(STANDARD_DIRS)
    candidates += _sherpa_share_dirs()
    seen, paths = set(), []
    for c in candidates:
        p = Path(os.path.expanduser(c))
        key = os.path.normpath(str(p))
        if key not in seen:
            seen.add(key)
            paths.append(p)
    return paths


def available_sets(paths: list[Path] | None = None) -> list[str]:
    """Names of the sets found on the search path (directories holding ``<NAME>/<NAME>.info``)."""
    names = set()
    for d in paths if paths is not None else search_paths():
        try:
            for sub in d.iterdir():
                if (sub / f"{sub.name}.info").is_file():
                    names.add(sub.name)
        except OSError:
            continue
    return sorted(names)


def find_set(name: str) -> Path:
    """The directory of the set ``name`` (holding ``name.info`` and the member files).

    ``name`` may also be a path to such a directory. Raises :class:`PDFSetNotFoundError` listing
    every directory looked in, and the closest set names that were found.
    """
    if os.sep in name or (os.altsep and os.altsep in name):
        d = Path(os.path.expanduser(name))
        if (d / f"{d.name}.info").is_file():
            return d
        raise PDFSetNotFoundError(
            f"{d} is not an LHAPDF set directory: it has no {d.name}.info; pass the directory that "
            "holds <NAME>.info and the <NAME>_<member>.dat files, or just the set's name",
            (str(d),),
        )
    paths = search_paths()
    for d in paths:
        if (d / name / f"{name}.info").is_file():
            return d / name
    close = difflib.get_close_matches(name, available_sets(paths), n=3, cutoff=0.6)
    hint = f" Sets with similar names that were found: {', '.join(close)}." if close else ""
    listing = "\n".join(f"  {p}" + ("" if p.is_dir() else "  (does not exist)") for p in paths)
    raise PDFSetNotFoundError(
        f"PDF set {name!r} not found: no {name}/{name}.info in any of these directories:\n{listing}\n"
        f"Install the set there (e.g. `lhapdf get {name}`, or unpack it from lhapdf.hepforge.org), or "
        f"point LHAPDF_DATA_PATH at the directory that contains {name}/.{hint}",
        tuple(str(p) for p in paths),
    )


def member_file(set_dir: Path, member: int) -> Path:
    """Path of member ``member``'s grid file: ``<set_dir>/<NAME>_<member:04d>.dat``."""
    return set_dir / f"{set_dir.name}_{member:04d}.dat"
