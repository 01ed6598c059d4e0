"""Physics that must hold without Kwant: quantisation, plateaus, unitarity, symmetries, gauge, solver agreement."""
import numpy as np
import pytest

import magwidgets as mw
from magwidgets.core.wire import onsite_blocks, slice_hamiltonian, x_hopping


def open_channels(wire: mw.Wire, energy: float) -> int:
    """Transverse subbands of a field-free square lead below the energy."""
    bottoms = wire.lead_onsite - 2 * np.cos(np.pi * np.arange(1, wire.width + 1) / (wire.width + 1)) - 2
    tops = bottoms + 4
    return int(np.sum((bottoms < energy) & (energy < tops)))


def seed000_antidot(amplitude=10.0, x0=15, y0=10, radius=2.0, size=30):
    x, y = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    return 4 + amplitude * np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / radius**2)


def test_clean_seed000_wire_has_eleven_channels():
    wire = mw.Wire(30, 30)
    assert mw.conductance(wire, np.full((30, 30), 4.0), 0.0, 1.2) == pytest.approx(11, abs=1e-10)
    assert open_channels(wire, 1.2) == 11


@pytest.mark.parametrize("offset", [-1e-6, 1e-6])
def test_clean_wire_is_quantised_next_to_subband_thresholds(offset):
    wire = mw.Wire(6, 9)
    threshold = 4 - 2 * np.cos(3 * np.pi / 10) - 2
    energy = threshold + offset
    conductance = mw.conductance(wire, np.full((6, 9), 4.0), 0.0, energy)
    assert open_channels(wire, energy) == (2 if offset < 0 else 3)
    assert conductance == pytest.approx(open_channels(wire, energy), abs=1e-9)


def test_no_open_channel_gives_exactly_zero():
    wire = mw.Wire(5, 4)
    conductance = np.asarray(mw.conductance(wire, np.full((5, 4), 4.0), [0.0, 0.1], [-0.5, 8.5]))
    assert np.all(conductance == 0.0)
    ideal = mw.Wire(5, 4, lead="ideal")
    assert np.isfinite(np.asarray(mw.conductance(ideal, np.zeros((5, 4)), 0.0, [-10.0, 0.0, 10.0]))).all()


def test_quantum_hall_edge_state_plateaus_survive_disorder():
    # flux 0.05: magnetic length 1.8 sites << W = 30, Landau levels at ~(n + 1/2) 4 pi flux = 0.31, 0.94, 1.57.
    wire = mw.Wire(30, 30)
    rng = np.random.default_rng(7)
    onsite = 4 + rng.uniform(-0.5, 0.5, (30, 30))
    plateaus = np.asarray(mw.conductance(wire, onsite, 0.05, [0.62, 1.25]))
    # The n = 1 edge state is wider, so its residual backscattering (~5e-5 here) is larger than n = 0s.
    np.testing.assert_allclose(plateaus, [1.0, 2.0], atol=1e-4)
    assert abs(plateaus[0] - 1) < 1e-8
    # At zero field the same disordered wire is far from quantised (universal conductance fluctuations).
    assert abs(mw.conductance(wire, onsite, 0.0, 1.25) - round(float(mw.conductance(wire, onsite, 0.0, 1.25)))) > 1e-3


