"""Metropolis-Hastings walkers distributed as |psi|^2 (seed 003).

Each move displaces all electrons of a walker by a Gaussian of standard deviation ``width`` and is accepted with
probability min(1, |psi(r')|^2 / |psi(r)|^2). The proposal is symmetric, so no Hastings correction is needed. A
proposal whose log|psi| is not finite is rejected, so a walker never steps onto a node or a NaN.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .systems import System

TARGET_ACCEPTANCE = (0.50, 0.55)


def initial_walkers(key, system: System, n_walkers: int) -> jnp.ndarray:
    """(n_walkers, N, 3): electrons placed around the nuclei in proportion to their charges, unit Gaussian spread.

    Each nucleus gets about Z electrons, alternating spins, so that a molecule starts near its neutral atoms.
    """
    slots = [atom for atom, charge in enumerate(system.charges) for _ in range(max(1, int(round(charge))))]
    up_slots, down_slots = slots[0::2], slots[1::2] or slots[0::2]   # alternate spins along the slots
    owners = np.array([up_slots[k % len(up_slots)] for k in range(system.n_up)]
                      + [down_slots[k % len(down_slots)] for k in range(system.n_down)], dtype=int)
    centres = jnp.asarray(system.positions[owners])
    return centres[None] + jax.random.normal(key, (n_walkers, system.n_electrons, 3))


def metropolis(log_abs_psi: Callable, key, walkers, log_values, width, steps: int):
    """``steps`` all-electron Metropolis moves of every walker.

    Parameters
    ----------
    log_abs_psi : callable (N, 3) -> log|psi|
    walkers : (n_walkers, N, 3)
    log_values : (n_walkers,) log|psi| at ``walkers``
    width : float
        Standard deviation of the Gaussian move, in bohr.

    Returns
    -------
    walkers, log_values, acceptance (the fraction of accepted moves)
    """
    batched = jax.vmap(log_abs_psi)

    def move(carry, key):
        walkers, log_values, accepted = carry
        propose_key, accept_key = jax.random.split(key)
        proposal = walkers + width * jax.random.normal(propose_key, walkers.shape, walkers.dtype)
        proposed = batched(proposal)
        ratio = 2.0 * (proposed - log_values)
        accept = jnp.isfinite(proposed) & (jnp.log(jax.random.uniform(accept_key, log_values.shape)) < ratio)
        walkers = jnp.where(accept[:, None, None], proposal, walkers)
        log_values = jnp.where(accept, proposed, log_values)
        return (walkers, log_values, accepted + jnp.mean(accept)), None

    (walkers, log_values, accepted), _ = jax.lax.scan(move, (walkers, log_values, 0.0), jax.random.split(key, steps))
    return walkers, log_values, accepted / steps


def adapt_width(width, acceptance):
    """The Metropolis width nudged by 2 % toward an acceptance inside ``TARGET_ACCEPTANCE``."""
    low, high = TARGET_ACCEPTANCE
    return width * jnp.where(acceptance > high, 1.02, jnp.where(acceptance < low, 0.98, 1.0))
