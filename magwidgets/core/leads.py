"""Exact lead self-energies from the lead's own eigenproblem (no broadening eta).

The leads do not depend on the scattering potential, so they are computed once per (flux, energy) grid in
NumPy/LAPACK (complex128), cached, and handed to the jitted solvers as plain arrays. Under ``jax.jit`` with a
traced grid they are computed through ``jax.pure_callback``.

Square lead (the wire continued to x -> -inf and x -> +inf, same gauge). With psi_x = lambda^x u, the slice
equation ``(E - H_0) psi_x = V psi_{x-1} + V^dag psi_{x+1}`` (V = H[x+1, x] = diag(-t exp(-2 pi i flux y)),
invertible) is linearised as the 2n x 2n transfer matrix acting on (psi_x, psi_{x-1}). Its eigenvalues are
classified as in Kwant (``kwant.physics.leads.modes``): right-going = evanescent with |lambda| < 1, or
propagating (|lambda| = 1) with positive current ``J = 2 Im(conj(lambda) u^dag V u)``; degenerate propagating
modes are rotated to diagonalise the current first. With ``U_R`` (``U_L``) the right-going (left-going) modes,

    F_R = U_R Lambda_R U_R^{-1}     (psi_{x+1} = F_R psi_x, outgoing to the right),
    F_L = U_L Lambda_L^{-1} U_L^{-1} (psi_{x-1} = F_L psi_x, outgoing to the left),
    Sigma_R = V^dag F_R,  Sigma_L = V F_L,  Gamma = i (Sigma - Sigma^dag).

In practice F is built from a better-conditioned basis of the same space: an orthonormal Schur basis of the
evanescent modes plus the propagating eigenvectors (see :func:`square_lead_point`).

Ideal leads (seed 004 eqs. 10-11): decoupled 1D chains with hopping -t held at wave number k at every energy;
an outgoing wave exp(ik|x|) gives Sigma = -t exp(ik) on every row (per spin: k_up, k_down) and Gamma = 2 t sin k.

Gamma is factorised as Gamma = C C^dag with exactly as many columns as open channels (the rest zero), so a closed
energy gives G = 0 exactly and rounding in Sigma - Sigma^dag never leaks into the observables.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from .wire import Wire

#: |lambda| within this of 1 counts as propagating; evanescent modes 1e-6 t above a threshold have
#: |lambda| ~ 1 - 1.4e-3, far outside it, while LAPACK's eigenvalues are good to ~1e-13 there.
PROPAGATING_TOLERANCE = 1e-9
#: Propagating eigenvalues closer than this are treated as degenerate and rotated to diagonalise the current.
DEGENERACY_TOLERANCE = 1e-7
#: A right- and a left-going mode on the unit circle closer than this (lambda = exp(+-i k) with 2 k < 2e-6, or
#: exp(+-kappa)) mean an energy within ~1e-12 t of a subband threshold: LAPACK resolves such a coalescing pair
#: only to ~sqrt(eps) ~ 1e-8, which misclassifies channels (G off by 1 at 1e-15 t, by 1e-6 at 1e-14 t).
COALESCENCE_TOLERANCE = 2e-6
#: Energies farther than this many t from ``lead_onsite`` lie far outside the lead's band |E - lead_onsite| <= 4t
#: (the field cannot widen it); there the transfer matrix's eigenvalues span ~(E/t)^2, beyond what LAPACK can
#: separate for |E| >~ 1e8 t, so Sigma is found from its Dyson equation instead.
FAR_FROM_BAND = 16.0


class LeadSelfEnergies(NamedTuple):
    """Self-energies of both leads at a set of (flux, energy) points.

    Attributes
    ----------
    left, right : (..., n, n) complex
        Sigma_L acts on slice 0, Sigma_R on slice L-1.
    coupling_left, coupling_right : (..., n, n) complex
        C with Gamma = C C^dag; the first ``n_open`` columns span the open channels, the rest are zero.
    n_open_left, n_open_right : (...,) int
        Number of open (propagating, incoming) channels of each lead.
    """

    left: np.ndarray
    right: np.ndarray
    coupling_left: np.ndarray
    coupling_right: np.ndarray
    n_open_left: np.ndarray
    n_open_right: np.ndarray


def _lead_hamiltonian(wire: Wire, flux: float) -> tuple[np.ndarray, np.ndarray]:
    """Unit-cell Hamiltonian H_0 (n, n) and the diagonal of V = H[x+1, x] of the square lead."""
    n_orb, t = wire.n_orbitals, wire.hopping
    chain = np.eye(wire.width, k=1) + np.eye(wire.width, k=-1)
    h0 = wire.lead_onsite * np.eye(wire.slice_size) - t * np.kron(chain, np.eye(n_orb))
    rows = np.repeat(np.arange(wire.width), n_orb)
    return h0.astype(complex), -t * np.exp(-2j * np.pi * flux * rows)


def _current_diagonal_modes(lam: complex, modes: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotate degenerate propagating modes so that the current is diagonal; return (modes, currents)."""
    # J = -i (conj(lambda) U^dag V U - lambda U^dag V^dag U): Hermitian; its diagonal is 2 Im(conj(lambda) u^dag V u).
    forward = modes.conj().T @ (v[:, None] * modes)
    backward = modes.conj().T @ (np.conj(v)[:, None] * modes)
    current = -1j * (np.conj(lam) * forward - lam * backward)
    currents, rotation = np.linalg.eigh((current + current.conj().T) / 2)
    return modes @ rotation, currents


