"""The one device lookup: names, CUDA availability, clear errors."""

from __future__ import annotations

import pytest
import torch

from spikesat.codecs import CodecTrainConfig
from spikesat.train import TrainConfig, resolve_device
from spikesat.train.device import check_device


def test_cpu_and_auto() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


@pytest.mark.parametrize("name", ["gpu", "CUDA", "cuda:x", "", "tpu"])
def test_bad_device_names_are_refused_with_the_choices(name: str) -> None:
    with pytest.raises(ValueError, match=r"'auto', 'cpu', 'cuda' or 'cuda:N'"):
        resolve_device(name)
    with pytest.raises(ValueError, match="device must be"):
        TrainConfig(device=name)
    with pytest.raises(ValueError, match="device must be"):
        CodecTrainConfig(device=name)


def test_non_string_device_is_refused() -> None:
    with pytest.raises(ValueError, match="device must be"):
        check_device(0)


def test_missing_cuda_gives_a_clear_error() -> None:
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")
    else:
        assert resolve_device("cuda").type == "cuda"
        assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ValueError, match="CUDA GPU"):
        resolve_device(f"cuda:{count}")
