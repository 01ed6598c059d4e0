"""``magwidgets design CONFIG.toml``: archive contents, resume (also after SIGKILL), and bad configs that fail
before writing."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from magwidgets.cli import main
from magwidgets.design.driver import checkpoint_step
from magwidgets.io import load_design_result

CONFIG = """
[wire]
length = 6
width = 6
lead = "ideal"

[grid]
flux = {{start = 0.0, stop = 0.15, num = 7}}
energy = {{start = -1.0, stop = 1.0, num = 5}}

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
name = "{optimizer}"
learning_rate = 0.02
schedule = "constant"

[run]
steps = {steps}
seed = 1
snapshot_every = 5
checkpoint_every = 5
output = "{output}"
"""


def _write(tmp_path, **fields):
    settings = dict(optimizer="adam", steps=10, output=str(tmp_path / "run.npz"))
    settings.update(fields)
    path = tmp_path / "run.toml"
    path.write_text(CONFIG.format(**settings))
    return str(path), settings["output"]


def test_design_command_writes_a_complete_archive_and_resumes(tmp_path):
    config, output = _write(tmp_path)
    assert main(["design", config]) == 0
    arrays, metadata = load_design_result(output)
    assert arrays["onsite"].shape == (6, 6) and arrays["conductance"].shape == (7, 5)
    assert arrays["loss"].shape == (11,) and arrays["truth_onsite"].shape == (6, 6)
    assert metadata["seed"] == 1 and "jax" in metadata["versions"] and "[optimizer]" in metadata["config"]
    assert main(["design", config, "--resume", "--steps", "20"]) == 0
    resumed, metadata = load_design_result(output)
    assert metadata["steps"] == 20 and resumed["loss"].shape == (21,)
    np.testing.assert_array_equal(resumed["loss"][:11], arrays["loss"])
    # The same 20 steps without the interruption.
    (tmp_path / "straight").mkdir()
    straight, straight_output = _write(tmp_path / "straight", steps=20)
    assert main(["design", straight]) == 0
    np.testing.assert_allclose(load_design_result(straight_output)[0]["loss"], resumed["loss"], rtol=0, atol=1e-10)


@pytest.mark.parametrize("edit, field", [
    (dict(optimizer="lbfgs"), "optimizer.name"),
    (dict(steps=0), "run.steps"),
    (dict(steps="ten"), "TOML"),
])
def test_bad_config_fails_before_writing(tmp_path, capsys, edit, field):
    config, output = _write(tmp_path, **edit)
    assert main(["design", config]) == 2
    assert field in capsys.readouterr().err
    assert not os.path.exists(output) and not os.path.exists(output + ".checkpoint.npz")


def test_target_shape_mismatch_names_the_field(tmp_path, capsys):
    measured = tmp_path / "measured.csv"
    np.savetxt(measured, np.ones(4), delimiter=",")
    config, output = _write(tmp_path)
    text = open(config).read().replace('kind = "random_potential"', f'file = "{measured}"')
    open(config, "w").write(text)
    assert main(["design", config]) == 2
    assert "target.values" in capsys.readouterr().err


@pytest.mark.slow
def test_a_run_killed_with_sigkill_is_offered_and_resumed_on_the_same_trajectory(tmp_path):
    config, output = _write(tmp_path, steps=3000)
    checkpoint = output + ".checkpoint.npz"
    command = [sys.executable, "-m", "magwidgets.cli", "design", config]
    run = subprocess.Popen(command, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while (checkpoint_step(checkpoint) or 0) < 100:
        assert run.poll() is None and time.monotonic() < deadline, f"ended ({run.poll()}) or stalled before step 100"
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait()
    killed_at = checkpoint_step(checkpoint)
    assert 100 <= killed_at < 3000 and not os.path.exists(output)

    again = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    assert again.returncode == 2 and f"unfinished run at step {killed_at} of 3000" in again.stderr
    assert "--resume" in again.stderr and "Traceback" not in again.stderr
    assert checkpoint_step(checkpoint) == killed_at  # the offer changed nothing

    resumed = subprocess.run(command + ["--resume"], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {checkpoint} at step {killed_at}" in resumed.stderr
    (tmp_path / "straight").mkdir()
    straight, straight_output = _write(tmp_path / "straight", steps=3000)
    assert main(["design", straight]) == 0
    np.testing.assert_allclose(load_design_result(output)[0]["loss"], load_design_result(straight_output)[0]["loss"],
                               rtol=0, atol=1e-10)


_SWEEP = """
import json, numpy as np, magwidgets as mw
wire = mw.Wire(12, 8)
onsite = 4 + np.random.default_rng(3).uniform(-1, 1, (12, 8))
print(json.dumps(np.asarray(mw.conductance(wire, onsite, np.linspace(0, 0.05, 7), 1.1)).tolist()))
"""


def test_kernels_share_compiled_programs_through_the_dashboard_cache(tmp_path, monkeypatch):
    """The second kernel loads what the first compiled, and the loaded program gives the same G to the last bit."""
    from magwidgets.cli import dashboard_environment

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    monkeypatch.delenv("MAGWIDGETS_NICENESS", raising=False)
    monkeypatch.delenv("MAGWIDGETS_CPU_DEVICES", raising=False)
    environment = dashboard_environment(str(tmp_path / "server"), 1)
    cache = environment["JAX_COMPILATION_CACHE_DIR"]
    assert cache.startswith(str(tmp_path)) and os.stat(cache).st_mode & 0o077 == 0

    def sweep():
        return subprocess.run([sys.executable, "-c", _SWEEP], env=environment, capture_output=True, text=True,
                              check=True)

    first = sweep()
    entries = set(os.listdir(cache))
    assert any("conductance_points" in entry for entry in entries)
    second = sweep()
    assert second.stdout == first.stdout
    assert set(os.listdir(cache)) == entries  # nothing recompiled
    assert ".lockfile" in entries  # reads and writes are locked (the size limit enables it)
    assert "cpu_aot_loader" not in second.stderr  # the harmless XLA feature-check lines stay out of the log
    values = json.loads(first.stdout)
    assert len(values) == 7 and all(0 < value < 8 for value in values)  # at most W = 8 open channels

    assert environment["MAGWIDGETS_NICENESS"] == "10"  # the server's pages come before the kernels' start-up
    assert environment["MAGWIDGETS_CPU_DEVICES"] == str(os.cpu_count())  # one slot: a run may use every core
    monkeypatch.delenv("MAGWIDGETS_CPU_DEVICES", raising=False)
    assert dashboard_environment(str(tmp_path / "server"), 2 * os.cpu_count())["MAGWIDGETS_CPU_DEVICES"] == "1"
    monkeypatch.setenv("MAGWIDGETS_NICENESS", "0")
    assert dashboard_environment(str(tmp_path / "server"), 1)["MAGWIDGETS_NICENESS"] == "0"  # the teacher's choice
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "teacher's choice"))
    assert dashboard_environment(str(tmp_path / "server"), 1)["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path / "teacher's choice")


def test_a_synthetic_magnetisation_keeps_to_its_angle_range_and_pinned_site(tmp_path):
    """target.angle_range and target.fixed shape the true magnetisation, and the target is that map's G."""
    import magwidgets as mw
    from magwidgets.design.config import load_config

    text = CONFIG.format(optimizer="levenberg_marquardt", steps=1, output=str(tmp_path / "run.npz"))
    text = text.replace('lead = "ideal"', 'lead = "ideal"\nspin = true\nexchange = 0.5\nlead_k = [0.5, 0.25]')
    text = text.replace('kind = "random_potential"\namplitude = 0.5\nfixed = [[0, 0, -1.0]]',
                        'kind = "random_magnetisation"\nangle_range = [0.2, 0.7]\nfixed = [[0, 0, 3.0]]')
    text = text.replace('kind = "site_potential"\nfixed = [[0, 0, -1.0]]', 'kind = "magnetisation_angles"\nfixed = '
                        '[[0, 0, 3.0]]')
    path = tmp_path / "magnet.toml"
    path.write_text(text)
    config = load_config(str(path))
    theta = config.truth["theta"]
    assert theta[0, 0] == 3.0
    free = np.delete(theta.reshape(-1), 0)
    assert free.min() >= 0.2 and free.max() < 0.7 and np.ptp(free) > 0.3
    wire = mw.Wire(6, 6, lead="ideal", spin=True, exchange=0.5, lead_k=(0.5, 0.25))
    expected = mw.conductance(wire, np.zeros((6, 6)), np.linspace(0, 0.15, 7), np.linspace(-1, 1, 5), theta)
    np.testing.assert_allclose(config.target, expected, atol=1e-12)
