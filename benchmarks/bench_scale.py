"""Large wires (issue 6): forward and value-and-gradient time, peak memory, Kwant, complex64 and 8 devices.

    python benchmarks/bench_scale.py            # W = L in {30, 60, 100, 200} and L in {200, 500, 1000} at W = 60
    python benchmarks/bench_scale.py --quick    # W = L in {30, 60} and L = 200 at W = 60 (~3 minutes)

Every wire: square leads at 4t, E = 1.2, 21 fluxes from 0 to 0.12/pi, on-site 4 + 0.5 N(0, 1) (seed 1). Each
number comes from its own subprocess, so that the peak resident memory (``ru_maxrss``: imports, leads, compilation
and the runs) belongs to one kind of call:

- forward: ``mw.conductance`` with the leads cached, median over repeats, a new potential each repeat;
- value+grad: ``jax.value_and_grad`` of the seed 000 log-RMS loss through the same public call, by the adjoint
  method (``checkpoint=False``), and again by the memory-bounded path (``checkpoint=True``);
- complex64: the forward in single precision, its speed-up and max |G_64 - G_128| (and whether it warned);
- Kwant 1.5 (MUMPS) on three of the fluxes, scaled to the sweep, with max |G - G_Kwant| on those points;
- 8 devices: the forward on 8 simulated CPU devices (``--xla_force_host_platform_device_count=8``) against one.
  Simulated devices share the machine's cores: on a 2-core CPU this measures the overhead of the sharded path
  (see ``benchmarks/bench_sharding.py`` for the seed-scale sweeps and designs), not a gain.

The exponents come from a least-squares fit of log(y) = c + a log W + b log L over all rows (the W = L rows fix
a + b, the W = 60 rows b). Memory is fitted above the peak of a 4 x 4 run (imports, JAX and XLA themselves).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np

N_FLUX = 21
ENERGY = 1.2


def _potential(length: int, width: int) -> np.ndarray:
    return 4 + 0.5 * np.random.default_rng(1).standard_normal((length, width))


def _faults() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def worker(task: str, length: int, width: int, repeats: int) -> dict:
    import jax
    import jax.numpy as jnp

    import magwidgets as mw
    from magwidgets.core import SinglePrecisionWarning, observables, transfer
    from bench_transport import median_time  # this script's folder is on the path, worker or not

    mw.configure()  # the settings a design loop runs with
    wire = mw.Wire(length, width)
    onsite = _potential(length, width)
    flux = np.linspace(0, 0.12 / np.pi, N_FLUX)
    result = dict(task=task, platform=jax.devices()[0].platform, devices=jax.device_count())

    def potential(repeat):
        return onsite + 1e-3 * repeat

    started = time.perf_counter()
    grid, _ = observables.sweep_grid(wire, flux, ENERGY)
    result["leads_s"] = time.perf_counter() - started
    result["channels"] = int(grid.leads.coupling_left.shape[-1])
    if task in ("forward", "sharded", "baseline"):
        devices = "all" if task == "sharded" else "one"
        conductance = np.asarray(mw.conductance(wire, onsite, flux, ENERGY, devices=devices))
        faults, cpu = _faults(), time.process_time()
        result["forward_s"] = median_time(lambda r: mw.conductance(wire, potential(r), flux, ENERGY,
                                                                    devices=devices), repeats)
        result["forward_faults"] = (_faults() - faults) / repeats
        result["forward_cpu_s"] = (time.process_time() - cpu) / repeats
        if task == "forward":
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", SinglePrecisionWarning)
                single = np.asarray(mw.conductance(wire, onsite, flux, ENERGY, precision="single"))
                jax.effects_barrier()
            result["single_warned"] = any(issubclass(w.category, SinglePrecisionWarning) for w in caught)
            result["single_error"] = float(np.max(np.abs(single - conductance)))
            result["single_s"] = median_time(lambda r: mw.conductance(wire, potential(r), flux, ENERGY,
                                                                       precision="single"), repeats)
    elif task in ("adjoint", "checkpoint"):
        target = 1.05 * np.asarray(mw.conductance(wire, onsite, flux, ENERGY))

        def log_rms(values):  # seed 000 eq. 4
            conductance = mw.conductance(wire, values, flux, ENERGY, checkpoint=task == "checkpoint")
            return jnp.sqrt(jnp.mean((jnp.log(conductance) - jnp.log(target)) ** 2))

        value_and_grad = jax.value_and_grad(log_rms)
        jax.block_until_ready(value_and_grad(onsite))
        faults, cpu = _faults(), time.process_time()
        result["gradient_s"] = median_time(lambda r: value_and_grad(potential(r)), repeats)
        result["gradient_faults"] = (_faults() - faults) / repeats
        result["gradient_cpu_s"] = (time.process_time() - cpu) / repeats
        result["estimate_mb"] = transfer.adjoint_memory_bytes(wire, N_FLUX, result["channels"]) / 2**20
    elif task == "kwant":
        import kwant

        system = mw.to_kwant(wire, onsite)
        points = flux[[0, N_FLUX // 2, -1]]
        ours = np.asarray(mw.conductance(wire, onsite, points, ENERGY))
        values, times = [], []
        for phi in points:
            started = time.perf_counter()
            values.append(kwant.smatrix(system, ENERGY, params=dict(flux=phi)).transmission(1, 0))
            times.append(time.perf_counter() - started)
        result["kwant_sweep_s"] = statistics.median(times) * N_FLUX
        result["kwant_error"] = float(np.max(np.abs(ours - np.array(values))))
    result["peak_mb"] = _peak_mb()
    result["load"] = os.getloadavg()[0]
    return result


def _run(task: str, length: int, width: int, repeats: int, devices: int = 1) -> dict:
    environment = dict(os.environ)
    if devices > 1:
        environment.update(JAX_PLATFORMS="cpu", XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    command = [sys.executable, os.path.abspath(__file__), "--worker", task, "--length", str(length),
               "--width", str(width), "--repeats", str(repeats)]
    completed = subprocess.run(command, env=environment, capture_output=True, text=True)
    if completed.returncode != 0:
        return dict(task=task, failed=completed.stderr.strip().splitlines()[-1:] or ["no output"])
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _fit(rows, key: str, baseline: float = 0.0):
    """Exponents (a, b) of y ~ W^a L^b by least squares over the rows that have ``key``."""
    points = [(r["width"], r["length"], r[key] - baseline) for r in rows if r.get(key) and r[key] > baseline]
    if len({w for w, _, _ in points}) < 2 or len({l for _, l, _ in points}) < 2:
        return None
    design = np.array([[1.0, np.log(w), np.log(l)] for w, l, _ in points])
    coefficients = np.linalg.lstsq(design, np.log([y for _, _, y in points]), rcond=None)[0]
    return coefficients[1], coefficients[2]


def _kwant_available() -> bool:
    return subprocess.run([sys.executable, "-c", "import kwant"], capture_output=True).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="W = L in {30, 60} and L = 200 at W = 60 only")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per number (default 5, 3 above "
                        "10^4 sites)")
    parser.add_argument("--no-kwant", action="store_true", help="skip the Kwant column")
    parser.add_argument("--no-devices", action="store_true", help="skip the 8-device column")
    parser.add_argument("--kwant-max-sites", type=int, default=60_000, help="largest W * L given to Kwant")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--length", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--width", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.length, args.width, args.repeats or 3)))
        return

    sizes = [(30, 30), (60, 60)] if args.quick else [(30, 30), (60, 60), (100, 100), (200, 200)]
    sizes += [(200, 60)] if args.quick else [(200, 60), (500, 60), (1000, 60)]
    kwant = not args.no_kwant and _kwant_available()
    baseline = _run("baseline", 4, 4, 1)["peak_mb"]
    print(f"magwidgets at scale: {N_FLUX} fluxes, E = {ENERGY}, on-site 4 + 0.5 N(0, 1); "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}; "
          f"memory is peak RSS per subprocess (a 4 x 4 run: {baseline:.0f} MB)", flush=True)
    header = (f"{'W':>4} {'L':>5} {'forward':>8} {'val+grad':>9} {'vg/fwd':>6} {'Kwant/fwd':>9} {'peak fwd':>9} "
              f"{'peak vg':>8} {'(est)':>7} {'ckpt vg':>8} {'peak ckpt':>9} {'c64 gain':>8} {'c64 |dG|':>9} "
              f"{'8 dev':>6} {'load':>5}")
    print(header)
    print(f"{'':>4} {'':>5} {'[s]':>8} {'[s]':>9} {'':>6} {'':>9} {'[MB]':>9} {'[MB]':>8} {'[MB]':>7} {'[s]':>8} "
          f"{'[MB]':>9} {'':>8} {'[e^2/h]':>9} {'':>6} {'':>5}", flush=True)
    rows = []
    for length, width in sizes:
        repeats = args.repeats or (3 if length * width > 10_000 else 5)
        row = dict(length=length, width=width)
        forward = _run("forward", length, width, repeats)
        adjoint = _run("adjoint", length, width, repeats)
        checkpointed = _run("checkpoint", length, width, repeats)
        row.update(forward=forward.get("forward_s"), gradient=adjoint.get("gradient_s"),
                   checkpoint=checkpointed.get("gradient_s"), peak_forward=forward.get("peak_mb"),
                   peak_gradient=adjoint.get("peak_mb"), peak_checkpoint=checkpointed.get("peak_mb"),
                   estimate=adjoint.get("estimate_mb"), single=forward.get("single_s"),
                   single_error=forward.get("single_error"), single_warned=forward.get("single_warned"),
                   load=max(r.get("load", 0) for r in (forward, adjoint, checkpointed)))
        if kwant and length * width <= args.kwant_max_sites:
            result = _run("kwant", length, width, 1)
            row.update(kwant=result.get("kwant_sweep_s"), kwant_error=result.get("kwant_error"))
        if not args.no_devices:
            sharded = _run("sharded", length, width, repeats, devices=8)
            row["sharded"] = sharded.get("forward_s")
        rows.append(row)
        for result in (forward, adjoint, checkpointed):
            if "failed" in result:
                print(f"  {result['task']} failed: {result['failed']}")

        def number(value, scale=1.0, form="8.2f"):
            return format(value * scale, form) if value else "-"

        ratio = row["gradient"] / row["forward"] if row["gradient"] and row["forward"] else None
        kwant_ratio = row["kwant"] / row["forward"] if row.get("kwant") and row["forward"] else None
        gain = row["forward"] / row["single"] if row["single"] and row["forward"] else None
        devices = row["forward"] / row["sharded"] if row.get("sharded") and row["forward"] else None
        warned = "!" if row["single_warned"] else " "
        print(f"{width:>4} {length:>5} {number(row['forward'], 1, '8.3f'):>8} {number(row['gradient'], 1, '9.3f'):>9} "
              f"{number(ratio, 1, '6.2f'):>6} {number(kwant_ratio, 1, '9.1f'):>9} "
              f"{number(row['peak_forward'], 1, '9.0f'):>9} {number(row['peak_gradient'], 1, '8.0f'):>8} "
              f"{number(row['estimate'], 1, '7.0f'):>7} {number(row['checkpoint'], 1, '8.3f'):>8} "
              f"{number(row['peak_checkpoint'], 1, '9.0f'):>9} {number(gain, 1, '8.2f'):>8} "
              f"{number(row['single_error'], 1, '8.1e'):>8}{warned} {number(devices, 1, '6.2f'):>6} "
              f"{row['load']:>5.1f}", flush=True)
        if row.get("kwant_error") is not None:
            row["kwant_error_note"] = f"W={width} L={length}: max |G - G_Kwant| = {row['kwant_error']:.1e}"

    print("\nfitted growth, y ~ W^a L^b over the rows above:")
    for label, key, offset in (("forward time", "forward", 0.0), ("value+grad time (adjoint)", "gradient", 0.0),
                               ("value+grad time (checkpoint)", "checkpoint", 0.0),
                               ("peak memory, value+grad (adjoint)", "peak_gradient", baseline),
                               ("peak memory, value+grad (checkpoint)", "peak_checkpoint", baseline)):
        fitted = _fit(rows, key, offset)
        if fitted:
            print(f"  {label:<40} a = {fitted[0]:5.2f}   b = {fitted[1]:5.2f}")
    notes = [row["kwant_error_note"] for row in rows if "kwant_error_note" in row]
    if notes:
        print("agreement with Kwant on three fluxes per wire: " + "; ".join(notes))
    print("'!' after c64 |dG|: the complex64 run issued a SinglePrecisionWarning")


if __name__ == "__main__":
    main()