@pytest.mark.parametrize(
    "wire",
    [mw.Wire(7, 6), mw.Wire(6, 5, lead="ideal", lead_k=1.1), mw.Wire(5, 4, lead="ideal", spin=True, exchange=0.7, lead_k=(0.6, 2.0))],
    ids=["square", "ideal", "spin"],
)
def test_scattering_matrix_is_unitary_and_reflection_plus_transmission_is_channels(wire):
    rng = np.random.default_rng(2)
    onsite = (4 if wire.lead == "square" else 0) + rng.uniform(-1, 1, (wire.length, wire.width))
    theta = rng.uniform(0, 2 * np.pi, onsite.shape) if wire.spin else None
    smatrix = np.asarray(mw.scattering_matrix(wire, onsite, 0.06, 1.1 if wire.lead == "square" else 0.3, theta))
    np.testing.assert_allclose(smatrix.conj().T @ smatrix, np.eye(len(smatrix)), atol=1e-10)
    n_left = len(smatrix) // 2
    transmission = np.sum(np.abs(smatrix[n_left:, :n_left]) ** 2)
    reflection = np.sum(np.abs(smatrix[:n_left, :n_left]) ** 2)
    assert transmission + reflection == pytest.approx(n_left, abs=1e-10)
    conductance = mw.conductance(wire, onsite, 0.06, 1.1 if wire.lead == "square" else 0.3, theta)
    assert transmission == pytest.approx(float(conductance), abs=1e-10)


def test_onsager_two_terminal_conductance_is_even_in_field():
    wire = mw.Wire(12, 10)
    onsite = 4 + np.random.default_rng(3).uniform(-1.5, 1.5, (12, 10))
    flux = np.linspace(0.01, 0.2, 7)
    np.testing.assert_allclose(mw.conductance(wire, onsite, flux, 1.3), mw.conductance(wire, onsite, -flux, 1.3), atol=1e-10)
    # and it is not trivially flat: the field changes G
    assert np.ptp(np.asarray(mw.conductance(wire, onsite, flux, 1.3))) > 0.05


def test_onsager_with_magnetisation_reverses_field_magnetisation_and_lead_polarisation():
    rng = np.random.default_rng(4)
    wire = mw.Wire(8, 6, lead="ideal", spin=True, exchange=0.5, lead_k=(0.5, 0.25))
    reversed_leads = mw.Wire(8, 6, lead="ideal", spin=True, exchange=0.5, lead_k=(0.25, 0.5))
    onsite, theta = rng.uniform(-1, 1, (8, 6)), rng.uniform(0, 2 * np.pi, (8, 6))
    flux = np.array([0.03, 0.11])
    forward = np.asarray(mw.conductance(wire, onsite, flux, 0.2, theta))
    backward = np.asarray(mw.conductance(reversed_leads, onsite, -flux, 0.2, theta + np.pi))
    np.testing.assert_allclose(forward, backward, atol=1e-10)
    # sigma_x and sigma_z are real, so complex conjugation alone maps H(flux) to H(-flux): G is even in the field.
    np.testing.assert_allclose(forward, np.asarray(mw.conductance(wire, onsite, -flux, 0.2, theta)), atol=1e-10)
    # But with polarised leads (k_up != k_down) reversing the magnetisation changes G (seed 004 sec. III.2).
    assert np.abs(forward - np.asarray(mw.conductance(wire, onsite, flux, 0.2, theta + np.pi))).max() > 1e-3


@pytest.mark.parametrize("flux", [0.013, 0.25, -0.4])
def test_phase_around_a_plaquette_is_two_pi_flux(flux):
    wire = mw.Wire(2, 4)
    blocks = onsite_blocks(wire, np.full((2, 4), 4.0), None)
    v = np.asarray(x_hopping(wire, flux))  # H[(x+1, y), (x, y)]
    h_y = np.asarray(slice_hamiltonian(wire, blocks[0]))  # H[(x, y'), (x, y)]
    for y in range(3):
        # Counter-clockwise (x,y) -> (x+1,y) -> (x+1,y+1) -> (x,y+1) -> (x,y), product of H[to, from].
        loop = v[y] * h_y[y + 1, y] * np.conj(v[y + 1]) * h_y[y, y + 1]
        assert np.angle(loop) == pytest.approx(np.angle(np.exp(2j * np.pi * flux)), abs=1e-12)


def test_conductance_is_periodic_in_one_flux_quantum_per_plaquette():
    wire = mw.Wire(6, 5)
    onsite = 4 + np.random.default_rng(5).uniform(-1, 1, (6, 5))
    np.testing.assert_allclose(mw.conductance(wire, onsite, 0.17, 1.0), mw.conductance(wire, onsite, 1.17, 1.0), atol=1e-9)


