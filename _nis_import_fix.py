"""Let ``import nis`` find this package on Python 3.10-3.12.

Those Pythons ship a deprecated standard-library extension module also called ``nis`` (the
NIS/YP client, removed in 3.13). It lives in ``lib-dynload``, which comes before
``site-packages`` on ``sys.path``, so without help ``import nis`` finds it and
``import nis.cli`` fails with "'nis' is not a package". ``nis-import-fix.pth`` runs
:func:`install` at start-up: a finder, first on ``sys.meta_path``, that answers for the name
``nis`` alone with the first *package* of that name that the other finders know. Nothing else
is touched; on Python 3.13+ it does nothing.
"""

from __future__ import annotations

import importlib.machinery
import sys

NAME = "nis"


class _PackageFirst:
    """Meta-path finder for ``nis``: the first package called ``nis``, never the C module."""

    def find_spec(self, name, path=None, target=None):
        if name != NAME or path is not None:
            return None
        for entry in sys.path:
            spec = importlib.machinery.PathFinder.find_spec(name, [entry])
            if spec is not None and spec.submodule_search_locations is not None:
                return spec
        for finder in sys.meta_path:  # e.g. setuptools' finder of an editable install
            if finder is self or finder is importlib.machinery.PathFinder or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.submodule_search_locations is not None:
                return spec
        return None


def install() -> None:
    if sys.version_info >= (3, 13) or any(isinstance(f, _PackageFirst) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _PackageFirst())


if __name__ == "__main__":
    # Editable installs (pip install -e) leave data files out, so setup.sh places the hook
    # itself: `python _nis_import_fix.py` copies nis-import-fix.pth into site-packages.
    import shutil
    import sysconfig
    from pathlib import Path

    source = Path(__file__).with_name("nis-import-fix.pth")
    target = Path(sysconfig.get_path("purelib")) / source.name
    shutil.copyfile(source, target)
    print(f"installed {target}")
