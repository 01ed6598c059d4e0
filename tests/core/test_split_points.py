"""A sweep's points split over the CPU devices that ``mw.configure()`` creates: the same values and gradients.

The device count is fixed when JAX starts, so the two-device computation runs in a fresh interpreter.
"""
import json
import os
import subprocess
import sys

SPLIT = r"""
import json
import jax, jax.numpy as jnp, numpy as np
import magwidgets as mw
settings = mw.configure()
from magwidgets.core import grid_conductance, sweep_grid
from magwidgets.core.sharding import batch_mesh

rng = np.random.default_rng(5)
wire = mw.Wire(12, 9)
onsite = 4 + rng.uniform(-1.5, 1.5, (12, 9))
grid, _ = sweep_grid(wire, np.linspace(0, 0.1, 7), np.array([0.6, 1.3]))  # 14 points: 7 per device
mesh = batch_mesh(14)
target = 1 + 0.5 * rng.uniform(size=14)

def cost(values, mesh):
    conductance = grid_conductance(wire, values, None, grid, mesh=mesh)
    return jnp.sum((conductance - target) ** 2)

results = {}
for name, split in (("one", None), ("split", mesh)):
    value, gradient = jax.jit(jax.value_and_grad(lambda v: cost(v, split)))(jnp.asarray(onsite))
    results[name] = dict(value=float(value), gradient=np.asarray(gradient).tolist(),
                         conductance=np.asarray(grid_conductance(wire, onsite, None, grid, mesh=split)).tolist())
print(json.dumps(dict(cpu_devices=settings.cpu_devices, mesh=mesh.size, **results)))
"""


def test_split_points_give_the_one_device_values_and_gradients():
    env = {name: value for name, value in os.environ.items() if name not in ("JAX_NUM_CPU_DEVICES", "XLA_FLAGS")}
    env["MAGWIDGETS_CPU_DEVICES"] = "2"
    completed = subprocess.run([sys.executable, "-c", SPLIT], capture_output=True, text=True, env=env, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.splitlines()[-1])
    assert report["cpu_devices"] == 2 and report["mesh"] == 2
    one, split = report["one"], report["split"]
    conductance = [value for value in one["conductance"]]
    assert all(0 < value < 9 for value in conductance)  # at most W = 9 open channels, some transmission
    for key in ("conductance", "gradient"):
        difference = max(abs(a - b) for a, b in zip(_flat(one[key]), _flat(split[key])))
        assert difference < 1e-12, (key, difference)
    assert abs(one["value"] - split["value"]) < 1e-12
    assert max(abs(g) for g in _flat(one["gradient"])) > 1e-3  # a gradient that could disagree


def _flat(values):
    return [x for row in values for x in (row if isinstance(row, list) else [row])]
