"""Process-wide settings for repeated XLA calls on CPU, applied only when asked: :func:`configure`.

Importing magwidgets turns on float64 in JAX and changes nothing else in the process. Two further settings make a
process that calls the transport kernels over and over (a design loop, a dashboard kernel, a benchmark) faster, but
they act on the whole process, the user's own NumPy and SciPy included, so they are opt-in:

**glibc keeps freed work buffers** (:func:`keep_freed_memory`). A jitted call allocates its temporaries afresh
every time: 60 MB for a value-and-gradient of the seed 000 sweep (30 x 30 wire, 101 fluxes), 20 MB and more in
each of the two programs of an un-jitted ``jax.value_and_grad``. glibc serves blocks above its mmap threshold
(adaptive, at most 32 MiB) with a fresh ``mmap`` and unmaps them on ``free``, so each call takes a page fault on
every 4 KiB it touches: 15 500 minor faults per seed 000 value-and-gradient, 10-25 % of its time on a 2-core CPU.
Raising the mmap threshold to 256 MiB and the trim threshold to 512 MiB lets the freed blocks be reused (1 600
faults per call), at the price of keeping up to 512 MiB of freed memory resident instead of returning it to the
system. Left alone where the user chose the allocator's settings (any ``MALLOC_*`` variable or
``GLIBC_TUNABLES``), where ``MAGWIDGETS_KEEP_FREED_MEMORY=0``, and off glibc (macOS, musl).

**OpenBLAS runs one thread per call** (:func:`serial_openblas`). jaxlib's CPU LAPACK kernels (QR, triangular
solves) call the OpenBLAS that SciPy loads; XLA already spreads a batch of solves over its own threads, and
OpenBLAS's busy-waiting workers, next to any other busy process on a 2-core machine, stretched the 40 ms seed 000
sweep to 8 s. Left alone where ``OPENBLAS_NUM_THREADS`` is set.

**One JAX CPU device per core** (:func:`split_cpu_into_devices`). XLA runs one program on one thread of a CPU
device and does not run its independent parts side by side, so a sweep's points, all vmapped in one program,
used one core of two. With one CPU device per core, :func:`magwidgets.conductance` and a single-start design split
their (flux, energy) points over the devices (:mod:`magwidgets.core.sharding`), which run concurrently: the seed
000 sweep went from 38.7 to 24.5 ms and its value-and-gradient from 127 to 68 ms on two cores, with the same
values to 1e-12. JAX fixes its device count when it first runs anything, so this only takes effect when
:func:`configure` runs before any JAX operation (right after the imports); later it changes nothing.
``MAGWIDGETS_CPU_DEVICES`` sets the count (1 keeps one device); ``JAX_NUM_CPU_DEVICES`` or
``--xla_force_host_platform_device_count`` in ``XLA_FLAGS`` are the user's choice and are left alone.

**Served kernels yield the processor** (:func:`lower_priority`). A class of 30 opening the dashboard at once starts
30 kernels that each run the dashboard notebook (imports, compilation: seconds of CPU each), and the Voila server
that sends every page its front-end files and relays every click would get a thirty-first of the cores.
``magwidgets dashboard`` sets ``MAGWIDGETS_NICENESS`` (default 10) in its kernels'
environment, and :func:`configure` raises this process's niceness by that much, once, and that of its
scheduling group where the kernel leads a session of its own (as jupyter_client starts them; Linux shares the
processor between such groups before niceness counts), so the server and the pages come first and the kernels
share what is left between them as before (all of it when the server is idle).
Nothing happens where the variable is unset or 0, which is everywhere but a served kernel.

The command line (``magwidgets example``, ``magwidgets design``), the dashboard's kernels and the benchmarks call
:func:`configure`; call it yourself at the top of a script or notebook that runs designs.
"""
from __future__ import annotations

import ctypes
import errno
import importlib
import os
import platform
import time
from functools import lru_cache
from typing import NamedTuple

