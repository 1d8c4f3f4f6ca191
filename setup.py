"""Build and install nis. The C++ matrix-element bridge joins this build with its own issue."""

import os
import sys
import sysconfig

from setuptools import find_packages, setup

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
    ],
    extras_require={
        "test": ["pytest>=7", "pytest-benchmark>=4"],
        "bench": ["madnis==1.0.0", "matplotlib>=3.7"],
    },
    entry_points={"console_scripts": ["nis=nis.cli:main"]},
)
