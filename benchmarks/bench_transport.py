"""Speed of the transport core against Kwant, in one run on this machine.

    python benchmarks/bench_transport.py            # full table (~3 minutes on 2 CPU cores)
    python benchmarks/bench_transport.py --quick    # the seed 000 rows only

Seed 000 wire: 30 x 30, square leads at 4t, E = 1.2, 101 fluxes from 0 to 0.12/pi, Gaussian antidot A = 10 at
(15, 10) with r = 2. Every magwidgets time is the public ``mw.conductance(wire, onsite, flux, energy)`` call as a
user makes it (validation, lead cache lookup, jitted solver), median over repeats, each repeat with a new potential
(so a recompilation would show). "cold leads" clears the lead cache first; "first call" also includes compilation.
Value-and-gradient is ``jax.value_and_grad`` of seed 000's log-RMS loss (eq. 4) through the same public call, jitted
whole (as an optimisation loop runs it) and un-jitted; their ratios to the forward come from interleaved calls.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import magwidgets as mw
from magwidgets.core import clear_lead_cache


def antidot(length: int, width: int, amplitude=10.0, x0=15, y0=10, radius=2.0) -> np.ndarray:
    x, y = np.meshgrid(np.arange(length), np.arange(width), indexing="ij")
    return 4 + amplitude * np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / radius**2)


def median_time(function, repeats: int) -> float:
    times = []
    for repeat in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(function(repeat))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def kwant_sweep(wire, onsite, flux, energy):
    import kwant

    system = mw.to_kwant(wire, onsite)
    start = time.perf_counter()
    values = [kwant.smatrix(system, energy, params=dict(flux=phi)).transmission(1, 0) for phi in flux]
    return time.perf_counter() - start, np.array(values)


def seed000_rows(repeats: int, precision: str = "double") -> dict:
    wire = mw.Wire(30, 30)
    onsite = antidot(30, 30)
    flux = np.linspace(0, 0.12 / np.pi, 101)
    energy = 1.2
    rng = np.random.default_rng(0)

    def new_potential(_):
        return onsite + 1e-3 * rng.standard_normal(onsite.shape)

    clear_lead_cache()
    start = time.perf_counter()
    reference = np.asarray(mw.conductance(wire, onsite, flux, energy, precision=precision))
    first = time.perf_counter() - start
    cached = median_time(lambda r: mw.conductance(wire, new_potential(r), flux, energy, precision=precision), repeats)

    def cold(r):
        clear_lead_cache()
        return mw.conductance(wire, new_potential(r), flux, energy, precision=precision)

    cold_time = median_time(cold, max(3, repeats // 3))
    target = reference * (1 + 0.05 * np.sin(np.arange(101) / 7))

    def log_rms(values):
        conductance = mw.conductance(wire, values, flux, energy, precision=precision)
        return jnp.sqrt(jnp.mean((jnp.log(conductance) - jnp.log(target)) ** 2))

    # Jitted whole, as the design driver and any optimisation loop runs it; and un-jitted, where JAX linearises and
    # transposes the loss in Python on every call (~10 ms more here).
    eager = jax.value_and_grad(log_rms)
    jitted = jax.jit(eager)
    for function in (eager, jitted):
        jax.block_until_ready(function(onsite))
    gradient = median_time(lambda r: jitted(new_potential(r)), repeats)
    gradient_eager = median_time(lambda r: eager(new_potential(r)), repeats)
    # The ratios from interleaved calls, each on a new potential: this VM's speed drifts by tens of percent over
    # seconds, so separate medians taken one after the other can disagree with each other.
    def forward(values):
        return mw.conductance(wire, values, flux, energy, precision=precision)

    ratios = []
    for _ in range(repeats):
        times = [median_time(lambda r, f=f: f(new_potential(r)), 1) for f in (forward, jitted, eager)]
        ratios.append((times[1] / times[0], times[2] / times[0]))
    ratio, ratio_eager = (statistics.median(column) for column in zip(*ratios))
    rgf = None
    if precision == "double":
        mw.conductance(wire, onsite, flux, energy, solver="rgf")
        rgf = median_time(lambda r: mw.conductance(wire, new_potential(r), flux, energy, solver="rgf"), repeats)
    return dict(first=first, cached=cached, cold=cold_time, gradient=gradient, gradient_eager=gradient_eager,
                ratio=ratio, ratio_eager=ratio_eager, rgf=rgf, conductance=reference)


def scaling(label: str, cases, repeats: int) -> None:
    print(f"\nforward time against {label} (cached leads, transfer matrix)")
    print(f"{'':>10} {'time [ms]':>11} {'per point [ms]':>15} {'lead setup [s]':>15}")
    previous = None
    for value, wire, flux in cases:
        onsite = 4 + 0.5 * np.random.default_rng(1).standard_normal((wire.length, wire.width))
        clear_lead_cache()
        start = time.perf_counter()
        jax.block_until_ready(mw.conductance(wire, onsite, flux, 1.2))
        setup = time.perf_counter() - start
        elapsed = median_time(lambda r: mw.conductance(wire, onsite + 1e-3 * r, flux, 1.2), repeats)
        slope = "" if previous is None else f"  growth exponent {np.log(elapsed / previous[1]) / np.log(value / previous[0]):.2f}"
        print(f"{value:>10} {elapsed * 1e3:>11.1f} {elapsed * 1e3 / len(flux):>15.3f} {setup:>15.2f}{slope}")
        previous = (value, elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="only the seed 000 comparison")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    device = jax.devices()[0]
    print(f"magwidgets {mw.__version__}, jax {jax.__version__} on {device.platform} ({device.device_kind}), "
          f"{platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}")
    rows = seed000_rows(args.repeats)
    single = seed000_rows(args.repeats, precision="single")
    try:
        kwant_time, kwant_values = kwant_sweep(mw.Wire(30, 30), antidot(30, 30), np.linspace(0, 0.12 / np.pi, 101), 1.2)
    except ImportError:
        kwant_time, kwant_values = None, None

    print("\nseed 000 sweep: 30 x 30, 101 fluxes, E = 1.2, antidot A = 10")
    print(f"{'':<44} {'time [ms]':>10} {'Kwant / this':>13}")

    def row(label, seconds):
        ratio = f"{kwant_time / seconds:>13.1f}" if kwant_time else f"{'-':>13}"
        print(f"{label:<44} {seconds * 1e3:>10.1f} {ratio}")

    if kwant_time:
        print(f"{'Kwant 1.5 (MUMPS), smatrix per flux':<44} {kwant_time * 1e3:>10.1f} {1.0:>13.1f}")
    row("magwidgets forward, leads cached", rows["cached"])
    row("magwidgets forward, cold leads", rows["cold"])
    row("magwidgets first call (compile + leads)", rows["first"])
    row("magwidgets value-and-gradient (log-RMS), jit", rows["gradient"])
    row("magwidgets value-and-gradient, un-jitted", rows["gradient_eager"])
    row("magwidgets forward, RGF solver", rows["rgf"])
    row("magwidgets forward, complex64", single["cached"])
    row("magwidgets value-and-gradient, complex64, jit", single["gradient"])
    print(f"value-and-gradient / forward (median of {args.repeats} interleaved calls): {rows['ratio']:.2f} jitted, "
          f"{rows['ratio_eager']:.2f} un-jitted")
    if kwant_values is not None:
        print(f"max |G_magwidgets - G_Kwant| = {np.abs(rows['conductance'] - kwant_values).max():.1e} e^2/h")
    print(f"max |G_complex64 - G_complex128| = {np.abs(single['conductance'] - rows['conductance']).max():.1e} e^2/h")
    if args.quick:
        return
    flux21 = np.linspace(0, 0.12 / np.pi, 21)
    scaling("width W (L = 30, 21 fluxes)", [(w, mw.Wire(30, w), flux21) for w in (10, 20, 30, 60, 100, 200)], 3)
    scaling("length L (W = 30, 21 fluxes)", [(n, mw.Wire(n, 30), flux21) for n in (30, 100, 300, 1000)], 3)
    scaling("number of fluxes (30 x 30)", [(n, mw.Wire(30, 30), np.linspace(0, 0.12 / np.pi, n)) for n in (11, 101, 401)], 5)


if __name__ == "__main__":
    main()
