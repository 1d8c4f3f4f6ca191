#!/usr/bin/env bash
# One-command set-up on a fresh Debian machine: compiler and CMake, Python packages, nis itself
# (editable, with its C++ bridge), then the CMake build of cpp/ with its C++ tests.
# torch first and pinned: the local CPU build, never a multi-GB CUDA download.
set -euo pipefail
cd "$(dirname "$0")"
# System packages: a C++17 compiler and CMake for the matrix-element bridge (cpp/).
if ! command -v g++ >/dev/null || ! command -v cmake >/dev/null; then
  SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq g++ cmake
fi
python -m pip install --upgrade-strategy only-if-needed "torch==2.13.0"
# pybind11 here too (not only as a build requirement) so --no-build-isolation installs and CMake find it.
python -m pip install --upgrade-strategy only-if-needed "pybind11>=2.12"
# Builds the C++ bridge nis._bridge and the example C provider (at most NIS_BUILD_JOBS=2 compilers).
python -m pip install --upgrade-strategy only-if-needed -e ".[test,bench]"
# Python <= 3.12 has a stdlib module 'nis'; editable installs leave out the start-up hook that
# lets `import nis` find this package from any directory, so place it (see _nis_import_fix.py).
python _nis_import_fix.py
# The C++ side on its own: libnis_me, the pybind11 module, the example provider, the ctest
# executables (`ctest --test-dir build`; `python -m pytest` runs them too, via tests/test_cpp.py).
cmake -S . -B build -DPython_EXECUTABLE="$(command -v python)"
cmake --build build -j "${NIS_BUILD_JOBS:-2}"
