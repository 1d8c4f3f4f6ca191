"""Build and install nis, with its C++ matrix-element bridge (the extension nis._bridge: bridge,
built-in providers and pybind11 module) and the example provider library written in C."""

import os
import sys
import sysconfig
from glob import glob

from setuptools import Extension, find_packages, setup

try:
    from pybind11.setup_helpers import ParallelCompile, Pybind11Extension, build_ext
except ImportError as exc:  # only without build isolation: pyproject.toml lists pybind11
    raise SystemExit(f"building nis needs pybind11 ({exc}): run `python -m pip install 'pybind11>=2.12'` first")

HERE = os.path.dirname(os.path.abspath(__file__))


def sources(pattern):
    """Files matching pattern under this directory, as sorted relative paths (what setuptools wants)."""
    return sorted(os.path.relpath(p, HERE) for p in glob(os.path.join(HERE, pattern)))


# At most NIS_BUILD_JOBS (default 2) compilers at once.
ParallelCompile("NIS_BUILD_JOBS", default=2).install()

UNIX = sys.platform != "win32"
BRIDGE = Pybind11Extension(
    "nis._bridge",
    sources("cpp/src/*.cpp") + sources("cpp/src/providers/*.cpp") + sources("cpp/python/*.cpp"),
    include_dirs=["cpp/include"],
    cxx_std=17,
    extra_compile_args=["-O2", "-g0", "-Wall", "-Wextra"] if UNIX else [],
    libraries=["dl"] if sys.platform.startswith("linux") else [],
)
# Not a Python module: a provider library in plain C (nis_provider_create), placed next to
# nis/bridge/ so nis.bridge.example_library() finds it; tests load it by path.
EXAMPLE = Extension(
    "nis.bridge.libnis_ee_mumu",
    sources("cpp/examples/ee_mumu_c/*.c"),
    include_dirs=["cpp/include"],
    extra_compile_args=["-O2", "-g0", "-std=c99", "-Wall", "-Wextra"] if UNIX else [],
)


def sherpa_provider():
    """The Sherpa provider library (nis.bridge.libnis_sherpa) when Sherpa is installed, else None."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("sherpa_install", os.path.join(HERE, "nis/bridge/sherpa_install.py"))
    where = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(where)
    prefix = where.environment_sherpa_prefix()
    if prefix is None:
        print(f"nis: Sherpa not found, its provider is not built (set-up: {where.SETUP_HINT})", file=sys.stderr)
        return None
    libdir = os.path.join(prefix, "lib", "SHERPA-MC")
    return Extension(
        "nis.bridge.libnis_sherpa",
        sources("cpp/sherpa/sherpa_provider.cpp"),
        include_dirs=["cpp/include", os.path.join(prefix, "include", "SHERPA-MC")],
        language="c++",
        extra_compile_args=["-std=c++17", "-O2", "-g0", "-Wall", "-Wno-unused-parameter"],
        # Sherpa's libraries do not record their dependencies on each other: link them all and keep
        # them (--no-as-needed must come before the -l flags, so they go here rather than libraries=)
        extra_link_args=["-Wl,--no-as-needed"] + [f"-l{name}" for name in where.sherpa_libraries(prefix)],
        library_dirs=[libdir],
        runtime_library_dirs=[libdir],
    )


SHERPA = sherpa_provider() if UNIX else None

# Python <= 3.12 has a standard-library module called 'nis' that would shadow this package;
# the start-up hook nis-import-fix.pth (see _nis_import_fix.py) goes into site-packages, for
# wheels and editable installs alike, as a data file placed relative to the prefix.
SITE_PACKAGES = os.path.relpath(sysconfig.get_path("purelib"), sys.prefix)


setup(
    name="nis",
    version="0.1.0",
    description="Neural importance sampling for LHC event generators",
    packages=find_packages(include=["nis", "nis.*"]),
    py_modules=["_nis_import_fix"],
    data_files=[(SITE_PACKAGES, ["nis-import-fix.pth"])],
    python_requires=">=3.10",
    install_requires=[
        # torch: a range that the local CPU build (2.13.0) satisfies; never a bare 'torch'
        "torch>=2.2,<2.15",
        "numpy>=1.24",
        "scipy>=1.10",
        "vegas>=6.0",
        "pyyaml>=6.0",
        "tqdm>=4.60",
        "h5py>=3.8",  # event files (nis integrate --hdf5, nis generative)
        "matplotlib>=3.7",  # plots of nis bench and nis generative
    ],
    extras_require={
        "test": ["pytest>=7", "pytest-benchmark>=4", "pylhe>=0.8"],
        "bench": ["madnis==1.0.0", "madspace==0.2.1"],
        # nis shower, nis unfold, nis jetimages: Pythia 8.317.2 is the newest release with a
        # prebuilt wheel (8.318.0 is a source release that compiles for ~1 hour on 2 cores)
        "shower": ["pythia8mc==8.317.2", "fastjet>=3.4"],
        # nis generate --workers/--scheduler: generation fanned out over Dask
        "production": ["dask[distributed]>=2024.1"],
    },
    entry_points={"console_scripts": ["nis=nis.cli:main"]},
    ext_modules=[BRIDGE, EXAMPLE] + ([SHERPA] if SHERPA else []),
    cmdclass={"build_ext": build_ext},
    zip_safe=False,
)
