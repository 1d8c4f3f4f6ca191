from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def examples():
    """The example configs shipped in examples/."""
    return sorted((ROOT / "examples").glob("*.yaml"))


@pytest.fixture(scope="module")
def one_thread():
    """Small batched tensors: one thread is faster than two fighting over a shared machine.
    Use with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def dy_run():
    """A small p p -> Z/gamma* -> mu+ mu- run with the built-in matrix elements (seconds to train):
    a ``nis integrate`` config as a dict (copy it before changing it)."""
    return {
        "process": "dy",
        "seed": 2,
        "integrand": {
            "matrix_element": "p p -> mu+ mu-", "sqrt_s": 13000.0, "pdf": "NNPDF31_nnlo_as_0118_mc",
            "mass_window": [66, 116], "resonance": {"mass": 91.1876, "width": 2.4952}, "scale": 91.1876,
            "cuts": {"pt_min": 20, "rapidity_max": 2.5},
        },
        "training": {"calls": 4000, "batch_size": 1000},
        "integration": {"calls": 8000, "validation_calls": 2000},
    }
