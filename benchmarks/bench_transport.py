"""Speed of the transport core against Kwant, in one run on this machine.

    python benchmarks/bench_transport.py            # full table (~5 minutes on 2 CPU cores)
    python benchmarks/bench_transport.py --quick    # the seed 000 rows and the G(flux, E) map only

Seed 000 wire: 30 x 30, square leads at 4t, E = 1.2, 101 fluxes from 0 to 0.12/pi, Gaussian antidot A = 10 at
(15, 10) with r = 2. Every magwidgets time is the public ``mw.conductance(wire, onsite, flux, energy)`` call as a
user makes it (validation, lead cache lookup, jitted solver), median over repeats, each repeat with a new potential
(so a recompilation would show). "warm" finds the grid's leads in the cache; "cold" is a flux grid not seen before
(the same 101 fluxes shifted by a few 1e-7 per repeat: same shapes, so nothing recompiles, and the leads are
computed afresh), which is what a user's first sweep on a grid costs and the like-for-like comparison with Kwant
(which computes its leads on every ``smatrix`` call); "first call" also includes compilation. Value-and-gradient is
``jax.value_and_grad`` of seed 000's log-RMS loss (eq. 4) through the same public call, jitted whole (as an
optimisation loop runs it) and un-jitted; their ratios to the forward come from interleaved calls. The loss splits
its points over the devices (``devices="all"``) as a single-start design does; ``mw.configure()`` gives JAX one
CPU device per core, so on a CPU every row runs on all cores (``MAGWIDGETS_CPU_DEVICES=1`` times one core).

The G(flux, E) map is the fingerprint explorer's: the same wire and potential, 101 fluxes from 0 to 0.12/pi times
21 energies from 0.05 to 3.95. Kwant is timed on every tenth flux (11 x 21 points) and scaled to the 2121 points.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import magwidgets as mw
from magwidgets.core import clear_lead_cache, lead_self_energies
from magwidgets.core.leads import lead_threads


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
        # a flux grid not seen before, with the same shapes: nothing recompiles, every lead is new
        return mw.conductance(wire, new_potential(r), flux + 1e-7 * (r + 1 + 100 * precision_index), energy,
                              precision=precision)

    precision_index = ("double", "single").index(precision)
    cold_time = median_time(cold, max(3, repeats // 3))
    target = reference * (1 + 0.05 * np.sin(np.arange(101) / 7))

    def log_rms(values):
        # split over the devices inside the jit, as the design driver splits a single start's points
        conductance = mw.conductance(wire, values, flux, energy, precision=precision, devices="all")
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


MAP_FLUX = np.linspace(0, 0.12 / np.pi, 101)
MAP_ENERGY = np.linspace(0.05, 3.95, 21)
#: Kwant is timed on every MAP_KWANT_STRIDE-th flux of the map (all energies) and scaled to the whole map.
MAP_KWANT_STRIDE = 10


def map_rows(repeats: int) -> dict:
    """The explorer's G(flux, E) map on the seed 000 wire: cold (new grids), warm, first call, and the leads alone."""
    wire, onsite = mw.Wire(30, 30), antidot(30, 30)
    start = time.perf_counter()
    jax.block_until_ready(mw.conductance(wire, onsite, MAP_FLUX + 1e-3, MAP_ENERGY))
    first = time.perf_counter() - start

    def cold(r):
        return mw.conductance(wire, onsite + 1e-3 * r, MAP_FLUX + 1e-7 * (r + 1), MAP_ENERGY)

    cold_time = median_time(cold, repeats)
    values = np.asarray(mw.conductance(wire, onsite, MAP_FLUX, MAP_ENERGY))
    warm = median_time(lambda r: mw.conductance(wire, onsite + 1e-3 * r, MAP_FLUX, MAP_ENERGY), repeats)
    points = MAP_FLUX.size * MAP_ENERGY.size

    def leads_only(r):
        clear_lead_cache()
        return lead_self_energies(wire, np.repeat(MAP_FLUX + 2e-7 * (r + 1), MAP_ENERGY.size),
                                  np.tile(MAP_ENERGY, MAP_FLUX.size)).right

    leads = median_time(leads_only, repeats)
    return dict(first=first, cold=cold_time, warm=warm, leads=leads, points=points, conductance=values)


