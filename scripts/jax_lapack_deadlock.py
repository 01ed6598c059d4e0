"""Minimal reproducer: repeated jitted value-and-gradient sweeps hang under jax/jaxlib 0.10 on CPU.

    python scripts/jax_lapack_deadlock.py [--calls 200] [--stall 60] [--batched-lapack] [--no-configure]
                                          [--xla-flags FLAGS]

Calls the jitted ``jax.value_and_grad`` of the seed 000 log-RMS loss (30 x 30 wire, 101 fluxes; the design loop's
and the benchmark's call) on a new potential each time, in a child process, and watches it: the child prints one
line per finished call, and a call that has not finished ``--stall`` seconds after the previous one (about 0.15 s is
normal) counts as a deadlock (the process then sits at ~0 % CPU in ``block_until_ready``). Exits 0 when every call
finished, 1 on a deadlock. ``--xla-flags`` is passed to the child as XLA_FLAGS, to try workarounds.
``--batched-lapack`` hands LAPACK whole batches, as ``jnp.linalg`` does, instead of the one matrix per call of
``magwidgets.core.linalg`` (the fix): with it, the script reproduces the hang under jaxlib 0.10.

Measured on a 2-core CPU (2026-12-05), with magwidgets.configure() (serial OpenBLAS, as the benchmark and the design
loop run), ``--stall 20``: jax/jaxlib 0.9.2 finished all 200 calls (0.13-0.15 s each); 0.10.2 hung at call 11
(again at calls 3 and 65 with the two workarounds below, and after 50 calls in a longer script), and
``benchmarks/bench_transport.py --quick`` hung in its value-and-gradient rows in three runs of three, at ~0 % CPU.
Cause, from the native stacks of a hung run (``gdb -p PID -batch -ex "thread apply all bt"``): both threads of
XLA's intra-op pool (``tf_XLAEigen``, one per core) sit in ``lapack_ztrsm_ffi`` -> ``TriMatrixEquationSolver::Kernel``
-> ``jax::ParallelBatchMap`` -> ``BlockingCounter::Wait``: each of two concurrent batched triangular solves of the
same program has split its batch into tasks queued on that same pool and waits for them, and no thread is left to
run them. jaxlib 0.9 ran a batch in the calling thread.
Tried and not enough: ``--xla-flags=--xla_cpu_multi_thread_eigen=false`` (hung at call 3),
``--xla_cpu_use_thunk_runtime=false`` (call 17), ``--no-configure`` (call 10) and ``JAX_CPU_ENABLE_ASYNC_DISPATCH=false``
(call 65). A workaround that held: ``--xla-flags=--xla_cpu_enable_concurrency_optimized_scheduler=false`` finished
200, 300 and 300 calls (0.13-0.17 s each), and ``benchmarks/bench_transport.py --quick`` ran to the end with it
under 0.10.2 (and again 200 of 200 calls on 2026-12-05, while with the flag set to ``true`` it hung at call 85).
The flag does not help two programs run from two Python threads at once: the fingerprint explorer computes its
map next to its curves that way, and under 0.10.2 with the flag both threads hung in ``Measurement.conductance``
at 0 % CPU (``py-spy dump``). XLA_FLAGS is read when the CPU backend starts, so the flag has to be set before the first JAX
computation of the process.
The fix, ``magwidgets.core.linalg``: under jaxlib >= 0.10 every inverse, solve and log-determinant loops over its
batch inside the compiled program and hands LAPACK one matrix per call, which it runs in the calling thread.
With it, 0.10.2 finished 300 of 300 calls (0.13 s each, as under 0.9) and the whole test suite passed; with
``--batched-lapack`` it still hangs.
"""
from __future__ import annotations

import argparse
import os
import queue
import subprocess
import sys
import threading

CHILD = r"""
import sys, time
import numpy as np, jax, jax.numpy as jnp
import magwidgets as mw

if CONFIGURE:
    mw.configure()
if BATCHED:
    import magwidgets.core.linalg
    magwidgets.core.linalg.ONE_MATRIX_PER_CALL = False
wire = mw.Wire(30, 30)
x, y = np.meshgrid(np.arange(30), np.arange(30), indexing="ij")
onsite = 4 + 10 * np.exp(-((x - 15) ** 2 + (y - 10) ** 2) / 4)
flux = np.linspace(0, 0.12 / np.pi, 101)
target = np.asarray(mw.conductance(wire, onsite, flux, 1.2)) * (1 + 0.05 * np.sin(np.arange(101) / 7))


def log_rms(values):
    conductance = mw.conductance(wire, values, flux, 1.2)
    return jnp.sqrt(jnp.mean((jnp.log(conductance) - jnp.log(target)) ** 2))


eager = jax.value_and_grad(log_rms)
value_and_grad = jax.jit(eager)
rng = np.random.default_rng(0)
for function in (eager, value_and_grad) if EAGER_FIRST else ():  # the benchmark's warm-up: both, once
    jax.block_until_ready(function(onsite))
print(f"jax {jax.__version__}, jaxlib {jax.lib.__version__ if hasattr(jax.lib, '__version__') else ''}", flush=True)
for call in range(CALLS):
    start = time.perf_counter()
    jax.block_until_ready(value_and_grad(onsite + 1e-3 * rng.standard_normal(onsite.shape)))
    print(f"call {call} {time.perf_counter() - start:.3f} s", flush=True)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--stall", type=float, default=60.0, help="seconds without a finished call = deadlock")
    parser.add_argument("--no-configure", action="store_true", help="leave OpenBLAS and glibc at their defaults")
    parser.add_argument("--batched-lapack", action="store_true",
                        help="hand LAPACK whole batches, as jnp.linalg does (the behaviour that hangs under 0.10)")
    parser.add_argument("--xla-flags", default="", help="XLA_FLAGS for the child")
    parser.add_argument("--eager-first", action="store_true",
                        help="call the un-jitted value-and-gradient once first, as the benchmark does")
    args = parser.parse_args()
    if args.calls < 1 or args.stall <= 0:
        parser.error("--calls must be >= 1 and --stall > 0")
    code = (CHILD.replace("CONFIGURE", str(not args.no_configure)).replace("CALLS", str(args.calls))
            .replace("EAGER_FIRST", str(args.eager_first)).replace("BATCHED", str(args.batched_lapack)))
    environment = dict(os.environ)
    if args.xla_flags:
        environment["XLA_FLAGS"] = (environment.get("XLA_FLAGS", "") + " " + args.xla_flags).strip()
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True, env=environment)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in child.stdout] + [lines.put(None)], daemon=True).start()
    finished = 0
    try:
        while True:
            allowance = args.stall + (120.0 if finished == 0 else 0.0)  # the first call also compiles
            try:
                line = lines.get(timeout=allowance)
            except queue.Empty:
                print(f"DEADLOCK: call {finished} has not finished within {allowance:.0f} s "
                      f"(XLA_FLAGS={environment.get('XLA_FLAGS', '')!r})", flush=True)
                return 1
            if line is None:
                break
            print(line.rstrip(), flush=True)
            finished += line.startswith("call ")
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    if finished < args.calls:
        print(f"the child exited with code {child.returncode} after {finished} calls", flush=True)
        return 1
    print(f"OK: {finished} calls", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
