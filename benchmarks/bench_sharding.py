"""Sharding over simulated CPU devices: one device against eight, for a conductance sweep and a multi-start design.

    python benchmarks/bench_sharding.py [--devices 8] [--steps 6]

Runs itself three times in subprocesses (the device count is fixed when JAX starts): one CPU device as installed,
one CPU device with ``OPENBLAS_NUM_THREADS=1``, and ``XLA_FLAGS=--xla_force_host_platform_device_count=8``; prints
one table: the seed 000 sweep (30 x 30, 101 fluxes, leads cached), the seed 004 map sweep (12 x 12, 31 x 21
points), the steady-state steps per second of an 8-start Adam design of the seed 004 map, the speed-up of eight
devices over one device with serial OpenBLAS, and the largest difference between the one- and eight-device
results (0 means bit for bit; the sharded path must stay within 1e-12).

The middle column is there because the sharded path sets OpenBLAS (which jaxlib's LAPACK kernels use) to one
thread (:mod:`magwidgets.core.sharding`): on a busy machine that alone changes the one-device timings, so the fair
comparison for the sharding itself is with that column.

Simulated devices share the machine's cores, so on a 2-core CPU expect no speed-up (or a slow-down: eight XLA
programs compete for two cores). The point is that the sharded path runs and gives the same numbers; on a
machine with several real devices (GPUs, or CPU hosts under jax.distributed) the same code splits the work.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def _best_time(function, repeats: int = 3) -> float:
    function()  # compile, fill the lead cache
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def worker(steps: int) -> dict:
    import jax

    import magwidgets as mw
    from magwidgets.design import Design, Loss, Optimizer, SitePotential, TransportObjective

    mw.configure()  # serial OpenBLAS unless the run sets OPENBLAS_NUM_THREADS itself
    results = dict(devices=jax.device_count())
    wire = mw.Wire(30, 30)
    x, y = np.meshgrid(np.arange(30), np.arange(30), indexing="ij")
    onsite = 4 + 10 * np.exp(-((x - 15) ** 2 + (y - 10) ** 2) / 4)
    flux = np.linspace(0, 0.12 / np.pi, 101)
    sweep = lambda: mw.conductance(wire, onsite, flux, 1.2).block_until_ready()  # noqa: E731
    results["seed000_ms"] = 1e3 * _best_time(sweep)
    results["seed000"] = np.asarray(sweep()).tolist()

    wire = mw.Wire(12, 12, lead="ideal")
    truth = np.random.default_rng(0).uniform(-1, 1, (12, 12))
    truth[0, 0] = -1
    flux, energy = np.linspace(0, 0.15, 31), np.linspace(-1, 1, 21)
    sweep = lambda: mw.conductance(wire, truth, flux, energy).block_until_ready()  # noqa: E731
    results["seed004_ms"] = 1e3 * _best_time(sweep)
    target = np.asarray(sweep())
    results["seed004"] = target.tolist()

    objective, data = TransportObjective.create(wire, target, flux, energy, SitePotential(wire, fixed={(0, 0): -1.0}),
                                                Loss("mse"))
    design = Design(objective, data, Optimizer("adam", 0.02, schedule="constant"), n_starts=8, snapshot_every=steps)
    design.run(steps)  # compiles the chunk
    started = time.perf_counter()
    result = design.run(2 * steps)
    results["design_steps_per_s"] = steps / (time.perf_counter() - started)
    results["design_devices"] = 1 if design.mesh is None else design.mesh.size
    results["design_loss"] = result.history["loss"].tolist()
    return results


def _run(devices: int, steps: int, **variables) -> dict:
    environment = dict(os.environ, JAX_PLATFORMS="cpu", **variables)
    environment.pop("XLA_FLAGS", None)
    if devices > 1:
        environment["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    output = subprocess.run([sys.executable, __file__, "--worker", "--steps", str(steps)], env=environment,
                            capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=8, help="simulated CPU devices of the sharded run")
    parser.add_argument("--steps", type=int, default=6, help="design steps per timed chunk")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.steps)))
        return
    one, serial = _run(1, args.steps), _run(1, args.steps, OPENBLAS_NUM_THREADS="1")
    many = _run(args.devices, args.steps)
    print(f"one CPU device against {many['devices']} simulated CPU devices on {os.cpu_count()} cores "
          f"(design: {many['design_devices']} devices used)")
    print(f"{'':<44} {'1 device':>9} {'serial BLAS':>12} {str(many['devices']) + ' devices':>10} {'speed-up':>9} "
          f"{'max |diff|':>11}")
    rows = [
        ("seed 000 sweep, 30x30, 101 fluxes [ms]", "seed000_ms", "seed000", True),
        ("seed 004 sweep, 12x12, 31x21 points [ms]", "seed004_ms", "seed004", True),
        ("seed 004 design, 8 starts, Adam [steps/s]", "design_steps_per_s", "design_loss", False),
    ]
    for label, key, values, is_time in rows:
        speedup = serial[key] / many[key] if is_time else many[key] / serial[key]
        difference = np.max(np.abs(np.asarray(one[values]) - np.asarray(many[values])))
        print(f"{label:<44} {one[key]:>9.1f} {serial[key]:>12.1f} {many[key]:>10.1f} {speedup:>9.2f} "
              f"{difference:>11.1e}")


if __name__ == "__main__":
    main()
