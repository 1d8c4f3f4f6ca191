"""nis.device.torch_device: a named device is checked before any work, with a message that says why."""

import pytest
import torch

from nis.device import torch_device


def test_cpu_is_always_there():
    assert torch_device("cpu") == torch.device("cpu")
    assert torch_device(torch.device("cpu")).type == "cpu"


@pytest.mark.parametrize("name, message", [("gpu", "is not a torch device"), ("mps", "nis runs on cpu or cuda"),
                                           ("cuda:99", "CUDA GPU")])
def test_devices_that_are_not_here_are_refused_with_the_reason(name, message):
    with pytest.raises(ValueError, match=message):
        torch_device(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_a_gpu_says_so():
    with pytest.raises(ValueError, match="sees no CUDA GPU here; use cpu"):
        torch_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_the_gpus_that_exist_are_accepted():
    assert torch_device("cuda").type == "cuda"
    assert torch_device(f"cuda:{torch.cuda.device_count() - 1}").index == torch.cuda.device_count() - 1
