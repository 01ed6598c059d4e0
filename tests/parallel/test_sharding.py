"""Sweeps and multi-start designs split over 8 simulated CPU devices equal the one-device results.

The device count is fixed when JAX starts, so the 8-device run is a subprocess
(``XLA_FLAGS=--xla_force_host_platform_device_count=8``); this process computes the one-device reference
meanwhile.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import magwidgets as mw
from magwidgets.core.sharding import batch_mesh, pad_batch, padded_length

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import sharded_run  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def eight_devices(tmp_path_factory):
    """Results of sharded_run.compute("auto") on 8 devices, and of compute("one") here."""
    output = tmp_path_factory.mktemp("sharding") / "eight.npz"
    environment = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
    process = subprocess.Popen([sys.executable, str(HERE / "sharded_run.py"), str(output)], env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        reference = sharded_run.compute("one")
        log, _ = process.communicate(timeout=240)
    finally:
        process.kill()
    assert process.returncode == 0, log[-3000:]
    with np.load(output) as archive:
        return reference, dict(archive)


def test_the_eight_device_run_split_its_work(eight_devices):
    _, eight = eight_devices
    assert eight["device_count"] == 8
    assert eight["sweep_devices"] == 8 and eight["spin_devices"] == 8
    assert eight["adam11_devices"] == 8 and eight["lm3_devices"] == 3
    assert eight["adam1_devices"] == 8 and eight["lm1_devices"] == 8  # one start: its 15 points split instead


# Identical means within 1e-12 e^2/h: each device compiles the same per-point arithmetic for a shorter batch, and
# XLA may vectorise a batch of 13 differently from one of 101 (1 ulp on the 651-point seed 004 sweep). These small
# cases came out bit for bit here; Levenberg-Marquardt with one start per device differs by ~1e-14 because XLA
# compiles a batch of one start differently from a batch of three (the same shows on one device between
# n_starts=1 and 3).
def test_sweeps_are_identical_to_one_device(eight_devices):
    one, eight = eight_devices
    for name in ("sweep", "spin"):
        assert eight[name].shape == (11, 3)
        np.testing.assert_allclose(eight[name], one[name], rtol=0, atol=1e-12)


def test_multistart_designs_match_one_device(eight_devices):
    one, eight = eight_devices
    assert eight["adam11_loss"].shape == (sharded_run.STEPS + 1, 11)
    assert eight["adam1_loss"].shape == (sharded_run.STEPS + 1,)
    for name in sharded_run.DESIGNS:
        for field in ("loss", "family", "onsite"):
            np.testing.assert_allclose(eight[f"{name}_{field}"], one[f"{name}_{field}"], rtol=0, atol=1e-12,
                                       err_msg=f"{name} {field}")


def test_padding_repeats_the_last_item_and_one_device_needs_no_mesh():
    batch = {"a": np.arange(5.0), "b": np.arange(10).reshape(5, 2)}
    padded = pad_batch(batch, 8)
    np.testing.assert_array_equal(padded["a"], [0, 1, 2, 3, 4, 4, 4, 4])
    assert padded["b"].shape == (8, 2) and (padded["b"][5:] == [8, 9]).all()
    assert batch_mesh(100) is None or batch_mesh(100).size > 1  # None here unless XLA_FLAGS gave more devices
    assert batch_mesh(100, "one") is None
    with pytest.raises(ValueError, match="devices must be one of"):
        mw.conductance(mw.Wire(4, 4), np.full((4, 4), 4.0), 0.0, 1.0, devices="gpu")


def test_padded_length_is_the_next_multiple_of_the_mesh():
    class Mesh:
        size = 8
    assert [padded_length(n, Mesh) for n in (1, 8, 9, 33)] == [8, 8, 16, 40]
