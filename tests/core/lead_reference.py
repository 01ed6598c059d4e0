"""The lead algorithm before the bulk path: an eigendecomposition of the transfer matrix and one sorted Schur
decomposition per lead, each lead on its own. Kept only as the independent reference of test_lead_bulk.py."""
import numpy as np
import scipy.linalg

from magwidgets.core.leads import (COALESCENCE_TOLERANCE, DEGENERACY_TOLERANCE, PROPAGATING_TOLERANCE,
                                   _lead_hamiltonian)


def _current_diagonal_modes(lam: complex, modes: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotate degenerate propagating modes so that the current is diagonal; return (modes, currents)."""
    # J = -i (conj(lambda) U^dag V U - lambda U^dag V^dag U): Hermitian; its diagonal is 2 Im(conj(lambda) u^dag V u).
    forward = modes.conj().T @ (v[:, None] * modes)
    backward = modes.conj().T @ (np.conj(v)[:, None] * modes)
    current = -1j * (np.conj(lam) * forward - lam * backward)
    currents, rotation = np.linalg.eigh((current + current.conj().T) / 2)
    return modes @ rotation, currents


def reference_lead_point(wire, flux: float, energy: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Self-energies (Sigma_L, Sigma_R) and the number of open channels of square leads at one point.

    Raises
    ------
    ValueError
        If the energy sits on a subband threshold or within ~1e-12 t of one (a Jordan block: modes cannot be
        separated into left- and right-going), so the caller can move the energy by a small amount.

    Notes
    -----
    Inside the band region only (``|E - lead_onsite| <= 16 t``).
    """
    n = wire.slice_size
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
