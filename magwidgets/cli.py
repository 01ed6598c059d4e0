"""The ``magwidgets`` command.

    magwidgets example [--output seed000_fingerprint.png]   # the seed 000 fingerprint: printed and plotted
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def seed000_example(output: str) -> np.ndarray:
    """Compute, print and plot G(B) of the seed 000 wire with a Gaussian antidot (A = 10 at (15, 10), r = 2)."""
    import magwidgets as mw

    wire = mw.Wire(length=30, width=30)
    x, y = np.meshgrid(np.arange(30), np.arange(30), indexing="ij")
    onsite = 4 + 10 * np.exp(-((x - 15) ** 2 + (y - 10) ** 2) / 2**2)
    flux = np.linspace(0, 0.12 / np.pi, 101)
    start = time.perf_counter()
    conductance = np.asarray(mw.conductance(wire, onsite, flux, 1.2))
    elapsed = time.perf_counter() - start
    print(f"Seed 000 fingerprint: 30 x 30 wire, E = 1.2 t, antidot A = 10 t at (15, 10); {elapsed:.2f} s "
          "including compilation")
    print(f"{'pi B a^2/phi_0':>15} {'G [e^2/h]':>10}")
    for index in range(0, 101, 10):
        print(f"{np.pi * flux[index]:>15.3f} {conductance[index]:>10.4f}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (curve, landscape) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw=dict(width_ratios=(3, 2)))
    curve.plot(np.pi * flux, conductance, color="tab:blue")
    curve.set(xlabel=r"$\pi B a^2/\phi_0$", ylabel=r"$G$ [$e^2/h$]", title="magneto-conductance fingerprint")
    image = landscape.imshow(onsite.T - 4, origin="lower", cmap="magma")
    landscape.set(xlabel="x (transport)", ylabel="y", title="defect potential [t]")
    figure.colorbar(image, ax=landscape)
    figure.tight_layout()
    figure.savefig(output, dpi=120)
    print(f"plot written to {output}")
    return conductance


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="magwidgets", description="Quantum fingerprints of tight-binding wires.")
    commands = parser.add_subparsers(dest="command")
    example = commands.add_parser("example", help="print and plot the seed 000 fingerprint (the default)")
    example.add_argument("--output", default="seed000_fingerprint.png", help="PNG file for the plot")
    args = parser.parse_args(argv)
    if args.command in (None, "example"):
        seed000_example(getattr(args, "output", "seed000_fingerprint.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
