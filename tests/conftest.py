from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def examples():
    """The example configs shipped in examples/."""
    return sorted((ROOT / "examples").glob("*.yaml"))
