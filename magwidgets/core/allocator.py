"""Keep XLA's per-call work buffers in the heap between calls (Linux, glibc).

A jitted call allocates its temporaries afresh every time: 60 MB for a value-and-gradient of the seed 000 sweep
(30 x 30 wire, 101 fluxes), 20 MB and more in each of the two programs of an un-jitted ``jax.value_and_grad``.
glibc serves blocks above its mmap threshold (adaptive, at most 32 MiB) with a fresh ``mmap`` and unmaps them on
``free``, so each call takes a page fault on every 4 KiB it touches: 15 500 minor faults per seed 000
value-and-gradient, which measured 10-25% of its time here (benchmarks/bench_transport.py). Raising the mmap
threshold to 256 MiB and the trim threshold to 512 MiB lets the freed blocks be reused (1 600 faults per call),
at the price of keeping up to 512 MiB of freed memory resident instead of returning it to the system.

Applied once when :mod:`magwidgets.core` is imported. It is left alone where the user chose the allocator's
settings (any ``MALLOC_*`` variable or ``GLIBC_TUNABLES``), where ``MAGWIDGETS_KEEP_FREED_MEMORY=0``, and off
glibc (macOS, musl), where nothing is changed.
"""
from __future__ import annotations

import ctypes
import os
import platform

#: ``mallopt`` parameters from glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: Blocks below this come from the heap and are reused; seed-scale work buffers are 10-100 MB.
MMAP_THRESHOLD = 256 * 2**20
#: Freed memory at the top of the heap is returned to the system only beyond this.
TRIM_THRESHOLD = 512 * 2**20


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (see the module docstring); return whether they were set."""
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