@pytest.mark.parametrize("name", ["seed000_antidot", "strong_disorder", "ideal", "spin"])
def test_transfer_matrix_and_recursive_green_function_agree(name):
    rng = np.random.default_rng(6)
    theta = None
    if name == "seed000_antidot":
        wire, onsite = mw.Wire(30, 30), seed000_antidot()
        flux, energy = np.linspace(0, 0.12 / np.pi, 21), 1.2
    elif name == "strong_disorder":
        wire, onsite = mw.Wire(40, 12), 4 + rng.uniform(-3, 3, (40, 12))
        flux, energy = np.linspace(0, 0.2, 5), np.array([0.5, 1.5, 3.0])
    elif name == "ideal":
        wire, onsite = mw.Wire(12, 12, lead="ideal"), rng.uniform(-1, 1, (12, 12))
        flux, energy = np.linspace(0, 0.15, 31), np.linspace(-1, 1, 5)
    else:
        wire = mw.Wire(12, 12, lead="ideal", spin=True, exchange=0.5, lead_k=(0.5, 0.25))
        onsite, theta = np.zeros((12, 12)), rng.uniform(0, 2 * np.pi, (12, 12))
        flux, energy = np.linspace(0, 0.15, 11), np.linspace(-1, 1, 3)
    transfer = np.asarray(mw.conductance(wire, onsite, flux, energy, theta, solver="transfer"))
    rgf = np.asarray(mw.conductance(wire, onsite, flux, energy, theta, solver="rgf"))
    np.testing.assert_allclose(transfer, rgf, rtol=0, atol=1e-9)


def test_seed000_antidot_fingerprint_is_not_trivial():
    conductance = np.asarray(mw.conductance(mw.Wire(30, 30), seed000_antidot(), np.linspace(0, 0.12 / np.pi, 101), 1.2))
    assert conductance.shape == (101,)
    # The antidot backscatters at zero field (11 channels open, G ~ 8.77); by flux 0.12/pi the magnetic length is
    # ~2 sites and the edge states skirt the antidot: the 3-channel quantum-Hall plateau.
    assert 8 < conductance[0] < 10
    np.testing.assert_allclose(conductance[-10:], 3.0, atol=1e-6)
    assert np.all(np.abs(np.diff(conductance[:40])) > 0)  # a smooth, non-constant fingerprint


def test_wavefunction_intensity_and_ldos_are_consistent():
    wire = mw.Wire(10, 8)
    onsite = 4 + np.random.default_rng(8).uniform(-1, 1, (10, 8))
    intensity = np.asarray(mw.wavefunction_intensity(wire, onsite, 0.04, 1.1))
    density = np.asarray(mw.ldos(wire, onsite, 0.04, 1.1))
    mirrored = np.asarray(mw.wavefunction_intensity(wire, onsite[::-1], -0.04, 1.1))[::-1]
    assert intensity.shape == density.shape == (10, 8)
    assert np.all(intensity >= 0) and np.all(density >= intensity / (2 * np.pi) - 1e-12)
    # LDOS = (left-incoming + right-incoming) / 2 pi; the right-incoming part is the mirrored wire's left part.
    np.testing.assert_allclose(density, (intensity + mirrored) / (2 * np.pi), atol=1e-10)


def test_single_precision_is_close_to_double():
    wire = mw.Wire(30, 30)
    flux = np.linspace(0, 0.12 / np.pi, 11)
    double = np.asarray(mw.conductance(wire, seed000_antidot(), flux, 1.2))
    single = np.asarray(mw.conductance(wire, seed000_antidot(), flux, 1.2, precision="single"))
    assert single.dtype == np.float32
    # complex64 loses ~1e-3 e^2/h through the growth of evanescent channels between re-normalisations.
    np.testing.assert_allclose(single, double, atol=3e-3)
