"""The node's hardware: every core and the best device by default, a device not present refused by name."""

from __future__ import annotations

import pytest

from node.errors import ConfigError
from node.ml.device import DeviceName, Hardware, best_device, cores, hardware, present


def test_the_default_is_every_core_and_the_best_device_present() -> None:
    found = hardware()
    assert found.threads == cores() >= 1
    assert found.device == best_device()
    assert hardware(3, "cpu") == Hardware(threads=3, device="cpu")
    assert found.describe().startswith(f"{found.device}, {found.threads} thread")


@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_a_device_this_machine_lacks_is_refused_naming_the_flag(device: DeviceName) -> None:
    # Runs on every machine: a device that is present is taken, one that is not is refused by name.
    if present(device):
        assert hardware(device=device).device == device
    else:
        with pytest.raises(ConfigError, match=rf"--device {device}: no {device} device on this machine"):
            hardware(device=device)
    with pytest.raises(ConfigError, match=r"--device tpu: expected one of cpu, cuda, mps"):
        hardware(device="tpu")
