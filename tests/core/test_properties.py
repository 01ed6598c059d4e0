"""Property-based tests of the public core API: any input gives a clear ValueError or a finite, right answer.

Right means: 0 <= G <= the open channels of the lead, a clean wire transmits exactly its channels (integer
plateaus, counted here independently from the lead's band structure), Onsager G(B) = G(-B), gauge periodicity
G(flux + 1) = G(flux), a unitary scattering matrix, and G = 0 exactly (no NaN) where no channel is open. Inputs
include huge (1e30, 1e300) and tiny (1e-300) on-site energies and energies, energies within 1e-15..1e-9 t of
subband thresholds, commensurate fluxes 1/q, and every wrong dtype, shape and non-finite value.

A few small wires are used throughout and values are drawn rather than shapes: each new shape costs a jit
compilation. The examples are fixed (``derandomize``) so that a failure reproduces; ``HYPOTHESIS_RANDOM=1``
draws fresh ones.
"""
import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import magwidgets as mw
from magwidgets.core import lead_self_energies
from magwidgets.core.observables import MAX_MAGNITUDE

PROPERTY = dict(deadline=None, database=None, derandomize=not os.environ.get("HYPOTHESIS_RANDOM"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

SQUARE_WIRES = [mw.Wire(4, 3), mw.Wire(1, 2), mw.Wire(3, 1), mw.Wire(5, 5)]
IDEAL = mw.Wire(3, 4, lead="ideal", lead_k=1.1)
SPIN = mw.Wire(3, 2, lead="ideal", spin=True, exchange=0.6, lead_k=(0.7, 2.1))
POINT_FUNCTIONS = [mw.wavefunction_intensity, mw.ldos, mw.scattering_matrix, mw.transmission_matrix]
ALL_FUNCTIONS = [mw.conductance, *POINT_FUNCTIONS]

HUGE_AND_TINY = [MAX_MAGNITUDE, -MAX_MAGNITUDE, 1e30, -1e30, 1e-300, -1e-300, 0.0]
BEYOND = [1e300, -1e300, 1.7976931348623157e308, 1.01 * MAX_MAGNITUDE]  # refused: complex arithmetic overflows
COMMENSURATE = sorted({p / q for q in range(1, 7) for p in range(-q, q + 1)})
K_GRID = np.linspace(-np.pi, np.pi, 4096, endpoint=False)


# --- an independent channel count: the lead's band structure on a k grid -------------------------------------

def lead_bands(wire: mw.Wire, flux: float) -> np.ndarray:
    """E_n(k) of the square lead in the Landau gauge, shape (n_k, W): H(k) = H_0 - 2t cos(k + 2 pi flux y) on
    the diagonal and -t between neighbouring rows."""
    t, width = wire.hopping, wire.width
    y = np.arange(width)
    hamiltonians = np.zeros((K_GRID.size, width, width))
    hamiltonians[:, y, y] = wire.lead_onsite - 2 * t * np.cos(K_GRID[:, None] + 2 * np.pi * flux * y)
    hamiltonians[:, y[:-1], y[1:]] = hamiltonians[:, y[1:], y[:-1]] = -t
    return np.linalg.eigvalsh(hamiltonians)


def band_extrema(wire: mw.Wire, flux: float) -> np.ndarray:
    bands = lead_bands(wire, flux)
    previous, following = np.roll(bands, 1, axis=0), np.roll(bands, -1, axis=0)
    is_extremum = ((bands <= previous) & (bands <= following)) | ((bands >= previous) & (bands >= following))
    return bands[is_extremum]


def channels_from_bands(wire: mw.Wire, flux: float, energy: float) -> int:
    """Right-going propagating modes at ``energy``: half the crossings of E by the periodic bands E_n(k).

    Exact when ``energy`` is more than ~1e-5 t from every band extremum (callers check with ``near_threshold``)."""
    above = lead_bands(wire, flux) > energy
    crossings = np.sum(above != np.roll(above, 1, axis=0))
    return int(crossings // 2)


def near_threshold(wire: mw.Wire, flux: float, energy: float, distance: float = 1e-4) -> bool:
    return wire.lead == "square" and bool(np.any(np.abs(band_extrema(wire, flux) - energy) < distance))


def zero_field_thresholds(wire: mw.Wire) -> np.ndarray:
    """Subband bottoms and tops at zero field: lead_onsite - 2t cos(pi j / (W + 1)) -/+ 2t."""
    centres = wire.lead_onsite - 2 * wire.hopping * np.cos(np.pi * np.arange(1, wire.width + 1) / (wire.width + 1))
    return np.concatenate([centres - 2 * wire.hopping, centres + 2 * wire.hopping])


def zero_field_channels(wire: mw.Wire, energy: float) -> int:
    bottoms, tops = np.split(zero_field_thresholds(wire), 2)
    return int(np.sum((bottoms < energy) & (energy < tops)))


def open_channels(wire: mw.Wire, flux: float, energy: float) -> int:
    return int(lead_self_energies(wire, np.array([flux]), np.array([energy])).n_open_left[0])


# --- strategies -----------------------------------------------------------------------------------------------

fluxes = st.one_of(st.sampled_from(COMMENSURATE), st.floats(-0.6, 0.6), st.sampled_from([1e-300, -1e-300, 1e-9]))


def site_values(low=-20.0, high=30.0):
    return st.one_of(st.floats(low, high), st.sampled_from(HUGE_AND_TINY), st.just(4.0))


@st.composite
def potentials(draw, wire, values=None):
    return draw(arrays(np.float64, (wire.length, wire.width), elements=site_values() if values is None else values))


@st.composite
def band_energies(draw, wire):
    """Energies in and around the band, including its edges and the zero-field subband thresholds +- 1e-9."""
    low, high = wire.lead_onsite - 4 * wire.hopping, wire.lead_onsite + 4 * wire.hopping
    special = [low, high] + [value + offset for value in zero_field_thresholds(wire) for offset in (-1e-9, 1e-9)]
    return draw(st.one_of(st.floats(low - 1, high + 1), st.sampled_from(special)))


def assert_threshold_refusal(error, wire, flux, energy):
    """A ValueError is acceptable only within ~1e-4 t of a band extremum, and must say so."""
    assert "threshold" in str(error) and "move the energy" in str(error), str(error)
    assert near_threshold(wire, flux, energy), f"refused E = {energy!r} at flux {flux!r}, far from any threshold"


# --- physics --------------------------------------------------------------------------------------------------

@settings(max_examples=50, **PROPERTY)
@given(wire=st.sampled_from(SQUARE_WIRES), flux=fluxes, data=st.data())
def test_a_clean_wire_transmits_exactly_its_open_channels(wire, flux, data):
    energy = data.draw(band_energies(wire), label="energy")
    assume(not near_threshold(wire, flux, energy))
    expected = channels_from_bands(wire, flux, energy)
    clean = np.full((wire.length, wire.width), wire.lead_onsite)
    conductance = np.asarray(mw.conductance(wire, clean, [flux, -flux, flux + 1], energy))
    assert open_channels(wire, flux, energy) == expected
    np.testing.assert_allclose(conductance, expected, rtol=0, atol=1e-8)
    if expected == 0:
        assert np.all(conductance == 0.0)


@settings(max_examples=50, **PROPERTY)
@given(wire=st.sampled_from([mw.Wire(3, 3), mw.Wire(2, 5)]), edge=st.integers(0, 9),
       offset=st.sampled_from([s * 10.0**-p for p in range(9, 16) for s in (1, -1)] + [0.0]))
def test_energies_next_to_subband_thresholds_are_right_or_refused(wire, edge, offset):
    thresholds = zero_field_thresholds(wire)
    threshold = thresholds[edge % thresholds.size]
    energy = threshold + offset
    clean = np.full((wire.length, wire.width), wire.lead_onsite)
    # Within a few rounding errors of the threshold its side is not defined; farther away it is.
    candidates = {zero_field_channels(wire, energy)}
    if abs(offset) < 1e-14:
        candidates = {zero_field_channels(wire, threshold - 1e-9), zero_field_channels(wire, threshold + 1e-9)}
    try:
        conductance = float(mw.conductance(wire, clean, 0.0, energy))
    except ValueError as error:
        assert "threshold" in str(error) and "move the energy by ~1e-9 t" in str(error)
        assert abs(offset) < 1e-11, f"refused an energy {offset:g} t from a threshold"
        return
    assert min(abs(conductance - n) for n in candidates) < 1e-8, (conductance, candidates)
    if abs(offset) >= 1e-11:
        for function in (mw.wavefunction_intensity, mw.ldos):
            assert np.all(np.isfinite(np.asarray(function(wire, clean, 0.0, energy))))


@settings(max_examples=50, **PROPERTY)
@given(wire=st.sampled_from(SQUARE_WIRES), flux=fluxes, data=st.data())
def test_conductance_is_bounded_even_in_field_and_periodic_in_the_flux_quantum(wire, flux, data):
    onsite = data.draw(potentials(wire), label="onsite")
    energy = data.draw(band_energies(wire), label="energy")
    try:
        conductance = np.asarray(mw.conductance(wire, onsite, [flux, -flux, flux + 1], energy))
    except ValueError as error:
        assert_threshold_refusal(error, wire, flux, energy)
        return
    channels = open_channels(wire, flux, energy)
    assert np.all(np.isfinite(conductance)), conductance
    assert np.all(conductance >= 0) and np.all(conductance <= channels + 1e-9), (conductance, channels)
    np.testing.assert_allclose(conductance[1:], conductance[0], rtol=0, atol=1e-9)  # Onsager, gauge
    if channels == 0:
        assert np.all(conductance == 0.0)
    # A full slice of sites 1e15 t away from E is a wall: nothing gets through.
    if np.any(np.all(np.abs(onsite - energy) > 1e15, axis=1)):
        assert np.all(conductance < 1e-10)
    # 1e-300 t is nothing.
    tiny = np.where(onsite == 0.0, 1e-300, onsite)
    np.testing.assert_allclose(np.asarray(mw.conductance(wire, tiny, flux, energy)), conductance[0], rtol=0,
                               atol=1e-12)


@settings(max_examples=40, **PROPERTY)
@given(wire=st.sampled_from(SQUARE_WIRES[:2]), flux=fluxes, data=st.data())
def test_no_open_channel_gives_exactly_zero_everywhere(wire, flux, data):
    """Below the band bottom or above its top: G, intensities and LDOS exactly 0, an empty S matrix, no NaN."""
    onsite = data.draw(potentials(wire), label="onsite")
    low, high = wire.lead_onsite - 4 * wire.hopping, wire.lead_onsite + 4 * wire.hopping
    energy = data.draw(st.one_of(st.floats(-MAX_MAGNITUDE, low), st.floats(high, MAX_MAGNITUDE),
                                 st.sampled_from([low, high, -1e30, 1e30, 1e-300 + low])), label="energy")
    assert open_channels(wire, flux, energy) == 0
    assert np.all(np.asarray(mw.conductance(wire, onsite, [flux, 0.0], energy)) == 0.0)
    for function in (mw.wavefunction_intensity, mw.ldos):
        assert np.all(np.asarray(function(wire, onsite, flux, energy)) == 0.0)
    assert np.shape(mw.scattering_matrix(wire, onsite, flux, energy)) == (0, 0)
    assert np.shape(mw.transmission_matrix(wire, onsite, flux, energy)) == (0, 0)


@settings(max_examples=40, **PROPERTY)
@given(wire=st.sampled_from([SQUARE_WIRES[0], IDEAL, SPIN]), flux=fluxes, data=st.data())
def test_scattering_matrix_is_unitary_and_its_transmission_is_the_conductance(wire, flux, data):
    onsite = data.draw(potentials(wire), label="onsite")
    theta = data.draw(potentials(wire, st.floats(-10, 10)), label="theta") if wire.spin else None
    energy = data.draw(band_energies(wire) if wire.lead == "square" else st.floats(-1e3, 1e3), label="energy")
    try:
        smatrix = np.asarray(mw.scattering_matrix(wire, onsite, flux, energy, theta))
    except ValueError as error:
        assert_threshold_refusal(error, wire, flux, energy)
        return
    channels = open_channels(wire, flux, energy) if wire.lead == "square" else wire.slice_size
    assert smatrix.shape == (2 * channels, 2 * channels)
    assert np.all(np.isfinite(smatrix))
    np.testing.assert_allclose(smatrix.conj().T @ smatrix, np.eye(2 * channels), rtol=0, atol=1e-9)
    transmission = np.asarray(mw.transmission_matrix(wire, onsite, flux, energy, theta))
    np.testing.assert_array_equal(transmission, smatrix[channels:, :channels])
    conductance = float(mw.conductance(wire, onsite, flux, energy, theta, solver="rgf"))
    assert np.sum(np.abs(transmission) ** 2) == pytest.approx(conductance, abs=1e-9)


@settings(max_examples=30, **PROPERTY)
@given(wire=st.sampled_from([IDEAL, SPIN]), flux=fluxes, data=st.data())
def test_ideal_and_spin_wires_are_bounded_even_and_periodic_at_any_energy(wire, flux, data):
    """Ideal leads keep every row open at every energy, including 1e300: G stays in [0, n] and finite."""
    onsite = data.draw(potentials(wire), label="onsite")
    theta = data.draw(potentials(wire, st.floats(-1e3, 1e3)), label="theta") if wire.spin else None
    energy = data.draw(st.one_of(st.floats(-50, 50), st.sampled_from(HUGE_AND_TINY)), label="energy")
    conductance = np.asarray(mw.conductance(wire, onsite, [flux, -flux, flux + 1], energy, theta))
    assert np.all(np.isfinite(conductance))
    assert np.all(conductance >= 0) and np.all(conductance <= wire.slice_size + 1e-9)
    np.testing.assert_allclose(conductance[1:], conductance[0], rtol=0, atol=1e-9)
    for function in (mw.wavefunction_intensity, mw.ldos):
        values = np.asarray(function(wire, onsite, flux, energy, theta))
        assert values.shape == (wire.length, wire.width) and np.all(np.isfinite(values)) and np.all(values >= 0)


@settings(max_examples=12, **PROPERTY)
@given(hopping=st.sampled_from([1e-300, 1e-30, 1e-3, 1e3, 1e30, 1e140]), scale=st.floats(-5, 5))
def test_extreme_hoppings_scale_out(hopping, scale):
    """G depends on energies only in units of t: a wire with hopping t at E = t * e is the t = 1 wire at e."""
    reference, energy = mw.Wire(3, 2, lead="ideal"), scale
    onsite = np.array([[0.3, -1.2], [2.0, 0.0], [-0.4, 0.9]])
    expected = float(mw.conductance(reference, onsite, 0.1, energy))
    scaled = mw.Wire(3, 2, lead="ideal", hopping=hopping)
    assert float(mw.conductance(scaled, onsite * hopping, 0.1, energy * hopping)) == pytest.approx(expected, abs=1e-9)


# --- bad input ------------------------------------------------------------------------------------------------

@settings(max_examples=30, **PROPERTY)
@given(function=st.sampled_from(ALL_FUNCTIONS), wire=st.sampled_from(SQUARE_WIRES[:2] + [IDEAL]),
       huge=st.sampled_from(BEYOND), where=st.sampled_from(["onsite", "energy"]), data=st.data())
def test_values_beyond_the_representable_range_are_refused_with_the_bound(function, wire, huge, where, data):
    """Beyond 1e150 the solvers' complex arithmetic overflows (G was NaN for +-1e300 on one slice): refused."""
    onsite = np.zeros((wire.length, wire.width))
    energy = 1.0
    if where == "onsite":
        onsite[data.draw(st.integers(0, wire.length - 1)), data.draw(st.integers(0, wire.width - 1))] = huge
    else:
        energy = huge
    with pytest.raises(ValueError, match=rf"^{where} must lie within \+-1e\+150"):
        function(wire, onsite, 0.1, energy)


WIRE = SQUARE_WIRES[0]
GOOD = np.full((WIRE.length, WIRE.width), 4.0)

wrong_shapes = arrays(np.float64, st.lists(st.integers(0, 5), min_size=0, max_size=3).map(tuple)
                      .filter(lambda shape: shape != (WIRE.length, WIRE.width)), elements=st.floats(-5, 5))
wrong_dtypes = st.one_of(
    arrays(np.complex128, (WIRE.length, WIRE.width), elements=st.complex_numbers(max_magnitude=10)),
    arrays(np.bool_, (WIRE.length, WIRE.width)),
    arrays(np.dtype("U3"), (WIRE.length, WIRE.width)),
    st.builds(lambda: np.full((WIRE.length, WIRE.width), 4.0, dtype=object)),
    st.sampled_from([None, "4.0", b"\x00\x01", [[1.0, 2.0], [3.0]], {"x": 1}, object()]),
)


@st.composite
def non_finite_potentials(draw):
    onsite = draw(arrays(np.float64, (WIRE.length, WIRE.width), elements=st.floats(-10, 10)))
    sites = draw(st.lists(st.tuples(st.integers(0, WIRE.length - 1), st.integers(0, WIRE.width - 1)), min_size=1,
                          max_size=4))
    for site in sites:
        onsite[site] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    return onsite


@settings(max_examples=60, **PROPERTY)
@given(function=st.sampled_from(ALL_FUNCTIONS), onsite=st.one_of(wrong_shapes, wrong_dtypes))
def test_wrong_onsite_shape_or_dtype_is_a_value_error_naming_what_was_expected(function, onsite):
    with pytest.raises(ValueError, match=r"onsite (must be a real array|must have shape|is required).*\(4, 3\)"):
        function(WIRE, onsite, 0.1, 1.0)


@settings(max_examples=40, **PROPERTY)
@given(function=st.sampled_from(ALL_FUNCTIONS), onsite=non_finite_potentials())
def test_non_finite_onsite_names_the_first_bad_site(function, onsite):
    with pytest.raises(ValueError, match="onsite must be finite everywhere") as raised:
        function(WIRE, onsite, 0.1, 1.0)
    site = tuple(int(i) for i in re.search(r"\(x, y\) = \((\d+), (\d+)\)", str(raised.value)).groups())
    assert site == tuple(np.argwhere(~np.isfinite(onsite))[0])


bad_scalars = st.one_of(st.sampled_from([np.nan, np.inf, -np.inf, True, False, None, "0.1", b"1", 1j, 0.1 + 0j,
                                         np.complex128(1.0), {}, object()]),
                        st.complex_numbers(allow_nan=True).filter(lambda z: z.imag != 0))
bad_grids = st.one_of(bad_scalars, st.sampled_from([[], [[0.1]], [0.1, np.nan], [0.1, np.inf], [[0.1], [0.1, 0.2]],
                                                    np.zeros((2, 2)), np.array([True, False]), ["0.1"]]))


@settings(max_examples=60, **PROPERTY)
@given(function=st.sampled_from(ALL_FUNCTIONS), which=st.sampled_from(["flux", "energy"]), data=st.data())
def test_bad_flux_or_energy_is_a_value_error_naming_the_argument(function, which, data):
    point = function is not mw.conductance
    bad = data.draw(st.one_of(bad_grids, st.just([0.1, 0.2])) if point else bad_grids, label=which)
    arguments = dict(flux=0.1, energy=1.0)
    arguments[which] = bad
    with pytest.raises(ValueError, match=rf"^{which} must be"):
        function(WIRE, GOOD, arguments["flux"], arguments["energy"])


@settings(max_examples=30, **PROPERTY)
@given(function=st.sampled_from(ALL_FUNCTIONS),
       theta=st.one_of(wrong_shapes, wrong_dtypes.filter(lambda value: value is not None), non_finite_potentials()))
def test_bad_theta_is_a_value_error(function, theta):
    with pytest.raises(ValueError, match="needs a spin wire"):
        function(WIRE, GOOD, 0.1, 1.0, theta=np.zeros((WIRE.length, WIRE.width)))
    spin = mw.Wire(WIRE.length, WIRE.width, lead="ideal", spin=True, exchange=0.5)
    with pytest.raises(ValueError, match=r"^theta must"):
        function(spin, np.zeros((WIRE.length, WIRE.width)), 0.1, 1.0, theta=theta)


@settings(max_examples=20, **PROPERTY)
@given(function=st.sampled_from(ALL_FUNCTIONS), wire=st.sampled_from([None, "wire", (4, 3), 4, object()]))
def test_something_other_than_a_wire_is_a_value_error(function, wire):
    with pytest.raises(ValueError, match="wire must be a magwidgets.Wire"):
        function(wire, GOOD, 0.1, 1.0)


anything = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**12), st.floats(allow_nan=True),
                     st.complex_numbers(), st.text(max_size=5), st.lists(st.floats(0.1, 3.0), max_size=3),
                     st.sampled_from([np.float64("nan"), np.int64(3), np.bool_(True), np.array([0.5, 1.0]), 1e300,
                                      -1e300, 1e-300, "ideal", "yes", b"square", 0.5 + 0.5j]))
VALID = dict(length=st.integers(1, 10**9), width=st.integers(1, 50), hopping=st.floats(1e-300, 1e300),
             lead=st.sampled_from(["square", "ideal"]), lead_onsite=st.floats(-1e300, 1e300), lead_k=st.floats(0.01, 3.1),
             spin=st.booleans(), exchange=st.just(0.0))


@settings(max_examples=200, **PROPERTY)
@given(corrupted=st.sets(st.sampled_from(sorted(VALID)), max_size=2), data=st.data())
def test_wire_accepts_only_what_it_documents(corrupted, data):
    """Any one or two fields replaced by anything: a ValueError naming the field, or a Wire that is valid."""
    fields = {name: data.draw(anything if name in corrupted else strategy, label=name)
              for name, strategy in VALID.items()}
    try:
        wire = mw.Wire(**fields)
    except ValueError as error:
        assert re.match(r"Wire (\w+) (J )?(must|is only meaningful)", str(error)), str(error)
        assert re.match(r"Wire (\w+)", str(error)).group(1) in corrupted | {"lead_k", "exchange"}
        return
    for name in ("length", "width"):
        assert type(getattr(wire, name)) is int and getattr(wire, name) >= 1
    for name in ("hopping", "lead_onsite", "exchange"):
        assert type(getattr(wire, name)) is float and np.isfinite(getattr(wire, name))
        assert not isinstance(fields[name], (bool, str, complex))
    assert wire.hopping > 0 and type(wire.spin) is bool and wire.spin == fields["spin"] and not isinstance(fields["spin"], str)
    assert wire.lead in ("square", "ideal") and (wire.spin or wire.exchange == 0)
    wave_numbers = np.atleast_1d(wire.lead_k)
    assert wave_numbers.size == wire.n_orbitals and np.all((0 < wave_numbers) & (wave_numbers < np.pi))
