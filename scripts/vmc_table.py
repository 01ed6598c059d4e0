"""Train the FermiNet-style wavefunction on the seed 003 systems and print the accuracy table and time-to-accuracy.

    python scripts/vmc_table.py                 # H He H2 Li (5 min each), Be LiH (15 min each)
    python scripts/vmc_table.py He Li --minutes 2
    python scripts/vmc_table.py Li --optimizer natural --pretrain 500     # compare the recipes on one system

For each system: the recipe of ``RECIPES`` (or the one given), i.e. optional Hartree-Fock pretraining of the
orbitals and then training with Adam or the natural gradient until the time budget is spent (pretraining and
compilation count against it; the running mean of the batch energy over the last 100 iterations is logged every
30 s: the time-to-accuracy curve), then a frozen evaluation of 500 iterations with a blocking error bar, compared
with the exact energy. Float64 throughout.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from magwidgets.vmc import DEFAULT_RECIPE, RECIPES, SYSTEMS, VMC

BUDGET_MINUTES = {"H": 5, "He": 5, "H2": 5, "Li": 5, "Be": 15, "LiH": 15}
BAR_MHA = {"H": 0.5, "He": 0.5, "H2": 0.5, "Li": 1.6, "Be": 5.0, "LiH": 5.0}


def train(name: str, minutes: float, walkers: int, evaluation_iterations: int, optimizer: str,
          pretraining: int) -> dict:
    system = SYSTEMS[name]
    started = time.perf_counter()
    run = VMC(system, walkers=walkers, optimizer=optimizer, snapshot_every=20)
    if pretraining:
        losses = run.pretrain(pretraining)
        print(f"  {name:4s} {time.perf_counter() - started:6.0f} s  pretrained {pretraining} iterations, orbital loss "
              f"{losses[0]:.3g} -> {losses[-1]:.3g}", flush=True)
    run.compile()
    curve = []
    next_report = 30.0
    for snapshot in run.iterate(10**9):
        elapsed = time.perf_counter() - started
        if elapsed >= next_report and run.step:
            recent = run.history()["energy"][-100:]
            curve.append((elapsed, snapshot.step, 1000 * (float(np.mean(recent)) - system.exact)))
            print(f"  {name:4s} {elapsed:6.0f} s  iteration {snapshot.step:6d}  <E> - E_exact = {curve[-1][2]:+8.2f} mHa",
                  flush=True)
            next_report += 30.0
        if elapsed >= 60 * minutes:
            run.stop()
    evaluation = run.evaluate(evaluation_iterations)
    recipe = f"{optimizer} + HF {pretraining}" if pretraining else optimizer
    return dict(name=name, recipe=recipe, iterations=run.step, seconds=time.perf_counter() - started,
                energy=evaluation.energy, error=evaluation.error, exact=system.exact, curve=curve)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("systems", nargs="*", default=list(BUDGET_MINUTES))
    parser.add_argument("--minutes", type=float, help="time budget per system (default: 5, or 15 for Be and LiH)")
    parser.add_argument("--walkers", type=int, default=1024)
    parser.add_argument("--evaluation", type=int, default=500, help="frozen evaluation iterations")
    parser.add_argument("--optimizer", choices=["adam", "natural"], help="default: the system's recipe")
    parser.add_argument("--pretrain", type=int, help="Hartree-Fock pretraining iterations (default: the recipe's)")
    arguments = parser.parse_args()
    rows = []
    for name in arguments.systems:
        if name not in SYSTEMS:
            parser.error(f"unknown system {name!r}; expected some of {sorted(SYSTEMS)}")
        optimizer, pretraining = RECIPES.get(name, DEFAULT_RECIPE)
        rows.append(train(name, arguments.minutes or BUDGET_MINUTES[name], arguments.walkers, arguments.evaluation,
                          arguments.optimizer or optimizer,
                          pretraining if arguments.pretrain is None else arguments.pretrain))
    print(f"\n{'system':6s} {'recipe':18s} {'iterations':>10s} {'time [s]':>9s} {'E [Ha]':>14s} {'exact':>12s}"
          f" {'error [mHa]':>16s} {'bar':>6s}  ok")
    for row in rows:
        difference, bar = 1000 * (row["energy"] - row["exact"]), BAR_MHA.get(row["name"], 1.6)
        variational = difference > -3000 * row["error"]
        print(f"{row['name']:6s} {row['recipe']:18s} {row['iterations']:10d} {row['seconds']:9.0f}"
              f" {row['energy']:9.5f}({1e5 * row['error']:3.0f}) {row['exact']:12.6f}"
              f" {difference:+8.2f} ± {1000 * row['error']:5.2f} {bar:6.1f}  "
              f"{'yes' if abs(difference) <= bar and variational else 'no'}")


if __name__ == "__main__":
    main()
