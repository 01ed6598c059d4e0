"""Design-run throughput on this machine: steps/s of the seed runs and how multi-start throughput scales.

    python benchmarks/bench_design.py [--steps 40]

Prints, for the seed 000 defect run (30 x 30, 101 fluxes, 10 Gaussians, RMSProp) and the seed 004 map run
(12 x 12, 31 x 21 grid, Adam and Levenberg-Marquardt), the steady-state steps per second (compilation
excluded), then start-steps per second for 1, 2, 4 and 8 starts of the map run.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import magwidgets as mw
from magwidgets.design import Design, GaussianDefects, Loss, Optimizer, SitePotential, TransportObjective


def _steps_per_second(objective, data, optimizer, steps: int, n_starts: int = 1) -> float:
    design = Design(objective, data, optimizer, n_starts=n_starts, snapshot_every=steps)
    design.run(steps)  # compiles the chunk
    started = time.perf_counter()
    design.run(2 * steps)
    return steps / (time.perf_counter() - started)


def defect_problem():
    wire = mw.Wire(30, 30)
    x, y = np.meshgrid(np.arange(30), np.arange(30), indexing="ij")
    truth = 4 + 10 * np.exp(-((x - 15) ** 2 + (y - 10) ** 2) / 4)
    flux = np.linspace(0, 0.12 / np.pi, 101)
    target = mw.conductance(wire, truth, flux, 1.2)
    return TransportObjective.create(wire, target, flux, 1.2, GaussianDefects(wire, n=10), Loss("log_rms"))


def map_problem():
    wire = mw.Wire(12, 12, lead="ideal")
    truth = np.random.default_rng(0).uniform(-1, 1, (12, 12))
    truth[0, 0] = -1
    flux, energy = np.linspace(0, 0.15, 31), np.linspace(-1, 1, 21)
    target = mw.conductance(wire, truth, flux, energy)
    return TransportObjective.create(wire, target, flux, energy, SitePotential(wire, fixed={(0, 0): -1.0}),
                                     Loss("mse"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    mw.configure()  # as the command line and the dashboard run designs
    defect, defect_data = defect_problem()
    potential, potential_data = map_problem()
    print(f"{'run':<52} {'steps/s':>8}")
    rate = _steps_per_second(defect, defect_data, Optimizer("rmsprop"), args.steps)
    print(f"{'seed 000 defect, 30x30, 101 fluxes, RMSProp':<52} {rate:8.1f}")
    for name in ("adam", "levenberg_marquardt"):
        rate = _steps_per_second(potential, potential_data, Optimizer(name, schedule="constant"), args.steps)
        print(f"{'seed 004 map, 12x12, 31x21 points, ' + name:<52} {rate:8.1f}")
    print(f"\n{'starts':>6} {'steps/s':>8} {'start-steps/s':>14} {'vs 1 start':>10}   (seed 004 map, Adam)")
    single = None
    for n_starts in (1, 2, 4, 8):
        rate = _steps_per_second(potential, potential_data, Optimizer("adam", schedule="constant"),
                                 max(4, args.steps // n_starts), n_starts)
        single = single or rate
        print(f"{n_starts:>6} {rate:8.1f} {rate * n_starts:14.1f} {rate * n_starts / single:10.2f}")


if __name__ == "__main__":
    main()
