#!/usr/bin/env bash
# One-command set-up on a fresh Debian machine: compiler and CMake, Python packages, nis itself
# (editable, with its C++ bridge), then the CMake build of cpp/ with its C++ tests.
# torch first and pinned: the local CPU build, never a multi-GB CUDA download.
set -euo pipefail
cd "$(dirname "$0")"
# System packages: a C++17 compiler and CMake for the matrix-element bridge (cpp/); gfortran,
# libzip and Debian's swig 4.1 for Sherpa (PyPI's newest swig cannot wrap Sherpa's interface).
NEED=""
for tool in g++ cmake gfortran swig; do command -v "$tool" >/dev/null || NEED="$NEED $tool"; done
[ -e /usr/include/zip.h ] || NEED="$NEED libzip-dev"
if [ -n "$NEED" ]; then
  SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq g++ cmake gfortran swig libzip-dev
fi
python -m pip install --upgrade-strategy only-if-needed "torch==2.13.0"
# Sherpa 3 from PyPI's sdist with its Python bindings, without downloading LHAPDF or libzip
# (about 15 minutes on 2 cores the first time; pip caches the wheel, so later set-ups reuse it).
if ! python -c "import Sherpa" 2>/dev/null; then
  python -m pip install --upgrade-strategy only-if-needed scikit-build-core setuptools wheel
  python -m pip install --no-build-isolation "sherpa-mc==3.0.3b2" -C "cmake.args=-Wno-dev;\
-DCMAKE_BUILD_TYPE=Release;-DCMAKE_POLICY_VERSION_MINIMUM=3.5;-DSHERPA_ENABLE_INSTALL_LIBZIP=OFF;\
-DSHERPA_ENABLE_LHAPDF=OFF;-DSHERPA_ENABLE_INSTALL_LHAPDF=OFF;-DSHERPA_ENABLE_PYTHON=ON;\
-DSHERPA_ENABLE_BINRELOC=ON;-DSHERPA_ENABLE_EXAMPLES=OFF"
fi
# pybind11 here too (not only as a build requirement) so --no-build-isolation installs and CMake find it.
python -m pip install --upgrade-strategy only-if-needed "pybind11>=2.12"
# Builds the C++ bridge nis._bridge and the example C provider (at most NIS_BUILD_JOBS=2 compilers).
# The shower extra (Pythia 8, FastJet) only from prebuilt wheels, never a one-hour compile.
python -m pip install --upgrade-strategy only-if-needed --only-binary pythia8mc -e ".[test,bench,shower,production]"
# Python <= 3.12 has a stdlib module 'nis'; editable installs leave out the start-up hook that
# lets `import nis` find this package from any directory, so place it (see _nis_import_fix.py).
python _nis_import_fix.py
# The C++ side on its own: libnis_me, the pybind11 module, the example provider, the ctest
# executables (`ctest --test-dir build`; `python -m pytest` runs them too, via tests/test_cpp.py).
cmake -S . -B build -DPython_EXECUTABLE="$(command -v python)"
cmake --build build -j "${NIS_BUILD_JOBS:-2}"
# nis' in-process Sherpa integrator (libProc_NIS.so) into Sherpa's library directory, where an
# unmodified Sherpa finds it for `INTEGRATOR: NIS` (nothing to do where Sherpa is not installed).
cmake --install build --component sherpa_plugin
