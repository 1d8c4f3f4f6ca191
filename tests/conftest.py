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
