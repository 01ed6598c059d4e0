"""Exact lead self-energies from the lead's own eigenproblem (no broadening eta), computed in bulk.

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

In practice F_R is built from a better-conditioned basis of the same space: an orthonormal Schur basis of the
evanescent modes plus the propagating modes (see :func:`_schur_self_energy`). The previous per-point algorithm
(an eigendecomposition and two sorted complex Schur decompositions per point, each lead on its own) is kept in
the tests only, as the independent reference the bulk path is checked against (``tests/core/lead_reference.py``).

What makes it cheap (measured in ``benchmarks/bench_transport.py``):

- One lead is enough. H_0 is real symmetric and V diagonal, so transposing the right lead's Dyson equation
  ``Sigma_R = V^dag (E - H_0 - Sigma_R)^{-1} V`` gives the left lead's, ``Sigma_L = V (E - H_0 - Sigma_L)^{-1}
  V^dag``, and the transpose keeps the outgoing (retarded) solution: ``Sigma_L = Sigma_R^T`` and
  ``Gamma_L = Gamma_R^T = conj(Gamma_R)`` (reciprocity: a mirror x -> -x maps flux to -flux, time reversal maps
  it back).
- One real Schur decomposition per point. In the basis of :func:`mirror_basis` (mirror-symmetric and
  -antisymmetric combinations of the rows y and W - 1 - y, the latter times i) the lead in a field is real, so
  LAPACK's real ``dgees`` (~3.5x cheaper than the complex ``zgees`` at n = 30) and two reorderings ``dtrsen``
  give the evanescent and the propagating invariant subspaces; the propagating modes come from the small block of the
  Schur form (the evanescent parts they miss lie in the evanescent subspace, which is kept whole, and carry no
  current). See :func:`_schur_self_energy`.
- The leads carry no exchange, so a spin lead is two copies of the spinless one: Sigma = Sigma_1 (x) 1_2, found
  from the W x W problem (8x less work than the 2W x 2W one).
- At zero flux the lead separates into transverse sine modes chi_m(y) = sqrt(2/(W+1)) sin(pi m (y+1)/(W+1)) with
  subband energies eps_m = lead_onsite - 2t cos(pi m/(W+1)): ``Sigma_R = -t sum_m lambda_m chi_m chi_m^T`` with
  lambda_m + 1/lambda_m = (eps_m - E)/t, |lambda_m| < 1 or, when propagating, Im lambda_m > 0 (velocity
  2t sin k > 0). Exact, for every energy of a grid at once.
- Points are independent: they are spread over a thread pool (:func:`lead_threads` threads, ``POINTS_PER_TASK``
  points per task). LAPACK runs without the GIL only when called so: NumPy's ``linalg`` releases it, SciPy's f2py
  wrappers do not, hence the ctypes calls of :func:`_lapack_routine`. (Stacking points into one NumPy call buys
  nothing: LAPACK loops over the stack on one core.) While they run, OpenBLAS is held at one thread per call
  (:func:`_one_blas_thread`): the points already use every core.

Ideal leads (seed 004 eqs. 10-11): decoupled 1D chains with hopping -t held at wave number k at every energy;
an outgoing wave exp(ik|x|) gives Sigma = -t exp(ik) on every row (per spin: k_up, k_down) and Gamma = 2 t sin k.

Gamma is factorised as Gamma = C C^dag with exactly as many columns as open channels (the rest zero), so a closed
energy gives G = 0 exactly and rounding in Sigma - Sigma^dag never leaks into the observables.
"""
from __future__ import annotations

import ctypes
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from functools import lru_cache
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg.cython_lapack

from .process import openblas_thread_controls
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
#: Points handed to one task of the thread pool: large enough that the pool's bookkeeping stays small next to
#: ~1-3 ms of LAPACK per point, small enough to report progress several times a second.
POINTS_PER_TASK = 8

#: ``progress(done, total)``: called in the calling thread after every finished group of points.
Progress = Callable[[int, int], None]


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