#: ``mallopt`` parameters from glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: Blocks below this come from the heap and are reused; seed-scale work buffers are 10-100 MB.
MMAP_THRESHOLD = 256 * 2**20
#: Freed memory at the top of the heap is returned to the system only beyond this.
TRIM_THRESHOLD = 512 * 2**20
#: OpenBLAS's thread-count setters, newest naming first (SciPy's wheels prefix theirs, 64-bit builds suffix theirs).
OPENBLAS_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                    "openblas_set_num_threads64_", "openblas_set_num_threads")


class ProcessSettings(NamedTuple):
    """What :func:`configure` changed."""

    freed_memory_kept: bool
    """Whether glibc's mmap and trim thresholds were raised."""
    serial_openblas_libraries: int
    """How many loaded OpenBLAS libraries were set to one thread."""
    niceness_added: int
    """How much this process's scheduling niceness was raised (``MAGWIDGETS_NICENESS``; 0 outside served kernels)."""
    cpu_devices: int
    """How many CPU devices JAX was given (0: left as it was, because JAX had started or the user chose)."""


def configure() -> ProcessSettings:
    """Tune this process for repeated XLA calls on CPU: glibc keeps freed work buffers, OpenBLAS runs serially,
    JAX gets one CPU device per core, and a served dashboard kernel lowers its own priority.

    Call it right after the imports, before anything runs in JAX: the CPU devices can only be set then.

    The settings act on the whole process and stay for its lifetime; each is skipped where the user chose it
    (see the module docstring). Calling it again changes nothing more.

    Returns
    -------
    ProcessSettings
        Which of the settings were applied.

    Raises
    ------
    ValueError
        ``MAGWIDGETS_NICENESS`` is set to something other than a whole number from 0 to 19, or
        ``MAGWIDGETS_CPU_DEVICES`` to something other than a whole number >= 1.

    Examples
    --------
    >>> import magwidgets as mw
    >>> settings = mw.configure()
    """
    return ProcessSettings(keep_freed_memory(), serial_openblas(), lower_priority(), split_cpu_into_devices())


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds (see the module docstring); return whether they were set."""
    if os.environ.get("MAGWIDGETS_KEEP_FREED_MEMORY", "1") == "0":
        return False
    if "GLIBC_TUNABLES" in os.environ or any(name.startswith("MALLOC_") for name in os.environ):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


#: How many CPU devices :func:`split_cpu_into_devices` gives JAX (default: one per core).
CPU_DEVICES_ENVIRONMENT = "MAGWIDGETS_CPU_DEVICES"


@lru_cache(maxsize=None)
def split_cpu_into_devices() -> int:
    """Give JAX one CPU device per core (or ``MAGWIDGETS_CPU_DEVICES``); return how many it was given.

    0 where JAX's device count was left alone: JAX has already run something (its backends are started, and the
    count can no longer change), or the user chose it (``JAX_NUM_CPU_DEVICES``, or
    ``--xla_force_host_platform_device_count`` in ``XLA_FLAGS``).
    """
    count = _whole_number_from_environment(CPU_DEVICES_ENVIRONMENT, default=os.cpu_count() or 1, lowest=1,
                                           highest=None, meaning="a whole number >= 1 (CPU devices for JAX)")
    if "JAX_NUM_CPU_DEVICES" in os.environ or "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return 0
    import jax

    if jax.config.jax_num_cpu_devices == count:
        return count
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # JAX has started: its devices are fixed for the life of the process
        return 0
    return count


#: Set by ``magwidgets dashboard`` for its kernels: how much :func:`lower_priority` raises their niceness.
NICENESS_ENVIRONMENT = "MAGWIDGETS_NICENESS"


@lru_cache(maxsize=None)
def lower_priority() -> int:
    """Raise this process's niceness by ``MAGWIDGETS_NICENESS`` (once per process); return by how much.

    0 where the variable is unset or 0, and where the system has no niceness (Windows).
    """
    increment = _whole_number_from_environment(
        NICENESS_ENVIRONMENT, default=0, lowest=0, highest=19,
        meaning="a whole number from 0 (normal priority) to 19 (lowest)")
    if increment == 0 or not hasattr(os, "nice"):
        return 0
    before = os.nice(0)
    added = os.nice(increment) - before
    _lower_own_autogroup(increment)
    return added


def _lower_own_autogroup(increment: int) -> None:
    """Give this process's scheduling autogroup the niceness ``increment``, where the group is this process's own.

    Linux (``kernel.sched_autogroup_enabled``, on in most desktop and server distributions) schedules every session
    as one group and shares the processor equally between groups; a niceness only weighs processes within a group.
    jupyter_client starts every kernel in a session of its own, so a kernel's niceness alone left the Voila server
    one share among 31 groups. A session leader's group holds only it and its children, so lowering the group's
    priority lowers nothing else. Where the group cannot be set, the process keeps its niceness alone.
    """
    path = "/proc/self/autogroup"
    if not os.path.exists(path) or os.getsid(0) != os.getpid():
        return
    # Unprivileged writes are limited to one per 100 ms across the system (EAGAIN), which a class starting 30
    # kernels can meet: try for up to two seconds.
    deadline = time.monotonic() + 2.0
    while True:
        try:
            with open(path, "w") as autogroup:
                autogroup.write(str(increment))
            return
        except OSError as error:
            if error.errno != errno.EAGAIN or time.monotonic() > deadline:
                return
            time.sleep(0.05)


def _whole_number_from_environment(name: str, default: int, lowest: int, highest: int | None, meaning: str) -> int:
    """The whole number in environment variable ``name`` (``default`` where unset or blank), checked to lie in
    [``lowest``, ``highest``]; a ValueError saying ``meaning`` otherwise."""
    text = os.environ.get(name, "").strip()
    try:
        value = int(text) if text else default
    except ValueError:
        raise ValueError(f"{name} must be {meaning}, got {text!r}") from None
    if value < lowest or (highest is not None and value > highest):
        raise ValueError(f"{name} must be {meaning}, got {text!r}")
    return value


@lru_cache(maxsize=None)
def serial_openblas() -> int:
    """Set every OpenBLAS loaded in this process to one thread; return how many were set (Linux only, else 0).

    An explicit ``OPENBLAS_NUM_THREADS`` is the user's choice and is left alone.
    """
    if "OPENBLAS_NUM_THREADS" in os.environ or not os.path.exists("/proc/self/maps"):
        return 0
    controls = openblas_thread_controls()
    for _, setter in controls:
        setter(1)
    return len(controls)


@lru_cache(maxsize=None)
def openblas_thread_controls() -> tuple:
    """(get, set) functions of the thread count of every OpenBLAS loaded in this process (Linux; else none).

    SciPy's BLAS (the one jaxlib's LAPACK kernels call) is loaded first, so that it is among them.
    """
    importlib.import_module("scipy.linalg.cython_lapack")
    controls = []
    for path in openblas_libraries():
        library = ctypes.CDLL(path)
        for name in OPENBLAS_SETTERS:
            setter, getter = getattr(library, name, None), getattr(library, name.replace("_set_", "_get_"), None)
            if setter is not None and getter is not None:
                setter.argtypes, getter.restype = [ctypes.c_int], ctypes.c_int
                controls.append((getter, setter))
                break
    return tuple(controls)


def openblas_libraries() -> list[str]:
    """Paths of the OpenBLAS shared libraries loaded in this process (Linux: read from ``/proc/self/maps``)."""
    if not os.path.exists("/proc/self/maps"):
        return []
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "openblas" in line.split()[-1].lower()}
    return sorted(path for path in paths if ".so" in os.path.basename(path))
