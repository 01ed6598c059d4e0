"""The bulk lead path (closed form at zero flux, one real Schur decomposition per point, Sigma_L = Sigma_R^T, spin
from the spinless lead, a thread pool over points) against the previous per-point algorithm, which solved each
lead on its own from an eigendecomposition of the complex transfer matrix."""
import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import magwidgets as mw
from magwidgets.core.leads import _lead_hamiltonian, clear_lead_cache, coupling_matrix, lead_self_energies
from magwidgets.core.process import openblas_thread_controls

from lead_reference import reference_lead_point


def random_wire(rng, spin: bool) -> mw.Wire:
    return mw.Wire(3, int(rng.integers(1, 22)), hopping=float(rng.uniform(0.6, 1.4)),
                   lead_onsite=float(rng.uniform(2.0, 5.0)), spin=spin, exchange=0.3 if spin else 0.0)


def bulk(wire: mw.Wire, flux, energy):
    clear_lead_cache()
    return lead_self_energies(wire, np.asarray(flux, float), np.asarray(energy, float))


def gamma(coupling: np.ndarray) -> np.ndarray:
    return coupling @ coupling.conj().T


def band_edge(wire: mw.Wire, flux: float, band: int, top: bool) -> float:
    """Bottom (or top) of transverse band ``band`` of the lead: an extremum of an eigenvalue of
    H(k) = H_0 + V exp(-ik) + V^dag exp(ik), to ~1e-16 t (the band is quadratic there)."""
    h0, v = _lead_hamiltonian(wire, flux)
    sign = -1.0 if top else 1.0

    def band_energy(k: float) -> float:
        return sign * np.linalg.eigvalsh(h0 + np.diag(v * np.exp(-1j * k) + np.conj(v) * np.exp(1j * k)))[band]

    grid = np.linspace(-np.pi, np.pi, 721)
    k0 = grid[np.argmin([band_energy(k) for k in grid])]
    step = grid[1] - grid[0]
    return sign * minimize_scalar(band_energy, bounds=(k0 - step, k0 + step), method="bounded",
                                  options=dict(xatol=1e-12)).fun


def dyson_residual(wire: mw.Wire, flux: float, energy: float, sigma_left, sigma_right) -> float:
    """max |Sigma - V^(dag) (E - H_0 - Sigma)^{-1} V^(dag)| over both leads."""
    h0, v = _lead_hamiltonian(wire, flux)
    shifted = energy * np.eye(len(v)) - h0
    right = sigma_right - np.conj(v)[:, None] * np.linalg.inv(shifted - sigma_right) * v[None, :]
    left = sigma_left - v[:, None] * np.linalg.inv(shifted - sigma_left) * np.conj(v)[None, :]
    return max(np.abs(right).max(), np.abs(left).max())


@pytest.mark.parametrize("spin", [False, True])
def test_bulk_leads_equal_the_previous_algorithm_on_random_wires_in_field(spin):
    rng = np.random.default_rng(21 + spin)
    for _ in range(6):
        wire = random_wire(rng, spin)
        # Nonzero fluxes of both signs, and zero flux (the closed form), at energies across the band and outside it.
        flux = np.concatenate([rng.uniform(-0.4, 0.4, 7), [0.0, 0.0]])
        energy = wire.lead_onsite + wire.hopping * rng.uniform(-5.0, 5.0, flux.size)
        leads = bulk(wire, flux, energy)
        for i, (phi, e) in enumerate(zip(flux, energy)):
            sigma_left, sigma_right, n_open = reference_lead_point(wire, phi, e)
            assert leads.n_open_left[i] == leads.n_open_right[i] == n_open
            np.testing.assert_allclose(leads.left[i], sigma_left, rtol=0, atol=1e-12)
            np.testing.assert_allclose(leads.right[i], sigma_right, rtol=0, atol=1e-12)
            for coupling, sigma in ((leads.coupling_left[i], sigma_left), (leads.coupling_right[i], sigma_right)):
                np.testing.assert_allclose(gamma(coupling), gamma(coupling_matrix(sigma, n_open)), rtol=0, atol=1e-12)
                assert not np.any(coupling[:, n_open:])


def test_left_lead_is_the_transpose_of_the_right_one():
    # Reciprocity of the Landau-gauge lead (H_0 real symmetric, V diagonal): Sigma_L(flux) = Sigma_R(flux)^T.
    wire = mw.Wire(3, 9, spin=True, exchange=0.4)
    leads = bulk(wire, [0.07, -0.21], [1.3, 2.6])
    np.testing.assert_array_equal(leads.left, np.swapaxes(leads.right, -1, -2))
    sigma_left, sigma_right, _ = reference_lead_point(wire, -0.21, 2.6)
    np.testing.assert_allclose(sigma_left, sigma_right.T, atol=1e-12)