def _lead_hamiltonian(wire: Wire, flux: float, per_spin: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Unit-cell Hamiltonian H_0 (n, n) and the diagonal of V = H[x+1, x] of the square lead.

    ``per_spin=True``: one spin species only (n = W), the block both spins of a spin lead repeat.
    """
    n_orb, t = (1 if per_spin else wire.n_orbitals), wire.hopping
    chain = np.eye(wire.width, k=1) + np.eye(wire.width, k=-1)
    h0 = wire.lead_onsite * np.eye(wire.width * n_orb) - t * np.kron(chain, np.eye(n_orb))
    rows = np.repeat(np.arange(wire.width), n_orb)
    return h0.astype(complex), -t * np.exp(-2j * np.pi * flux * rows)


def _threshold_error(flux: float, energy: float, what: str) -> ValueError:
    return ValueError(f"energy {energy!r} at flux {flux!r} lies {what} of the lead; move the energy by ~1e-9 t.")


def _current_matrix(here: np.ndarray, before: np.ndarray, hopping: np.ndarray) -> np.ndarray:
    """Current form between states given by their values on two neighbouring slices (psi_x, psi_{x-1}),

        J_ab = -i (psi_x,a^dag V psi_{x-1},b - psi_{x-1},a^dag V^dag psi_x,b),

    Hermitian; for a mode (lambda u, u) its diagonal is 2 Im(conj(lambda) u^dag V u), the current it carries.
    """
    current = -1j * (here.conj().T @ hopping @ before - before.conj().T @ hopping.conj().T @ here)
    return (current + current.conj().T) / 2


def mirror_basis(width: int) -> np.ndarray:
    """Unitary U (W x W) in which the square lead in a field is real.

    Columns: (e_y + e_y') / sqrt(2) and i (e_y - e_y') / sqrt(2) for the mirror pairs y' = W - 1 - y, and e_y on
    the middle row of an odd width. These vectors are invariant under K R (complex conjugation after the mirror
    y -> W - 1 - y), so every matrix M with R conj(M) R = M is real in this basis. H_0 is real and mirror
    symmetric; the hopping ``V_c = diag(-t exp(-2 pi i flux (y - (W - 1)/2)))`` (V times a constant phase, which
    leaves ``Sigma = V^dag (E - H_0 - Sigma)^{-1} V`` unchanged) satisfies R conj(V_c) R = V_c.
    """
    basis = np.zeros((width, width), complex)
    pairs = width // 2
    for y in range(pairs):
        basis[[y, width - 1 - y], y] = 1 / np.sqrt(2), 1 / np.sqrt(2)
        basis[[y, width - 1 - y], pairs + y] = 1j / np.sqrt(2), -1j / np.sqrt(2)
    if width % 2:
        basis[pairs, width - 1] = 1.0
    return basis


def _lapack_routine(name: str, n_arguments: int):
    """LAPACK routine ``name`` from SciPy's Cython exports, called through ctypes.

    SciPy's f2py wrappers (``scipy.linalg.lapack.dgees``) hold the GIL for the whole call, so a thread pool over
    lead points ran one point at a time; ctypes releases the GIL around a foreign call, and these are the same
    LAPACK routines of the same library (bit-identical results). All arguments are pointers (Fortran convention).
    """
    capsule = scipy.linalg.cython_lapack.__pyx_capi__[name]
    # Private prototypes: setting restype on ctypes.pythonapi's shared function objects would change them for
    # every other user in the process.
    get_name = ctypes.PYFUNCTYPE(ctypes.c_char_p, ctypes.py_object)(("PyCapsule_GetName", ctypes.pythonapi))
    get_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
        ("PyCapsule_GetPointer", ctypes.pythonapi))
    address = get_pointer(capsule, get_name(capsule))
    return ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * n_arguments))(address)


@lru_cache(maxsize=None)
def _lapack(name: str):
    return _lapack_routine(name, {"dgees": 15, "dtrsen": 18}[name])


def _address(array: np.ndarray) -> int:
    return array.ctypes.data


@lru_cache(maxsize=None)
def _schur_workspace(size: int) -> int:
    """LAPACK's optimal workspace of ``dgees`` for a size x size matrix (a workspace query)."""
    return int(_real_schur(np.zeros((size, size)), query=True)) or 3 * size


def _real_schur(matrix: np.ndarray, query: bool = False):
    """Real Schur form ``A = Q S Q^T`` (LAPACK ``dgees``, unsorted): (S, Q, eigenvalues, info), S quasi-triangular.

    ``query=True`` returns LAPACK's optimal workspace size instead.
    """
    size = matrix.shape[0]
    a = np.array(matrix, dtype=float, order="F")
    q = np.zeros((size, size), order="F")
    real, imaginary = np.zeros(size), np.zeros(size)
    n, sdim, info = np.array([size], np.int32), np.zeros(1, np.int32), np.zeros(1, np.int32)
    lwork = np.array([-1 if query else _schur_workspace(size)], np.int32)
    work, bwork = np.zeros(max(1, int(lwork[0]))), np.zeros(size, np.int32)
    _lapack("dgees")(b"V", b"N", None, *map(_address, (n, a, n, sdim, real, imaginary, q, n, work, lwork, bwork,
                                                      info)))
    if query:
        return work[0]
    return a, q, real + 1j * imaginary, int(info[0])


def _reorder_schur(select: np.ndarray, schur: np.ndarray, vectors: np.ndarray):
    """Move the selected eigenvalues of a real Schur form to its top-left, keeping their order (LAPACK
    ``dtrsen``; a complex pair must be selected whole). Returns (S, Q, eigenvalues, count, info)."""
    size = schur.shape[0]
    s, q = np.array(schur, order="F"), np.array(vectors, order="F")
    chosen = np.ascontiguousarray(select, np.int32)
    real, imaginary, condition, separation = np.zeros(size), np.zeros(size), np.zeros(1), np.zeros(1)
    n, count, info = np.array([size], np.int32), np.zeros(1, np.int32), np.zeros(1, np.int32)
    work, lwork = np.zeros(max(1, size)), np.array([max(1, size)], np.int32)
    iwork, liwork = np.zeros(1, np.int32), np.array([1], np.int32)
    _lapack("dtrsen")(b"N", b"V", *map(_address, (chosen, n, s, n, q, n, real, imaginary, count, condition,
                                                  separation, work, lwork, iwork, liwork, info)))
    return s, q, real + 1j * imaginary, int(count[0]), int(info[0])


def _schur_self_energy(h0: np.ndarray, hopping: np.ndarray, t: float, flux: float, energy: float
                       ) -> tuple[np.ndarray, int]:
    """Sigma_R and the number of open channels from one real Schur decomposition of the transfer matrix.

    Parameters
    ----------
    h0, hopping : (n, n) real
        H_0 and V of the lead in a basis where both are real (:func:`mirror_basis`), V = -t O with O orthogonal.
    t : float
        The hopping t; V^dag^{-1} = V / t^2.

    Notes
    -----
    The transfer matrix ``T = [[V^dag^{-1} (E - H_0), -V^dag^{-1} V], [1, 0]]`` is real, so LAPACK's real Schur
    decomposition ``dgees`` (:func:`_real_schur`; T = Q S Q^T with S quasi-triangular, ~3.5x cheaper than the
    complex one at n = 30) and two reorderings ``dtrsen`` (each a fraction of a decomposition) put the k decaying
    eigenvalues (|lambda| < 1) first and the p propagating ones (|lambda| = 1) right after them (complex-conjugate
    pairs share |lambda| and move together). The first k Schur vectors span
    the decaying modes exactly (an orthonormal basis, well conditioned where the decaying eigenvectors are nearly
    parallel: W = 100 in a weak field). A propagating mode is u = Q_P y + e with y an eigenvector of the block
    S_PP (p x p) and e in the decaying subspace; e is not needed, because (i) the right-going space contains the
    decaying one whole, and (ii) e carries no current: T conserves the current form, so it vanishes between
    modes with conj(lambda) mu != 1, which holds for |lambda| = 1 > |mu|. Degenerate propagating modes are rotated
    to diagonalise the current; its sign makes a mode right- or left-going. Then ``F_R = Psi_x Psi_{x-1}^{-1}``
    over the right-going basis and ``Sigma_R = V^dag F_R``.

    Raises
    ------
    ValueError
        On a subband threshold or within ~1e-12 t of one, where the modes cannot be split into right- and
        left-going ones.
    """
    n = len(h0)
    hopping_back = hopping.T  # V^dag: real
    transfer = np.zeros((2 * n, 2 * n), order="F")
    transfer[:n, :n] = hopping @ (energy * np.eye(n) - h0) / t**2
    transfer[:n, n:] = -(hopping @ hopping) / t**2
    transfer[n:, :n] = np.eye(n)
    schur, vectors, eigenvalues, info = _real_schur(transfer)
    if info != 0:
        raise ValueError(f"the Schur decomposition of the lead at energy {energy!r}, flux {flux!r} did not converge.")
    separation_error = "too close to a subband threshold to separate its modes"

    def reorder(select: np.ndarray):
        reordered, basis, values, count, status = _reorder_schur(select, schur, vectors)
        if status != 0:
            raise _threshold_error(flux, energy, separation_error)
        return reordered, basis, values, count

    schur, vectors, lam, k = reorder(np.abs(eigenvalues) < 1 - PROPAGATING_TOLERANCE)
    magnitude = np.abs(lam)
    propagating = np.abs(magnitude - 1) < PROPAGATING_TOLERANCE
    p = int(np.count_nonzero(propagating))
    if not np.all(magnitude[:k] < 1 - PROPAGATING_TOLERANCE):
        raise _threshold_error(flux, energy, separation_error)
    if p:
        schur, vectors, lam, count = reorder(magnitude < 1 + PROPAGATING_TOLERANCE)
        magnitude = np.abs(lam)
        if count != k + p or not np.all(np.abs(magnitude[k:k + p] - 1) < PROPAGATING_TOLERANCE):
            raise _threshold_error(flux, energy, separation_error)
        values, small = np.linalg.eig(schur[k:k + p, k:k + p])
        modes = vectors[:, k:k + p] @ small
        scale = np.linalg.norm(modes[n:], axis=0)
        here, before = modes[:n] / scale, modes[n:] / scale
    else:
        values = np.zeros(0, complex)
        here = before = np.zeros((n, 0), complex)
    # The current form is diagonal between modes of distinct lambda; only degenerate groups need rotating.
    current = _current_matrix(here, before, hopping)
    currents = np.diag(current).real.copy()
    degenerate = np.abs(values[:, None] - values[None, :]) < DEGENERACY_TOLERANCE
    remaining = [i for i in range(p) if np.count_nonzero(degenerate[i]) > 1]
    while remaining:
        group = [i for i in remaining if degenerate[remaining[0], i]]
        remaining = [i for i in remaining if i not in group]
        currents[group], rotation = np.linalg.eigh(current[np.ix_(group, group)])
        here[:, group], before[:, group] = here[:, group] @ rotation, before[:, group] @ rotation
    if np.any(np.abs(currents) < 1e-12):
        raise _threshold_error(flux, energy, "on a subband threshold (a mode with zero velocity)")
    going = np.sign(currents)  # +1 right-going, -1 left-going
    # A coalescing pair (a right- and a left-going mode almost equal, both near the unit circle) marks an energy
    # within ~1e-12 t of a threshold, which double precision cannot resolve.
    near = np.abs(magnitude - 1) < 1e-4
    right_near = np.concatenate([lam[:k][near[:k]], values[going > 0]])
    left_near = np.concatenate([lam[k + p:][near[k + p:]], values[going < 0]])
    if right_near.size and left_near.size and \
            np.min(np.abs(right_near[:, None] - left_near[None, :])) < COALESCENCE_TOLERANCE:
        raise _threshold_error(flux, energy, "within ~1e-12 t of a subband threshold (a mode with almost zero "
                                             "velocity, which double precision cannot resolve)")
    n_open = int(np.count_nonzero(going > 0))
    if k + n_open != n or (2 * n - k - p) + int(np.count_nonzero(going < 0)) != n:
        raise _threshold_error(flux, energy, f"numerically on a subband threshold (the modes do not split into {n} "
                                             f"left- and {n} right-going ones)")
    right = going > 0
    psi_here = np.concatenate([vectors[:n, :k], here[:, right]], axis=1)
    psi_before = np.concatenate([vectors[n:, :k], before[:, right]], axis=1)
    # psi_{x+1} = F_R psi_x on the right-going space: F_R = Psi_x Psi_{x-1}^{-1}.
    bloch = np.linalg.solve(psi_before.T, psi_here.T).T
    return hopping_back @ bloch, n_open


def _dyson_self_energy(h0: np.ndarray, v: np.ndarray) -> Callable[[float], np.ndarray]:
    """Sigma_R far outside the band, from the Dyson equation of the semi-infinite right lead,

        Sigma_R = V^dag (E - H_0 - Sigma_R)^{-1} V,

    iterated from Sigma = 0. Every mode decays at least as fast as |lambda| <= 0.08 per slice when
    ``|E - lead_onsite| > 16 t``, and the iteration error shrinks by |lambda|^2 per step.
    """
    def at(energy: float) -> np.ndarray:
        shifted = energy * np.eye(len(v)) - h0
        sigma = np.zeros_like(h0)
        for _ in range(100):
            new = np.conj(v)[:, None] * np.linalg.inv(shifted - sigma) * v[None, :]
            converged = np.max(np.abs(new - sigma)) <= 1e-15 * np.max(np.abs(new))
            sigma = new
            if converged:
                break
        return sigma
    return at


def coupling_matrix(sigma: np.ndarray, n_open: int) -> np.ndarray:
    """C with ``Gamma = i (Sigma - Sigma^dag) = C C^dag``, keeping the ``n_open`` positive eigenvalues."""
    gamma = 1j * (sigma - sigma.conj().T)
    values, vectors = np.linalg.eigh((gamma + gamma.conj().T) / 2)
    coupling = np.zeros_like(sigma)
    if n_open:
        kept = slice(len(values) - n_open, None)
        coupling[:, :n_open] = vectors[:, kept] * np.sqrt(np.clip(values[kept], 0, None))
    return coupling


def field_free_self_energies(wire: Wire, energy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Right lead at zero flux, one spin species, at every energy at once, in closed form.

    Transverse sine modes chi_m(y) = sqrt(2/(W+1)) sin(pi m (y+1)/(W+1)), m = 1..W, with subband energies
    eps_m = lead_onsite - 2t cos(pi m/(W+1)). With b_m = (eps_m - E)/(2t), the outgoing root of
    lambda + 1/lambda = 2 b_m is

        lambda_m = b_m + i sqrt(1 - b_m^2)           (|b_m| < 1: open, velocity 2t sin k > 0),
        lambda_m = 1 / (b_m + sign(b_m) sqrt(b_m^2 - 1))   (|b_m| > 1: evanescent, |lambda_m| < 1),

    and ``Sigma_R = -t sum_m lambda_m chi_m chi_m^T``, ``Gamma_R = sum_open 2t sin k_m chi_m chi_m^T``. The
    products (1 - b)(1 + b) keep sqrt(|1 - b^2|) accurate next to a threshold, and the evanescent root is taken as
    the inverse of the large one, so it holds at any energy (no far-from-band special case).

    Returns
    -------
    sigma_right, coupling_right : (n_energy, W, W) complex
        The coupling's first ``n_open`` columns are sqrt(2t sin k_m) chi_m of the open subbands, the rest zero.
    n_open : (n_energy,) int

    Raises
    ------
    ValueError
        Within ~1e-12 t of a subband threshold (|lambda - 1/lambda| < ``COALESCENCE_TOLERANCE``), as the general
        path does: there the open-channel count flips, and a grid should step around it.
    """
    width, t = wire.width, wire.hopping
    energy = np.asarray(energy, float).reshape(-1)
    m = np.arange(1, width + 1)
    chi = np.sqrt(2 / (width + 1)) * np.sin(np.pi * np.outer(m, m) / (width + 1))  # [y, m], symmetric
    b = (wire.lead_onsite - 2 * t * np.cos(np.pi * m / (width + 1)) - energy[:, None]) / (2 * t)
    root = np.sqrt(np.abs((1 - b) * (1 + b)))
    open_ = np.abs(b) < 1
    close = 2 * root < COALESCENCE_TOLERANCE  # |lambda - 1/lambda| = 2 sqrt(|1 - b^2|)
    if np.any(close):
        i = int(np.argwhere(close)[0, 0])
        raise _threshold_error(0.0, float(energy[i]), "within ~1e-12 t of a subband threshold (a mode with almost "
                                                      "zero velocity, which double precision cannot resolve)")
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.where(open_, b + 1j * root, 1 / (b + np.where(b >= 0, 1.0, -1.0) * root))
    sigma = -t * np.einsum("ym,em,zm->eyz", chi, lam, chi)
    # Open subbands first (stable order), each column sqrt(Gamma_m) chi_m.
    order = np.argsort(~open_, axis=1, kind="stable")
    weight = np.sqrt(2 * t * np.where(open_, root, 0.0))
    coupling = np.take_along_axis(np.broadcast_to(chi, (len(energy), width, width)), order[:, None, :], axis=2) \
        * np.take_along_axis(weight, order, axis=1)[:, None, :]
    return sigma, coupling.astype(complex), np.count_nonzero(open_, axis=1).astype(np.int32)


def _spread_over_spin(matrices: np.ndarray, n_orbitals: int) -> np.ndarray:
    """``M (x) 1`` for a stack (..., W, W): the spin lead is ``n_orbitals`` copies of the spinless one (orbitals
    y-major, index ``y * n_orbitals + s``). Columns keep their order per site, so open channels stay first."""
    if n_orbitals == 1:
        return matrices
    *stack, width, _ = matrices.shape
    spread = np.zeros((*stack, width, n_orbitals, width, n_orbitals), matrices.dtype)
    for s in range(n_orbitals):
        spread[..., :, s, :, s] = matrices
    return spread.reshape(*stack, width * n_orbitals, width * n_orbitals)


def _square_points(wire: Wire, flux: np.ndarray, energy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Right lead (Sigma_R, C_R, n_open) of one spin species at a few points with nonzero flux, one by one."""
    n, t = wire.width, wire.hopping
    sigma = np.zeros((flux.size, n, n), complex)
    coupling = np.zeros((flux.size, n, n), complex)
    n_open = np.zeros(flux.size, np.int32)
    basis = mirror_basis(n)
    h0, _ = _lead_hamiltonian(wire, 0.0, per_spin=True)  # H_0 does not depend on the flux
    h0_mirrored = (basis.conj().T @ h0 @ basis).real
    rows = np.arange(n)
    for i, (phi, e) in enumerate(zip(flux.tolist(), energy.tolist())):
        if abs(e - wire.lead_onsite) > FAR_FROM_BAND * t:
            sigma[i] = _dyson_self_energy(h0, -t * np.exp(-2j * np.pi * phi * rows))(e)
            continue
        centred_hopping = -t * np.exp(-2j * np.pi * phi * (rows - (n - 1) / 2))
        hopping = (basis.conj().T @ (centred_hopping[:, None] * basis)).real
        mirrored, n_open[i] = _schur_self_energy(h0_mirrored, hopping, t, phi, e)
        sigma[i] = basis @ mirrored @ basis.conj().T
        coupling[i] = coupling_matrix(sigma[i], int(n_open[i]))
    return sigma, coupling, n_open


_BLAS_LOCK = threading.Lock()
_blas_users = 0
_blas_saved: list = []


@contextmanager
def _one_blas_thread():
    """One OpenBLAS thread per call while lead points are computed, the previous counts restored afterwards.

    The points already keep every core busy, and OpenBLAS's own threads on these 2W x 2W matrices made the leads
    ~10x slower here (OPENBLAS_NUM_THREADS=2: 16-27 ms per point of the G(flux, E) map against 1.7-2.6 ms). OpenBLAS
    has no per-thread setting (its ``_local`` setter is process-wide too), so the count is set for the process
    while any lead computation runs: the first one in sets it, the last one out restores it. An explicit
    ``OPENBLAS_NUM_THREADS`` is the user's choice and is left alone.
    """
    global _blas_users, _blas_saved
    controls = () if "OPENBLAS_NUM_THREADS" in os.environ else openblas_thread_controls()
    with _BLAS_LOCK:
        if _blas_users == 0:
            _blas_saved = [(setter, getter()) for getter, setter in controls]
            for setter, _ in _blas_saved:
                setter(1)
        _blas_users += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _blas_users -= 1
            if _blas_users == 0:
                for setter, count in _blas_saved:
                    setter(count)
                _blas_saved = []


def lead_threads() -> int:
    """Threads the lead computation spreads its points over: the CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _compute(wire: Wire, flux: np.ndarray, energy: np.ndarray, progress: Optional[Progress] = None
             ) -> LeadSelfEnergies:
    """Both leads at the points ``(flux[i], energy[i])``: closed forms where they exist, else one Schur
    decomposition per point on a thread pool. ``progress(done, total)`` is called in this thread."""
    flux = np.asarray(flux, float).ravel()
    energy = np.asarray(energy, float).ravel()
    total = flux.size
    if wire.lead == "ideal":
        wave_numbers = np.atleast_1d(wire.lead_k)
        sigma = np.diag(np.tile(-wire.hopping * np.exp(1j * wave_numbers), wire.width))
        coupling = np.diag(np.tile(np.sqrt(2 * wire.hopping * np.sin(wave_numbers)), wire.width)).astype(complex)
        stack = (total, wire.slice_size, wire.slice_size)
        n_open = np.full(total, wire.slice_size, np.int32)
        if progress is not None:
            progress(total, total)
        return LeadSelfEnergies(np.broadcast_to(sigma, stack).copy(), np.broadcast_to(sigma, stack).copy(),
                                np.broadcast_to(coupling, stack).copy(), np.broadcast_to(coupling, stack).copy(),
                                n_open, n_open.copy())
    n = wire.width
    sigma = np.zeros((total, n, n), complex)
    coupling = np.zeros((total, n, n), complex)
    n_open = np.zeros(total, np.int32)
    field_free = np.flatnonzero(flux == 0)
    if field_free.size:
        sigma[field_free], coupling[field_free], n_open[field_free] = field_free_self_energies(wire, energy[field_free])
    done = field_free.size
    if progress is not None:
        progress(done, total)
    in_field = np.flatnonzero(flux != 0)
    tasks = [in_field[start:start + POINTS_PER_TASK] for start in range(0, in_field.size, POINTS_PER_TASK)]
    workers = min(lead_threads(), len(tasks))
    with _one_blas_thread():
        if workers <= 1:
            results = ((points, _square_points(wire, flux[points], energy[points])) for points in tasks)
            pool = None
        else:
            pool = ThreadPoolExecutor(workers, thread_name_prefix="magwidgets-leads")
            futures = {pool.submit(_square_points, wire, flux[points], energy[points]): points for points in tasks}
            results = ((futures[future], future.result()) for future in as_completed(futures))
        try:
            for points, (sigma_part, coupling_part, open_part) in results:
                sigma[points], coupling[points], n_open[points] = sigma_part, coupling_part, open_part
                done += points.size
                if progress is not None:
                    progress(done, total)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
    sigma, coupling = (_spread_over_spin(array, wire.n_orbitals) for array in (sigma, coupling))
    n_open = n_open * wire.n_orbitals
    # Sigma_L = Sigma_R^T and Gamma_L = conj(Gamma_R) (see the module docstring), so C_L = conj(C_R).
    return LeadSelfEnergies(np.ascontiguousarray(np.swapaxes(sigma, -1, -2)), sigma, coupling.conj(), coupling,
                            n_open, n_open.copy())


def square_lead_point(wire: Wire, flux: float, energy: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Self-energies (Sigma_L, Sigma_R) and the number of open channels of square leads at one point.

    The same computation as every point of :func:`lead_self_energies` (uncached).

    Raises
    ------
    ValueError
        If the energy sits on a subband threshold or within ~1e-12 t of one (a Jordan block: modes cannot be
        separated into left- and right-going), so the caller can move the energy by a small amount.
    """
    leads = _compute(wire, np.array([flux], float), np.array([energy], float))
    return leads.left[0], leads.right[0], int(leads.n_open_right[0])


_CACHE: "OrderedDict[tuple, LeadSelfEnergies]" = OrderedDict()
_CACHE_SIZE = 64
#: Panels compute in background threads (a map's leads next to a sweep): the LRU bookkeeping takes this lock.
_CACHE_LOCK = threading.Lock()


def _lead_key(wire: Wire) -> tuple:
    # Only what the leads depend on: a new potential, length or exchange reuses the cache.
    if wire.lead == "ideal":
        return ("ideal", wire.width, wire.n_orbitals, wire.hopping, wire.lead_k)
    return ("square", wire.width, wire.n_orbitals, wire.hopping, wire.lead_onsite)


def lead_self_energies(wire: Wire, flux, energy, progress: Optional[Progress] = None) -> LeadSelfEnergies:
    """Lead self-energies at the points ``(flux[i], energy[i])`` (1-D arrays of equal length).

    Concrete inputs are computed in complex128 and cached (LRU, keyed by the lead parameters and the grid);
    traced inputs (a grid inside ``jax.jit``) go through ``jax.pure_callback``. Not differentiable with respect
    to flux or energy.

    Parameters
    ----------
    wire : Wire
        Only its lead parameters matter (width, spin, hopping, ``lead``, ``lead_onsite``, ``lead_k``).
    flux, energy : (n_points,) arrays
    progress : callable, optional
        ``progress(done, total)`` in points, called from this thread while a new grid is computed (several times a
        second on a seed-scale grid; once with ``done == total`` when it is complete); not called on a cache hit
        or for a traced grid.
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
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    result = _compute(wire, flux, energy, progress)
    with _CACHE_LOCK:
        _CACHE[key] = result
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return result


def clear_lead_cache() -> None:
    """Forget all cached lead self-energies (for benchmarks of the cold path)."""
    with _CACHE_LOCK:
        _CACHE.clear()
