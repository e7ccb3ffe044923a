"""Device choice with CUDA / MPS availability simulated, precision per device, CPU threads."""

from __future__ import annotations

import pytest
import torch

from clipdesk.common.errors import DeviceError
from clipdesk.model import device as dev


@pytest.fixture
def machine(monkeypatch):
    """Pretend the machine has the given GPUs."""

    def configure(cuda: int = 0, mps: bool = False, bf16: bool = True) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: f"Fake GPU {i}")
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
        monkeypatch.setattr(dev, "_mps_available", lambda: mps)

    return configure


@pytest.mark.parametrize(
    "cuda,mps,expected",
    [(2, True, "cuda:0"), (1, False, "cuda:0"), (0, True, "mps"), (0, False, "cpu")],
)
def test_auto_prefers_cuda_then_mps_then_cpu(machine, cuda, mps, expected):
    machine(cuda=cuda, mps=mps)
    assert dev.select_device("auto") == torch.device(expected)
    assert dev.select_device(None) == torch.device(expected)
    assert dev.available_devices()[-1].name == "cpu"


def test_forcing_a_present_device(machine):
    machine(cuda=2, mps=False)
    assert dev.select_device("cuda") == torch.device("cuda:0")
    assert dev.select_device("CUDA:1") == torch.device("cuda:1")
    assert dev.select_device(" cpu ") == torch.device("cpu")


@pytest.mark.parametrize("asked", ["cuda", "cuda:0", "mps"])
def test_forcing_an_absent_device_lists_what_is_there(machine, asked):
    machine(cuda=0, mps=False)
    with pytest.raises(DeviceError, match=r"not available on this machine \(available: cpu\)"):
        dev.select_device(asked)


def test_absent_device_falls_back_only_when_allowed(machine, caplog):
    machine(cuda=0, mps=True)
    with pytest.raises(DeviceError, match="available: cpu, mps"):
        dev.select_device("cuda:1")
    assert dev.select_device("cuda:1", allow_fallback=True) == torch.device("mps")
    assert "not available" in caplog.text
    machine(cuda=1, mps=False)
    with pytest.raises(DeviceError, match="available: cpu, cuda:0"):
        dev.select_device("cuda:3")


def test_unknown_device_name(machine):
    machine()
    with pytest.raises(DeviceError, match="unknown device 'tpu'") as err:
        dev.select_device("tpu", allow_fallback=True)
    assert "auto" in err.value.hint


def test_precision_per_device(machine):
    machine(cuda=1, bf16=True)
    assert dev.autocast_dtype(torch.device("cuda:0")) == torch.bfloat16
    machine(cuda=1, bf16=False)
    assert dev.autocast_dtype(torch.device("cuda:0")) == torch.float16
    assert dev.autocast_dtype(torch.device("mps")) == torch.float16
    assert dev.autocast_dtype(torch.device("cpu")) is None


def test_cpu_threads_from_env(monkeypatch):
    monkeypatch.setenv(dev.THREADS_ENV, "3")
    assert dev.default_cpu_threads() == 3
    monkeypatch.setenv(dev.THREADS_ENV, "lots")
    monkeypatch.setattr(dev, "usable_cpus", lambda: 4)
    assert dev.default_cpu_threads() == 4
    monkeypatch.setattr(dev, "usable_cpus", lambda: 16)
    assert dev.default_cpu_threads() == 15


def test_configure_cpu_threads(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv(dev.THREADS_ENV, raising=False)
        monkeypatch.setattr(dev, "usable_cpus", lambda: 64)
        torch.set_num_threads(1)
        assert dev.configure_cpu_threads() == 1  # a deliberate lower count is kept
        monkeypatch.setattr(dev, "usable_cpus", lambda: 1)
        torch.set_num_threads(2)
        assert dev.configure_cpu_threads() == 1  # oversubscription is corrected
        assert torch.get_num_threads() == 1
        monkeypatch.setenv(dev.THREADS_ENV, "2")
        assert dev.configure_cpu_threads() == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_load_model_on_an_absent_device(machine, tmp_path):
    from clipdesk.model import load_model
    from clipdesk.model.testing import tiny_random_model

    machine(cuda=0, mps=False)
    folder = tiny_random_model(tmp_path)
    with pytest.raises(DeviceError):
        load_model(folder, device="cuda")
    assert load_model(folder, device="cuda", allow_fallback=True).device == "cpu"