@pytest.mark.parametrize("case", range(8))
def test_bulk_leads_within_1e_10_of_a_subband_threshold(case):
    """Within 1e-10 t of a threshold Sigma is extremely sensitive to the energy (dSigma/dE ~ 1/velocity, up to
    ~1e7 on a flat Landau band), so two exact algorithms differ by what a few ulps of E change in the answer.
    What must hold to 1e-12: both leads solve their Dyson equations, the channel count is the reference's (and
    jumps by the band's degeneracy across the threshold), and Sigma agrees with the reference within its own
    sensitivity to the last bits of E."""
    rng = np.random.default_rng(100 + case)
    spin = case % 3 == 2
    wire = mw.Wire(2, int(rng.integers(3, 16)), spin=spin, exchange=0.2 if spin else 0.0)
    flux = 0.0 if case % 4 == 1 else float(rng.uniform(0.02, 0.3))
    edge = band_edge(wire, flux, int(rng.integers(0, wire.slice_size)), top=bool(case % 2))
    offsets = np.array([1e-10, 3e-11, -3e-11, -1e-10])
    try:
        reference = [reference_lead_point(wire, flux, e) for e in edge + offsets]
    except ValueError:
        # A sharply curved edge (an avoided crossing of two bands): the modes coalesce closer than double
        # precision resolves even 1e-10 t away, and the bulk path must refuse it the same way.
        with pytest.raises(ValueError, match="subband threshold"):
            bulk(wire, np.full(4, flux), edge + offsets)
        return
    leads = bulk(wire, np.full(4, flux), edge + offsets)
    for i, (e, (sigma_left, sigma_right, n_open)) in enumerate(zip(edge + offsets, reference)):
        assert leads.n_open_right[i] == n_open
        assert dyson_residual(wire, flux, e, leads.left[i], leads.right[i]) < 1e-12
        ulps = 4 * np.spacing(e)
        sensitivity = max(np.abs(reference_lead_point(wire, flux, e + step)[1] - sigma_right).max()
                          for step in (-ulps, ulps))
        assert np.abs(leads.right[i] - sigma_right).max() < 1e-12 + 4 * sensitivity
        assert np.abs(leads.left[i] - sigma_left).max() < 1e-12 + 4 * sensitivity
    counts = [n_open for _, _, n_open in reference]
    assert counts[0] == counts[1] != counts[2] == counts[3]


def test_zero_flux_closed_form_next_to_a_threshold_and_far_from_the_band():
    wire = mw.Wire(3, 8)
    threshold = wire.lead_onsite - 2 - 2 * np.cos(3 * np.pi / 9)  # bottom of subband 3
    energies = np.array([threshold + 1e-10, threshold - 1e-10, wire.lead_onsite + 40.0, -1e6])
    leads = bulk(wire, np.zeros(4), energies)
    np.testing.assert_array_equal(leads.n_open_right, [3, 2, 0, 0])
    for i, e in enumerate(energies):
        assert dyson_residual(wire, 0.0, e, leads.left[i], leads.right[i]) < 1e-12 * max(1.0, abs(e))
    with pytest.raises(ValueError, match="subband threshold"):
        bulk(wire, [0.0], [threshold + 1e-14])


def test_progress_is_reported_in_points_up_to_the_total():
    wire = mw.Wire(3, 6)
    reports = []
    clear_lead_cache()
    flux = np.repeat(np.linspace(0.0, 0.1, 25), 2)
    lead_self_energies(wire, flux, np.tile([0.7, 1.9], 25), progress=lambda done, total: reports.append((done, total)))
    done = [d for d, _ in reports]
    assert {t for _, t in reports} == {50} and done == sorted(done) and done[-1] == 50 and len(done) > 2
    reports.clear()
    lead_self_energies(wire, flux, np.tile([0.7, 1.9], 25), progress=lambda *report: reports.append(report))
    assert reports == []  # a cache hit computes nothing


def test_openblas_runs_one_thread_per_call_while_leads_compute_and_is_restored(monkeypatch):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)  # an explicit setting would be left alone
    controls = openblas_thread_controls()
    assert controls, "NumPy's and SciPy's OpenBLAS should be found on Linux"
    before = [get() for get, _ in controls]
    for _, set_threads in controls:
        set_threads(2)
    try:
        during = []
        clear_lead_cache()
        lead_self_energies(mw.Wire(3, 8), np.linspace(0.01, 0.1, 24), np.full(24, 1.3),
                           progress=lambda done, total: during.append([get() for get, _ in controls]))
        assert [1] * len(controls) in during
        assert [get() for get, _ in controls] == [2] * len(controls)
    finally:
        for (_, set_threads), count in zip(controls, before):
            set_threads(count)
