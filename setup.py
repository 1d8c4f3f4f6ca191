"""Build and install nis. The C++ matrix-element bridge joins this build with its own issue."""

from setuptools import find_packages, setup

setup(
    name="nis",
    version="0.1.0",
    description="Neural importance sampling for LHC event generators",
    packages=find_packages(include=["nis", "nis.*"]),
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
