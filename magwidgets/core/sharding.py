"""Spread independent work over every device: sweep points, design starts, and processes of ``jax.distributed``.

Two kinds of work in magwidgets are embarrassingly parallel: the (flux, energy) points of a conductance sweep
(each point is its own scattering problem over the same potential) and the starts of a multi-start design (each
start is its own optimisation). Both already carry a leading batch axis that is ``vmap``-ed; this module lays
that axis along a one-dimensional :class:`jax.sharding.Mesh` named :data:`AXIS` and runs the unchanged per-device
computation on each slice with :func:`jax.shard_map`:

- the batch is padded to a multiple of the mesh size by repeating its last entry (a valid point or start, so the
  padding cannot produce NaN), each device runs the ordinary vmapped kernel on its slice, and the padding is
  stripped before anything is returned;
- nothing is communicated inside the kernel. A design gathers its starts' (small) state onto every device after
  each chunk of steps, so that every process holds it and host code that reads it (history, stop rules,
  snapshots) decides the same everywhere; a sweep is gathered the same way under ``jax.distributed``, and in one
  process simply read shard by shard on the host;
- the per-item arithmetic is the same as on one device, so results agree with a one-device run to the rounding of
  batched kernels: ``tests/parallel`` asks for 1e-12 and mostly sees bit-for-bit equality (XLA may vectorise a
  batch of 13 points differently from one of 101, 1 ulp).

One device (the usual case) bypasses all of this: :func:`batch_mesh` returns None and callers take their old
path, so nothing is padded, placed or gathered.

Several devices in one process (``--xla_force_host_platform_device_count``) run their programs on concurrent
threads, and every one of them calls LAPACK (QR, triangular solves) through the OpenBLAS that jaxlib borrows from
SciPy. OpenBLAS threads each call over its own thread pool and busy-waits; eight concurrent callers on two cores
turned a 0.05 s sweep into 7-40 s here. :func:`batch_mesh` therefore sets OpenBLAS to one thread per call the
first time it builds a mesh with several local devices (the devices are the parallelism then); after that the
8-device seed 000 sweep costs what the one-device sweep does.

Many hosts: :func:`initialize_distributed` starts ``jax.distributed`` (CPU collectives through Gloo), after which
``jax.devices()`` lists the devices of every process and the mesh spans them all. Every process must then make
the same calls in the same order (the same config, the same grid): a sharded call is a collective.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .process import serial_openblas

AXIS = "batch"
BATCH = PartitionSpec(AXIS)  # an array whose leading axis is the batch, split over the mesh
DEVICE_CHOICES = ("auto", "all", "one")


@lru_cache(maxsize=None)
def _mesh(devices: tuple) -> Mesh:
    if sum(device.process_index == jax.process_index() for device in devices) > 1:
        serial_openblas()
    return Mesh(np.array(devices, dtype=object), (AXIS,))


def batch_mesh(n_items: int, devices: str = "all") -> Optional[Mesh]:
    """The 1-D mesh a batch of ``n_items`` independent items is spread over, or None to stay on one device.

    Parameters
    ----------
    n_items : int
        Length of the batch axis (grid points, starts).
    devices : {"all", "auto", "one"}
        ``"all"`` and ``"auto"`` use every device of every process; ``"one"`` returns None.

    Returns
    -------
    Mesh or None
        None with one device or one item. In a single process with fewer items than devices, only the first
        ``n_items`` devices are used (padding 2 starts to 8 devices would run 6 duplicates on the same cores);
        under ``jax.distributed`` the mesh always spans every process, because a process that holds no shard
        could not read the gathered result.
    """
    if devices not in DEVICE_CHOICES:
        raise ValueError(f"devices must be one of {DEVICE_CHOICES}, got {devices!r}.")
    if devices == "one":
        return None
    available = jax.devices()
    if jax.process_count() == 1:
        available = available[:n_items]
    if len(available) < 2:
        return None
    return _mesh(tuple(available))


def padded_length(n_items: int, mesh: Mesh) -> int:
    """The smallest multiple of the mesh size that holds ``n_items``."""
    return -(-n_items // mesh.size) * mesh.size


def pad_batch(tree, length: int):
    """Extend every leaf's leading axis to ``length`` by repeating its last entry (NumPy or JAX leaves)."""

    def pad(leaf):
        xp = np if isinstance(leaf, np.ndarray) else jnp
        extra = length - leaf.shape[0]
        if extra == 0:
            return leaf
        return xp.concatenate([leaf, xp.repeat(leaf[-1:], extra, axis=0)], axis=0)

    return jax.tree_util.tree_map(pad, tree)


