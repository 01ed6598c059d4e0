"""Bad input gives a ValueError that says what was expected; nothing returns NaN silently."""
import numpy as np
import pytest

import magwidgets as mw

WIRE = mw.Wire(5, 4)
ONSITE = np.full((5, 4), 4.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(length=0, width=3), "length must be an integer >= 1"),
        (dict(length=3, width=-2), "width must be an integer >= 1"),
        (dict(length=3.5, width=3), "length must be an integer"),
        (dict(length=3, width=3, lead="round"), "lead must be one of"),
        (dict(length=3, width=3, hopping=0.0), "hopping must be > 0"),
        (dict(length=3, width=3, lead="ideal", lead_k=0.0), "strictly between 0 and pi"),
        (dict(length=3, width=3, lead="ideal", spin=True, lead_k=(0.5, 0.2, 0.1)), "(k_up, k_down)"),
        (dict(length=3, width=3, exchange=0.5), "only meaningful with spin=True"),
        (dict(length=3, width=3, lead_onsite=float("nan")), "finite real number"),
    ],
)
def test_bad_wire(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        mw.Wire(**kwargs)


@pytest.mark.parametrize("function", [mw.conductance, mw.wavefunction_intensity, mw.ldos])
def test_wrong_onsite_shape_names_the_expected_shape(function):
    with pytest.raises(ValueError, match=r"shape \(length, width\) = \(5, 4\)"):
        function(WIRE, np.zeros((4, 5)), 0.0, 1.0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_onsite_names_the_site(bad):
    onsite = ONSITE.copy()
    onsite[2, 3] = bad
    with pytest.raises(ValueError, match=r"site \(x, y\) = \(2, 3\)"):
        mw.conductance(WIRE, onsite, 0.0, 1.0)


def test_theta_without_spin():
    with pytest.raises(ValueError, match="needs a spin wire"):
        mw.conductance(WIRE, ONSITE, 0.0, 1.0, theta=np.zeros((5, 4)))


@pytest.mark.parametrize("flux", [np.nan, np.inf, [0.0, np.inf], [[0.0]], [], "0.1"])
def test_bad_flux(flux):
    with pytest.raises(ValueError, match="flux must be"):
        mw.conductance(WIRE, ONSITE, flux, 1.0)


def test_bad_energy_and_options():
    with pytest.raises(ValueError, match="energy must be"):
        mw.conductance(WIRE, ONSITE, 0.0, np.nan)
    with pytest.raises(ValueError, match="solver must be one of"):
        mw.conductance(WIRE, ONSITE, 0.0, 1.0, solver="mumps")
    with pytest.raises(ValueError, match="precision must be one of"):
        mw.conductance(WIRE, ONSITE, 0.0, 1.0, precision="half")
    with pytest.raises(ValueError, match="must be a finite scalar"):
        mw.wavefunction_intensity(WIRE, ONSITE, [0.0, 0.1], 1.0)
    with pytest.raises(ValueError, match="complex|real array"):
        mw.conductance(WIRE, ONSITE + 0j, 0.0, 1.0)


def test_energy_exactly_on_a_threshold_asks_to_move_it():
    threshold = 4 - 2 * np.cos(np.pi / 5) - 2
    with pytest.raises(ValueError, match="threshold"):
        mw.conductance(WIRE, ONSITE, 0.0, threshold)


def test_shapes_follow_the_grid():
    assert np.shape(mw.conductance(WIRE, ONSITE, 0.0, 1.0)) == ()
    assert np.shape(mw.conductance(WIRE, ONSITE, [0.0, 0.1, 0.2], 1.0)) == (3,)
    assert np.shape(mw.conductance(WIRE, ONSITE, 0.0, [1.0, 2.0])) == (2,)
    assert np.shape(mw.conductance(WIRE, ONSITE, [0.0, 0.1, 0.2], [1.0, 2.0])) == (3, 2)
    assert np.shape(mw.wavefunction_intensity(WIRE, ONSITE, 0.1, 1.0)) == (5, 4)
