"""Importing magwidgets changes nothing in the process but float64; :func:`magwidgets.configure` changes the rest.

Each check runs in a fresh interpreter, because the test session itself is configured (tests/conftest.py).
"""
import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="the allocator and OpenBLAS probes read glibc and /proc/self/maps")

# Reads, in the child, what the process settings are now: every loaded OpenBLAS's thread count, and whether glibc
# serves a 64 MiB block with its own mmap (its default: any block above 32 MiB) or from the heap (configured).
PROBE = r"""
import ctypes, json, os, sys

import scipy.linalg.cython_lapack  # loads the OpenBLAS that jaxlib's LAPACK kernels call

from magwidgets.core.process import openblas_libraries


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)


def settings():
    threads = {}
    for path in openblas_libraries():
        library = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
                     "openblas_get_num_threads64_", "openblas_get_num_threads"):
            getter = getattr(library, name, None)
            if getter is not None:
                threads[path] = getter()
                break
    before = libc.mallinfo2().hblkhd
    block = libc.malloc(64 * 2**20)
    mapped = libc.mallinfo2().hblkhd - before >= 64 * 2**20
    libc.free(block)
    return dict(openblas_threads=threads, large_blocks_mapped=mapped)


report = dict(before=settings(), niceness_before=os.nice(0))
import magwidgets
report["after_import"] = settings()
import magwidgets.widgets, magwidgets.vmc  # the panels and the VMC pillar too
report["after_widgets"] = settings()
report["configured"] = magwidgets.configure()._asdict()
report["after_configure"] = settings()
report["configured_again"] = magwidgets.configure()._asdict()
report["niceness_after"] = os.nice(0)
import jax
report["devices"] = jax.device_count()
print(json.dumps(report))
"""


def probe(**environment) -> dict:
    chosen = ("GLIBC_TUNABLES", "MAGWIDGETS_KEEP_FREED_MEMORY", "MAGWIDGETS_NICENESS", "MAGWIDGETS_CPU_DEVICES",
              "JAX_NUM_CPU_DEVICES", "XLA_FLAGS")
    env = {name: value for name, value in os.environ.items()
           if not (name.startswith(("MALLOC_", "OPENBLAS_")) or name in chosen)}
    env.update(environment)
    completed = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=300)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.splitlines()[-1])


def test_import_leaves_openblas_and_malloc_alone_and_configure_sets_them():
    report = probe()
    before = report["before"]
    assert before["openblas_threads"], "no OpenBLAS found to probe"
    assert before["large_blocks_mapped"], "glibc's default should mmap a 64 MiB block"
    assert report["after_import"] == before
    assert report["after_widgets"] == before
    # configure() is what changes them, so the probes above can see a change
    assert report["configured"] == dict(freed_memory_kept=True, niceness_added=0, cpu_devices=os.cpu_count(),
                                        serial_openblas_libraries=len(before["openblas_threads"]))
    assert report["devices"] == os.cpu_count()  # one CPU device per core, set before JAX started
    assert report["niceness_after"] == report["niceness_before"]  # only a served kernel lowers its priority
    assert set(report["after_configure"]["openblas_threads"].values()) == {1}
    assert not report["after_configure"]["large_blocks_mapped"]


def test_configure_respects_the_users_own_settings():
    report = probe(OPENBLAS_NUM_THREADS="2", MAGWIDGETS_KEEP_FREED_MEMORY="0", JAX_NUM_CPU_DEVICES="3")
    assert report["configured"] == dict(freed_memory_kept=False, serial_openblas_libraries=0, niceness_added=0,
                                        cpu_devices=0)
    assert report["after_configure"] == report["before"]
    assert report["devices"] == 3  # JAX's own variable, left to JAX
    assert probe(MAGWIDGETS_CPU_DEVICES="1")["devices"] == 1


def test_cpu_devices_are_only_set_before_jax_starts():
    """After JAX has run anything its device count is fixed: configure() then leaves it and says so (0)."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("MAGWIDGETS_CPU_DEVICES", "JAX_NUM_CPU_DEVICES", "XLA_FLAGS")}
    code = ("import jax, jax.numpy as jnp, magwidgets; jnp.ones(2).block_until_ready(); "
            "print(magwidgets.configure().cpu_devices, jax.device_count())")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split()[-2:] == ["0", "1"]
    env["MAGWIDGETS_CPU_DEVICES"] = "0"
    completed = subprocess.run([sys.executable, "-c", "import magwidgets; magwidgets.configure()"],
                               capture_output=True, text=True, env=env, timeout=300)
    assert completed.returncode != 0 and "MAGWIDGETS_CPU_DEVICES must be a whole number >= 1" in completed.stderr


def test_a_served_kernel_lowers_its_priority_once():
    """``magwidgets dashboard`` sets MAGWIDGETS_NICENESS for its kernels; configure() applies it once per process."""
    report = probe(MAGWIDGETS_NICENESS="3")
    expected = min(report["niceness_before"] + 3, 19)
    assert report["niceness_after"] == expected
    assert report["configured"]["niceness_added"] == expected - report["niceness_before"]
    assert report["configured_again"] == report["configured"]  # calling it again lowers nothing further


@pytest.mark.skipif(not os.path.exists("/proc/self/autogroup"), reason="this kernel has no scheduling autogroups")
def test_a_served_kernel_in_a_session_of_its_own_lowers_its_scheduling_group():
    """Linux shares the processor between sessions before niceness counts, and jupyter_client starts each kernel in
    a session of its own: its group is lowered too, and nothing else's."""
    # A process outside every autogroup (in the first session of a container, say) reads an empty file.
    code = "import magwidgets; magwidgets.configure(); print(repr(open('/proc/self/autogroup').read().strip()))"
    env = dict(os.environ, MAGWIDGETS_NICENESS="5")
    own = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                         start_new_session=True)
    assert own.returncode == 0, own.stderr
    assert own.stdout.strip().strip("'").split()[-1] == "5"
    with open("/proc/self/autogroup") as autogroup:
        ours = autogroup.read().strip()
    shared = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert shared.returncode == 0, shared.stderr
    assert shared.stdout.strip() == repr(ours)  # the caller's session (this test's) is left as it was
    with open("/proc/self/autogroup") as autogroup:
        assert autogroup.read().strip() == ours


@pytest.mark.parametrize("value", ["ten", "-5", "25"])
def test_a_bad_niceness_is_refused_with_what_was_expected(value):
    env = dict(os.environ, MAGWIDGETS_NICENESS=value)
    code = "import os, magwidgets; magwidgets.configure(); print(os.nice(0))"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert completed.returncode != 0
    assert "MAGWIDGETS_NICENESS must be a whole number from 0" in completed.stderr and repr(value) in completed.stderr


def test_import_turns_on_float64():
    completed = subprocess.run([sys.executable, "-c", "import jax, magwidgets; print(jax.config.jax_enable_x64)"],
                               capture_output=True, text=True, timeout=300)
    assert completed.stdout.strip() == "True", completed.stderr