def place(tree, mesh: Mesh, spec: PartitionSpec):
    """Host arrays -> global arrays laid out by ``spec`` on ``mesh``; every process must pass the same values.

    Built with :func:`jax.make_array_from_callback`, so each process fills only its own devices' shards from its
    copy; this is what lets the same code run in one process and under ``jax.distributed``.
    """
    sharding = NamedSharding(mesh, spec)

    def to_global(leaf):
        if isinstance(leaf, jax.Array) and leaf.sharding == sharding:
            return leaf
        host = np.asarray(leaf)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree_util.tree_map(to_global, tree)


def replicate(tree, mesh: Mesh):
    """A full copy of every leaf on every device of ``mesh`` (see :func:`place`)."""
    return place(tree, mesh, PartitionSpec())


def gathered(tree, mesh: Mesh):
    """Inside a jitted function: ask for ``tree`` replicated on every device (an all-gather of the shards)."""
    return jax.lax.with_sharding_constraint(tree, NamedSharding(mesh, PartitionSpec()))


def map_batch(function, mesh: Mesh, replicated: int, batched: int, out_specs):
    """:func:`jax.shard_map` of ``function(*replicated_args, *batched_args)`` over the leading axis.

    The first ``replicated`` positional arguments are copied to every device, the next ``batched`` are split
    along their leading axis. ``out_specs`` is a pytree prefix of the outputs: :data:`BATCH` for an output whose
    leading axis is the batch, or any other :class:`~jax.sharding.PartitionSpec`.
    """
    in_specs = (PartitionSpec(),) * replicated + (BATCH,) * batched
    # Loops inside (the transfer-matrix scan, the design's fori_loop) start from constants and carry per-device
    # values; the varying-manual-axes check would reject that, and nothing here relies on it.
    return jax.shard_map(function, mesh=mesh, in_specs=in_specs, out_specs=out_specs, check_vma=False)


def initialize_distributed(coordinator: str, num_processes: int, process_id: int,
                           local_devices: Optional[int] = None) -> None:
    """Join a ``jax.distributed`` run of ``num_processes`` processes; call before anything touches a device.

    Parameters
    ----------
    coordinator : str
        ``"HOST:PORT"`` of process 0, which serves the coordination service there.
    num_processes, process_id : int
        The size of the run and this process's rank (0 .. num_processes - 1).
    local_devices : int, optional
        Number of CPU devices this process contributes (default: as many as
        ``--xla_force_host_platform_device_count`` gives, else one).

    Notes
    -----
    On CPU the processes exchange data through Gloo over TCP (``jax_cpu_collectives_implementation``), which is
    what the final all-gather of a sharded call uses; GPUs use NCCL and need nothing here.
    """
    if not isinstance(coordinator, str) or ":" not in coordinator:
        raise ValueError(f"coordinator must be HOST:PORT (process 0's address), got {coordinator!r}.")
    if num_processes is None or process_id is None or not 0 <= process_id < num_processes:
        raise ValueError(f"need --num-processes N and --process-id I with 0 <= I < N, got N={num_processes}, "
                         f"I={process_id}.")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if local_devices is not None:
        jax.config.update("jax_num_cpu_devices", int(local_devices))
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                               process_id=process_id)


def writes_files() -> bool:
    """Whether this process writes results and checkpoints: always, except processes 1.. of ``jax.distributed``."""
    return not jax.distributed.is_initialized() or jax.process_index() == 0