def kwant_map(wire, onsite) -> tuple[float, np.ndarray, np.ndarray]:
    """Kwant on the map's every MAP_KWANT_STRIDE-th flux and every energy: (seconds scaled to the map, G, fluxes)."""
    import kwant

    system = mw.to_kwant(wire, onsite)
    flux = MAP_FLUX[::MAP_KWANT_STRIDE]
    start = time.perf_counter()
    values = np.array([[kwant.smatrix(system, e, params=dict(flux=phi)).transmission(1, 0) for e in MAP_ENERGY]
                       for phi in flux])
    elapsed = time.perf_counter() - start
    return elapsed * MAP_FLUX.size / flux.size, values, flux


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
    parser.add_argument("--quick", action="store_true", help="only the seed 000 sweep and the G(flux, E) map")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    mw.configure()  # the process settings a design loop, the command line and the dashboard run with

    device = jax.devices()[0]
    print(f"magwidgets {mw.__version__}, jax {jax.__version__} on {device.platform} ({device.device_kind}), "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, {jax.device_count()} devices, "
          f"{time.strftime('%Y-%m-%d')}, "
          f"load average {os.getloadavg()[0]:.1f} at the start")
    rows = seed000_rows(args.repeats)
    single = seed000_rows(args.repeats, precision="single")
    try:
        kwant_time, kwant_values = kwant_sweep(mw.Wire(30, 30), antidot(30, 30), np.linspace(0, 0.12 / np.pi, 101), 1.2)
    except ImportError:
        kwant_time, kwant_values = None, None

    print("\nseed 000 sweep: 30 x 30, 101 fluxes, E = 1.2, antidot A = 10")
    print(f"{'':<50} {'time [ms]':>10} {'Kwant / this':>13}")

    def row(label, seconds, reference=kwant_time):
        ratio = f"{reference / seconds:>13.1f}" if reference else f"{'-':>13}"
        print(f"{label:<50} {seconds * 1e3:>10.1f} {ratio}")

    if kwant_time:
        print(f"{'Kwant 1.5 (MUMPS), smatrix per flux':<50} {kwant_time * 1e3:>10.1f} {1.0:>13.1f}")
    row("magwidgets forward, new flux grid (cold)", rows["cold"])
    row("magwidgets forward, leads cached (warm)", rows["cached"])
    row("magwidgets first call (compile + leads)", rows["first"])
    row("magwidgets value-and-gradient (log-RMS), jit", rows["gradient"])
    row("magwidgets value-and-gradient, un-jitted", rows["gradient_eager"])
    row("magwidgets forward, RGF solver (warm)", rows["rgf"])
    row("magwidgets forward, complex64 (warm)", single["cached"])
    row("magwidgets forward, complex64, new flux grid (cold)", single["cold"])
    row("magwidgets value-and-gradient, complex64, jit", single["gradient"])
    print(f"value-and-gradient / forward (median of {args.repeats} interleaved calls): {rows['ratio']:.2f} jitted, "
          f"{rows['ratio_eager']:.2f} un-jitted")
    if kwant_values is not None:
        print(f"max |G_magwidgets - G_Kwant| = {np.abs(rows['conductance'] - kwant_values).max():.1e} e^2/h")
    print(f"max |G_complex64 - G_complex128| = {np.abs(single['conductance'] - rows['conductance']).max():.1e} e^2/h")

    grid = map_rows(3)
    try:
        kwant_map_time, kwant_map_values, kwant_map_flux = kwant_map(mw.Wire(30, 30), antidot(30, 30))
    except ImportError:
        kwant_map_time = None
    print(f"\nG(flux, E) map: 30 x 30, {MAP_FLUX.size} fluxes x {MAP_ENERGY.size} energies (E = 0.05 .. 3.95), "
          f"antidot A = 10; {lead_threads()} threads for the leads")
    print(f"{'':<50} {'time [s]':>10} {'Kwant / this':>13}")

    def map_row(label, seconds):
        ratio = f"{kwant_map_time / seconds:>13.1f}" if kwant_map_time else f"{'-':>13}"
        print(f"{label:<50} {seconds:>10.2f} {ratio}")

    if kwant_map_time:
        label = f"Kwant 1.5, {MAP_ENERGY.size * len(kwant_map_flux)} of {grid['points']} points timed, scaled"
        print(f"{label:<50} {kwant_map_time:>10.2f} {1.0:>13.1f}")
    map_row("magwidgets map, new grid (cold)", grid["cold"])
    map_row("magwidgets map, leads cached (warm)", grid["warm"])
    map_row("magwidgets first call (compile + leads)", grid["first"])
    map_row("  of which the leads alone (cold)", grid["leads"])
    if kwant_map_time:
        subset = grid["conductance"][::MAP_KWANT_STRIDE]
        print(f"max |G_magwidgets - G_Kwant| on the timed points = {np.abs(subset - kwant_map_values).max():.1e} e^2/h")
    if args.quick:
        return
    flux21 = np.linspace(0, 0.12 / np.pi, 21)
    scaling("width W (L = 30, 21 fluxes)", [(w, mw.Wire(30, w), flux21) for w in (10, 20, 30, 60, 100, 200)], 3)
    scaling("length L (W = 30, 21 fluxes)", [(n, mw.Wire(n, 30), flux21) for n in (30, 100, 300, 1000)], 3)
    scaling("number of fluxes (30 x 30)", [(n, mw.Wire(30, 30), np.linspace(0, 0.12 / np.pi, n)) for n in (11, 101, 401)], 5)


if __name__ == "__main__":
    main()
