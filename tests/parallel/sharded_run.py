"""The sweeps and multi-start designs that ``test_sharding.py`` compares between one device and eight.

    XLA_FLAGS=--xla_force_host_platform_device_count=8 python tests/parallel/sharded_run.py OUT.npz

runs :func:`compute` with ``devices="auto"`` (split over the eight simulated CPU devices) and writes the results,
with the number of devices each computation ran on (``*_devices``), to OUT.npz. The test computes the same with
``devices="one"`` in its own process and compares.
"""
import sys

import jax
import numpy as np

import magwidgets as mw
from magwidgets.core.observables import _sweep_mesh, sweep_grid
from magwidgets.design import Design, Loss, Optimizer, SitePotential, TransportObjective

# name: (optimizer, learning rate, starts). 11 starts on 8 devices pads to 16; Levenberg-Marquardt's 3 starts run
# one per device; a single start splits its 15 grid points over the 8 devices instead.
DESIGNS = {"adam11": ("adam", 0.02, 11), "lm3": ("levenberg_marquardt", 1.0, 3), "adam1": ("adam", 0.02, 1),
           "lm1": ("levenberg_marquardt", 1.0, 1)}
STEPS = 6


def _sweep_devices(wire, flux, energy, devices: str) -> int:
    """How many devices conductance(..., devices=devices) splits this grid over (its result comes back on one)."""
    mesh = _sweep_mesh(devices, sweep_grid(wire, flux, energy)[0])
    return 1 if mesh is None else mesh.size


def compute(devices: str) -> dict:
    results = {"device_count": np.asarray(jax.device_count())}
    rng = np.random.default_rng(11)
    # Square leads with field, 11 fluxes x 3 energies = 33 points: not a multiple of 8, so padding is exercised.
    wire = mw.Wire(8, 8)
    onsite = 4 + rng.uniform(-1.5, 1.5, (8, 8))
    flux, energy = np.linspace(0, 0.2, 11), np.array([0.4, 0.95, 1.7])
    results["sweep"] = np.asarray(mw.conductance(wire, onsite, flux, energy, devices=devices))
    results["sweep_devices"] = _sweep_devices(wire, flux, energy, devices)
    # Spin wire with magnetisation angles: theta travels to every device too.
    spin = mw.Wire(6, 6, lead="ideal", spin=True, exchange=0.5, lead_k=(0.5, 0.25))
    theta = rng.uniform(0, 2 * np.pi, (6, 6))
    results["spin"] = np.asarray(mw.conductance(spin, rng.uniform(-0.5, 0.5, (6, 6)), flux, energy, theta,
                                                devices=devices))
    results["spin_devices"] = _sweep_devices(spin, flux, energy, devices)

    # Multi-start designs of an 8 x 8 potential map from G on 5 fluxes x 3 energies (seed 004 style).
    wire = mw.Wire(8, 8, lead="ideal")
    truth = rng.uniform(-0.5, 0.5, (8, 8))
    truth[0, 0] = -1.0
    flux, energy = np.linspace(0, 0.15, 5), np.linspace(-1, 1, 3)
    target = np.asarray(mw.conductance(wire, truth, flux, energy, devices="one"))
    objective, data = TransportObjective.create(wire, target, flux, energy, SitePotential(wire, fixed={(0, 0): -1.0}),
                                                Loss("mse"))
    for name, (optimizer, rate, n_starts) in DESIGNS.items():
        design = Design(objective, data, Optimizer(optimizer, rate, schedule="constant"), seed=2, n_starts=n_starts,
                        snapshot_every=3, devices=devices)
        result = design.run(STEPS)
        results[f"{name}_loss"] = result.history["loss"]
        results[f"{name}_family"] = np.asarray(result.family)
        results[f"{name}_onsite"] = result.onsite
        mesh = design.mesh if design.mesh is not None else design.objective.mesh  # the starts' or the points'
        results[f"{name}_devices"] = np.asarray(1 if mesh is None else mesh.size)
    return results


if __name__ == "__main__":
    np.savez(sys.argv[1], **compute("auto"))
