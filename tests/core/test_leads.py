"""Exact lead self-energies against the closed form and the lead's own quadratic matrix equation."""
import numpy as np
import pytest

import magwidgets as mw
from magwidgets.core.leads import _lead_hamiltonian, field_free_self_energies, lead_self_energies, square_lead_point


def dyson_residual(wire: mw.Wire, energy: float, sigma_right: np.ndarray) -> float:
    """max |Sigma_R - V^dag (E - H_0 - Sigma_R)^{-1} V| of the field-free lead (its own Dyson equation)."""
    h0, v = _lead_hamiltonian(wire, 0.0)
    shifted = energy * np.eye(len(v)) - h0
    return np.abs(sigma_right - np.conj(v)[:, None] * np.linalg.inv(shifted - sigma_right) * v[None, :]).max()


@pytest.mark.parametrize("energy", [0.3, 1.2, 2.9, 4.0, 7.7, 1.2 + 1e-7])
def test_the_closed_form_equals_the_general_path_as_the_field_vanishes(energy):
    """The core's closed form (transverse sine modes) at B = 0 against the general Schur path at B = 1e-14:
    Sigma depends smoothly on the flux away from thresholds, so they agree to 1e-12; and it solves the Dyson
    equation."""
    wire = mw.Wire(3, 7)
    sigma_closed, _, n_open = field_free_self_energies(wire, np.array([energy]))
    _, sigma_general, n_open_general = square_lead_point(wire, 1e-14, energy)
    np.testing.assert_allclose(sigma_closed[0], sigma_general, rtol=0, atol=1e-12)
    assert n_open[0] == n_open_general
    assert dyson_residual(wire, energy, sigma_closed[0]) < 1e-12


def test_self_energy_just_above_a_subband_threshold():
    """Next to the bottom of subband 2 the closed form still solves the Dyson equation, and the channel count
    jumps from 1 to 2 across it."""
    wire = mw.Wire(3, 7)
    threshold = 4 - 2 * np.cos(2 * np.pi / 8) - 2
    for offset in (1e-6, -1e-6, 1e-9):
        _, sigma_right, n_open = square_lead_point(wire, 0.0, threshold + offset)
        assert dyson_residual(wire, threshold + offset, sigma_right) < 1e-10
        assert n_open == (2 if offset > 0 else 1)


@pytest.mark.parametrize("flux", [0.0, 0.03, 0.15, 0.31])
def test_bloch_matrices_solve_the_lead_equation_in_a_field(flux):
    # F_R = V^dag^{-1} Sigma_R satisfies V^dag F^2 - (E - H_0) F + V = 0 (psi_{x+1} = F psi_x in the lead).
    wire = mw.Wire(3, 12)
    energy = 0.9
    h0, v = _lead_hamiltonian(wire, flux)
    sigma_left, sigma_right, n_open = square_lead_point(wire, flux, energy)
    bloch = sigma_right / np.conj(v)[:, None]
    residual = np.conj(v)[:, None] * (bloch @ bloch) - (energy * np.eye(12) - h0) @ bloch + np.diag(v)
    assert np.abs(residual).max() < 1e-10
    gamma = 1j * (sigma_right - sigma_right.conj().T)
    eigenvalues = np.linalg.eigvalsh((gamma + gamma.conj().T) / 2)
    assert np.all(eigenvalues > -1e-10)  # Gamma is positive semi-definite,
    assert np.sum(eigenvalues > 1e-8) == n_open  # with rank equal to the number of open channels.


def test_wide_lead_in_a_weak_field_solves_both_dyson_equations():
    # W = 100 at flux 0.0038: the evanescent eigenvectors are nearly parallel (condition ~1e15); built from them,
    # Sigma_R missed its Dyson equation by 5e-2 and G missed Kwant by 1e-3 e^2/h. Schur bases keep it exact.
    wire, flux, energy = mw.Wire(2, 100), 0.0038197, 1.2
    h0, v = _lead_hamiltonian(wire, flux)
    sigma_left, sigma_right, n_open = square_lead_point(wire, flux, energy)
    shifted = energy * np.eye(100) - h0
    right = sigma_right - np.conj(v)[:, None] * np.linalg.inv(shifted - sigma_right) * v[None, :]
    left = sigma_left - v[:, None] * np.linalg.inv(shifted - sigma_left) * np.conj(v)[None, :]
    assert max(np.abs(right).max(), np.abs(left).max()) < 1e-11
    gamma = 1j * (sigma_right - sigma_right.conj().T)
    assert np.sum(np.linalg.eigvalsh((gamma + gamma.conj().T) / 2) > 1e-8) == n_open == 27


def test_ideal_lead_is_open_on_every_row_at_every_energy():
    wire = mw.Wire(4, 5, lead="ideal", lead_k=0.7)
    leads = lead_self_energies(wire, np.zeros(3), np.array([-3.0, 0.0, 3.0]))
    assert np.all(leads.n_open_left == 5)
    np.testing.assert_allclose(np.diagonal(leads.left, axis1=1, axis2=2), -np.exp(0.7j) * np.ones((3, 5)))


def test_leads_are_cached_per_grid_and_independent_of_the_potential():
    wire = mw.Wire(5, 6)
    flux, energy = np.array([0.0, 0.1]), np.array([1.0, 1.0])
    first = lead_self_energies(wire, flux, energy)
    assert lead_self_energies(mw.Wire(9, 6), flux, energy) is first  # same leads, other length
    assert lead_self_energies(wire, flux + 0.01, energy) is not first
