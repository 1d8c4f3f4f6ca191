"""The C++ side through its own build: configure and build cpp/ with CMake (the bridge library,
every built-in provider, the example C provider and one test executable per cpp/tests/test_*.cpp)
and run ctest, so `pytest` also runs the C++ physics and bridge tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Kept between runs so rebuilds are incremental; NIS_CMAKE_BUILD_DIR moves it.
BUILD = Path(os.environ.get("NIS_CMAKE_BUILD_DIR", ROOT / "build" / "pytest-cmake"))
JOBS = os.environ.get("NIS_BUILD_JOBS", "2")


def run(cmd: list[str], timeout: float) -> None:
    done = subprocess.run(cmd, cwd=BUILD, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}"


@pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("ctest") is None,
                    reason="cmake/ctest not installed: the C++ tests need CMake >= 3.18 (apt-get install cmake)")
def test_cmake_build_and_ctest():
    BUILD.mkdir(parents=True, exist_ok=True)
    # The Python module is built and tested by pip install / tests/test_bridge.py; leave it out here.
    run(["cmake", "-S", str(ROOT), "-B", str(BUILD), "-DNIS_BUILD_PYTHON=OFF"], timeout=300)
    run(["cmake", "--build", str(BUILD), "-j", JOBS], timeout=1200)
    run(["ctest", "--output-on-failure", "-j", JOBS], timeout=600)
