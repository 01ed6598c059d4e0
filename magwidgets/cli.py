"""The ``magwidgets`` command.

    magwidgets example [--output seed000_fingerprint.png]   # the seed 000 fingerprint: printed and plotted
    magwidgets design CONFIG.toml [--resume] [--output results.npz] [--steps N]
                                                            # a headless design run with a progress bar
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


def _progress(total: int, stream=sys.stderr):
    """A one-line progress bar for design snapshots (step, cost, steps/s)."""

    def show(snapshot) -> None:
        filled = int(30 * snapshot.step / total)
        stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {snapshot.step:>7}/{total}  cost {snapshot.loss:+.4e}"
                     f"  {snapshot.steps_per_second:6.1f} steps/s")
        stream.flush()

    return show


def run_design(config_path: str, resume: bool = False, output: str | None = None, steps: int | None = None) -> int:
    """Run (or resume) the design described by a TOML config and write its results archive."""
    from .design.config import load_config
    from .design.driver import Design
    from .io import save_design_result

    try:
        config = load_config(config_path)
    except (ValueError, OSError) as error:
        print(f"magwidgets design: {config_path}: {error}", file=sys.stderr)
        return 2
    output = output or config.output
    total = steps or config.steps
    checkpoint = output + ".checkpoint.npz"
    try:
        design = Design(config.objective, config.data, config.optimizer, seed=config.seed, checkpoint=checkpoint,
                        resume=resume, callbacks=[_progress(total)], **config.driver)
    except (ValueError, FileNotFoundError) as error:
        print(f"magwidgets design: {error}", file=sys.stderr)
        return 2
    if resume:
        print(f"resuming {checkpoint} at step {design.step}", file=sys.stderr)
    try:
        result = design.run(total)
    except KeyboardInterrupt:
        design.save(checkpoint)
        print(f"\ninterrupted at step {design.step}; continue with --resume (checkpoint {checkpoint})",
              file=sys.stderr)
        return 130
    save_design_result(output, result, config_text=config.text, seed=config.seed, target=config.target,
                       truth=config.truth)
    print(f"\n{result.reason}: {result.steps} steps, cost {result.loss:.6g}, {result.wall_time:.1f} s; "
          f"results in {output}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="magwidgets", description="Quantum fingerprints of tight-binding wires.")
    commands = parser.add_subparsers(dest="command")
    example = commands.add_parser("example", help="print and plot the seed 000 fingerprint (the default)")
    example.add_argument("--output", default="seed000_fingerprint.png", help="PNG file for the plot")
    design = commands.add_parser("design", help="run an inverse design from a TOML config (see examples/)")
    design.add_argument("config", help="the run's TOML config")
    design.add_argument("--resume", action="store_true", help="continue from the run's checkpoint")
    design.add_argument("--output", help="results archive (default: run.output in the config)")
    design.add_argument("--steps", type=int, help="total steps (default: run.steps in the config)")
    args = parser.parse_args(argv)
    if args.command == "design":
        return run_design(args.config, args.resume, args.output, args.steps)
    if args.command in (None, "example"):
        seed000_example(getattr(args, "output", "seed000_fingerprint.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