def square_lead_point(wire: Wire, flux: float, energy: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Self-energies (Sigma_L, Sigma_R) and the number of open channels of square leads at one point.

    Raises
    ------
    ValueError
        If the energy sits on a subband threshold or within ~1e-12 t of one (a Jordan block: modes cannot be
        separated into left- and right-going), so the caller can move the energy by a small amount.

    Notes
    -----
    Far outside the band (``|E - lead_onsite| > FAR_FROM_BAND * t``) no channel is open and the self-energies
    come from :func:`_evanescent_self_energies`.
    """
    n = wire.slice_size
    if abs(energy - wire.lead_onsite) > FAR_FROM_BAND * wire.hopping:
        return (*_evanescent_self_energies(wire, flux, energy), 0)
    h0, v = _lead_hamiltonian(wire, flux)
    vd = np.conj(v)
    transfer = np.zeros((2 * n, 2 * n), complex)
    transfer[:n, :n] = (energy * np.eye(n) - h0) / vd[:, None]
    transfer[:n, n:] = -np.diag(v / vd)
    transfer[n:, :n] = np.eye(n)
    lam, vectors = np.linalg.eig(transfer)
    modes = vectors[n:]
    modes = modes / np.linalg.norm(modes, axis=0)

    magnitude = np.abs(lam)
    propagating = np.abs(magnitude - 1) < PROPAGATING_TOLERANCE
    right_going = magnitude < 1 - PROPAGATING_TOLERANCE
    left_going = magnitude > 1 + PROPAGATING_TOLERANCE
    remaining = list(np.flatnonzero(propagating))
    while remaining:
        first = remaining[0]
        group = [i for i in remaining if abs(lam[i] - lam[first]) < DEGENERACY_TOLERANCE]
        remaining = [i for i in remaining if i not in group]
        rotated, currents = _current_diagonal_modes(lam[first], modes[:, group], v)
        if np.any(np.abs(currents) < 1e-12):
            raise ValueError(
                f"energy {energy!r} at flux {flux!r} lies on a subband threshold of the lead (a mode with zero "
                "velocity); move the energy by ~1e-9 t."
            )
        modes[:, group] = rotated
        right_going[group] = currents > 0
        left_going[group] = currents < 0
    near_circle = np.abs(magnitude - 1) < 1e-4
    right_near, left_near = np.flatnonzero(right_going & near_circle), np.flatnonzero(left_going & near_circle)
    if right_near.size and left_near.size and \
            np.min(np.abs(lam[right_near][:, None] - lam[left_near][None, :])) < COALESCENCE_TOLERANCE:
        raise ValueError(
            f"energy {energy!r} at flux {flux!r} lies within ~1e-12 t of a subband threshold of the lead (a mode "
            "with almost zero velocity, which double precision cannot resolve); move the energy by ~1e-9 t."
        )
    if right_going.sum() != n or left_going.sum() != n:
        raise ValueError(
            f"could not split the lead modes at energy {energy!r}, flux {flux!r} into {n} left- and {n} right-going "
            "ones (the energy is numerically on a subband threshold); move the energy by ~1e-9 t."
        )
    n_open = int(np.count_nonzero(right_going & propagating))

    def outgoing_space(decaying, going: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(psi_x, psi_{x-1}) blocks of a basis of the evanescent modes picked by ``decaying`` and the
        propagating ones in ``going``.

        The evanescent part is an orthonormal Schur basis of its invariant subspace, not eigenvectors: in a weak
        field a wide lead's evanescent eigenvectors are nearly parallel (condition number ~1e15 at W = 100,
        flux 0.004), and U Lambda U^{-1} built from them missed the lead's own Dyson equation by up to 0.4 t
        at W = 200. Propagating eigenvectors (lambda u, u) are well conditioned and carry the current.
        """
        _, schur_vectors, count = scipy.linalg.schur(transfer, output="complex", sort=decaying)
        if count != np.count_nonzero(going & ~propagating):
            raise ValueError(
                f"could not separate the evanescent lead modes at energy {energy!r}, flux {flux!r} (the energy is "
                "numerically on a subband threshold); move the energy by ~1e-9 t."
            )
        moving = going & propagating
        basis = np.concatenate(
            [schur_vectors[:, :count], np.concatenate([modes[:, moving] * lam[moving], modes[:, moving]])], axis=1
        )
        return basis[:n], basis[n:]

    # psi_{x+1} = F_R psi_x for the right-going space, psi_{x-1} = F_L psi_x for the left-going one.
    here, before = outgoing_space(lambda z: abs(z) < 1 - PROPAGATING_TOLERANCE, right_going)
    f_right = np.linalg.solve(before.T, here.T).T
    here, before = outgoing_space(lambda z: abs(z) > 1 + PROPAGATING_TOLERANCE, left_going)
    f_left = np.linalg.solve(here.T, before.T).T
    return v[:, None] * f_left, vd[:, None] * f_right, n_open


def _evanescent_self_energies(wire: Wire, flux: float, energy: float) -> tuple[np.ndarray, np.ndarray]:
    """(Sigma_L, Sigma_R) far outside the band, from the Dyson equations of the semi-infinite leads,

        Sigma_L = V (E - H_0 - Sigma_L)^{-1} V^dag,    Sigma_R = V^dag (E - H_0 - Sigma_R)^{-1} V,

    iterated from Sigma = 0. Every mode decays at least as fast as |lambda| <= 0.08 per slice when
    ``|E - lead_onsite| > 16 t``, and the iteration error shrinks by |lambda|^2 per step.
    """
    h0, v = _lead_hamiltonian(wire, flux)
    shifted = energy * np.eye(wire.slice_size) - h0
    sigmas = []
    for into, out_of in ((v, np.conj(v)), (np.conj(v), v)):
        sigma = np.zeros_like(h0)
        for _ in range(100):
            new = into[:, None] * np.linalg.inv(shifted - sigma) * out_of[None, :]
            converged = np.max(np.abs(new - sigma)) <= 1e-15 * np.max(np.abs(new))
            sigma = new
            if converged:
                break
        sigmas.append(sigma)
    return sigmas[0], sigmas[1]


def ideal_lead_point(wire: Wire) -> tuple[np.ndarray, int]:
    """Self-energy of ideal leads: ``-t exp(i k_s)`` on every row and spin (seed 004 eqs. 10-11)."""
    wave_numbers = np.atleast_1d(wire.lead_k)
    diagonal = np.tile(-wire.hopping * np.exp(1j * wave_numbers), wire.width)
    return np.diag(diagonal), wire.slice_size


def coupling_matrix(sigma: np.ndarray, n_open: int) -> np.ndarray:
    """C with ``Gamma = i (Sigma - Sigma^dag) = C C^dag``, keeping the ``n_open`` positive eigenvalues."""
    gamma = 1j * (sigma - sigma.conj().T)
    values, vectors = np.linalg.eigh((gamma + gamma.conj().T) / 2)
    coupling = np.zeros_like(sigma)
    if n_open:
        kept = slice(len(values) - n_open, None)
        coupling[:, :n_open] = vectors[:, kept] * np.sqrt(np.clip(values[kept], 0, None))
    return coupling


def _compute(wire: Wire, flux: np.ndarray, energy: np.ndarray) -> LeadSelfEnergies:
    flux = np.asarray(flux, float).ravel()
    energy = np.asarray(energy, float).ravel()
    n = wire.slice_size
    out = {name: np.zeros((flux.size, n, n), complex) for name in ("left", "right", "cl", "cr")}
    n_open = np.zeros(flux.size, np.int32)
    for i, (phi, e) in enumerate(zip(flux, energy)):
        if wire.lead == "ideal":
            sigma, n_open[i] = ideal_lead_point(wire)
            sigma_left = sigma_right = sigma
        else:
            sigma_left, sigma_right, n_open[i] = square_lead_point(wire, float(phi), float(e))
        out["left"][i], out["right"][i] = sigma_left, sigma_right
        out["cl"][i] = coupling_matrix(sigma_left, n_open[i])
        out["cr"][i] = coupling_matrix(sigma_right, n_open[i])
    return LeadSelfEnergies(out["left"], out["right"], out["cl"], out["cr"], n_open, n_open.copy())


_CACHE: "OrderedDict[tuple, LeadSelfEnergies]" = OrderedDict()
_CACHE_SIZE = 64


def _lead_key(wire: Wire) -> tuple:
    # Only what the leads depend on: a new potential, length or exchange reuses the cache.
    if wire.lead == "ideal":
        return ("ideal", wire.width, wire.n_orbitals, wire.hopping, wire.lead_k)
    return ("square", wire.width, wire.n_orbitals, wire.hopping, wire.lead_onsite)


def lead_self_energies(wire: Wire, flux, energy) -> LeadSelfEnergies:
    """Lead self-energies at the points ``(flux[i], energy[i])`` (1-D arrays of equal length).

    Concrete inputs are computed in complex128 and cached (LRU, keyed by the lead parameters and the grid);
    traced inputs (a grid inside ``jax.jit``) go through ``jax.pure_callback``. Not differentiable with respect
    to flux or energy.
    """
    if isinstance(flux, jax.core.Tracer) or isinstance(energy, jax.core.Tracer):
        n = wire.slice_size
        points = jnp.broadcast_shapes(jnp.shape(flux), jnp.shape(energy))
        matrix = jax.ShapeDtypeStruct(points + (n, n), jnp.complex128)
        count = jax.ShapeDtypeStruct(points, jnp.int32)
        shapes = LeadSelfEnergies(matrix, matrix, matrix, matrix, count, count)
        return jax.pure_callback(
            lambda f, e: _compute(wire, f, e), shapes, flux, energy, vmap_method="sequential"
        )
    flux = np.ascontiguousarray(flux, dtype=float)
    energy = np.ascontiguousarray(energy, dtype=float)
    key = (_lead_key(wire), flux.tobytes(), energy.tobytes())
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    result = _compute(wire, flux, energy)
    _CACHE[key] = result
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return result


def clear_lead_cache() -> None:
    """Forget all cached lead self-energies (for benchmarks of the cold path)."""
    _CACHE.clear()
