"""``magwidgets design --coordinator ... --num-processes 2 --process-id I``: two jax.distributed processes on
127.0.0.1 with Gloo CPU collectives give the one-process result, and only process 0 writes files."""
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from magwidgets.cli import main
from magwidgets.io import load_design_result

pytestmark = pytest.mark.slow

# 3 starts over the 2 processes' devices (padded to 4); 5 x 3 grid points for the target sweep (padded to 6).
CONFIG = """
[wire]
length = 6
width = 6
lead = "ideal"

[grid]
flux = {start = 0.0, stop = 0.15, num = 5}
energy = {start = -1.0, stop = 1.0, num = 3}

[target]
kind = "random_potential"
amplitude = 0.5
fixed = [[0, 0, -1.0]]

[params]
kind = "site_potential"
fixed = [[0, 0, -1.0]]
init_range = [-0.5, 0.5]

[loss]
kind = "mse"

[optimizer]
name = "adam"
learning_rate = 0.02
schedule = "constant"

[run]
steps = 6
seed = 1
n_starts = 3
snapshot_every = 3
checkpoint_every = 3
output = "unused.npz"
"""


def _gloo_available() -> bool:
    from jax._src.lib import xla_client

    return hasattr(xla_client._xla, "make_gloo_tcp_collectives")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(not _gloo_available(), reason="this jaxlib has no Gloo CPU collectives for jax.distributed")
def test_two_processes_give_the_one_process_result(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(CONFIG)
    coordinator = f"127.0.0.1:{_free_port()}"
    # One CPU device per process whatever the caller's XLA_FLAGS: the mesh then spans both processes.
    environment = {name: value for name, value in os.environ.items() if name != "XLA_FLAGS"}
    environment["JAX_PLATFORMS"] = "cpu"
    environment["MAGWIDGETS_CPU_DEVICES"] = "1"  # not one per core (configure())
    processes = [
        subprocess.Popen([sys.executable, "-m", "magwidgets.cli", "design", str(config),
                          "--output", str(tmp_path / f"process{rank}.npz"), "--coordinator", coordinator,
                          "--num-processes", "2", "--process-id", str(rank)],
                         cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for rank in (0, 1)
    ]
    try:
        # The one-process reference, here, while the two processes run.
        assert main(["design", str(config), "--output", str(tmp_path / "single.npz")]) == 0
        logs = [process.communicate(timeout=240)[0] for process in processes]
    finally:
        for process in processes:
            process.kill()
    for process, log in zip(processes, logs):
        assert process.returncode == 0, log[-3000:]
        assert "2 devices in all (1 here)" in log, log[-3000:]
    assert not (tmp_path / "process1.npz").exists() and not (tmp_path / "process1.npz.checkpoint.npz").exists()
    assert (tmp_path / "process0.npz.checkpoint.npz").exists()
    two, metadata = load_design_result(str(tmp_path / "process0.npz"))
    one, _ = load_design_result(str(tmp_path / "single.npz"))
    assert sorted(two) == sorted(one) and metadata["steps"] == 6 and two["family_loss"].shape == (3,)
    for name in one:  # bit for bit here; 1e-12 is what the sharded path promises
        np.testing.assert_allclose(two[name], one[name], rtol=0, atol=1e-12, err_msg=name)


def test_distributed_options_go_together(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["design", "run.toml", "--coordinator", "127.0.0.1:1234"])
    assert exit_.value.code == 2 and "go together" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["design", "run.toml", "--coordinator", "127.0.0.1:1234", "--num-processes", "2", "--process-id", "2"])
    assert "0 <= I < N" in capsys.readouterr().err
