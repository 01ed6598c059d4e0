"""The fingerprint explorer: one sample, one fingerprint; another sample, another; clean wires are quantised."""
import time

import numpy as np
import pytest

import magwidgets as mw
from magwidgets.widgets import FingerprintExplorer, PotentialSketcher

WIRE = mw.Wire(14, 10)


@pytest.fixture(scope="module")
def explorer():
    panel = FingerprintExplorer(WIRE, n_flux=21, n_energy=5)
    assert panel.wait(300)
    return panel


def _refreshed(panel):
    assert panel.wait(300)
    return np.array(panel.curves.y)


def test_each_sample_has_its_own_reproducible_fingerprint(explorer):
    curves = _refreshed(explorer)
    assert curves.shape == (2, 21)
    assert np.sqrt(np.mean((curves[0] - curves[1]) ** 2)) > 0.05  # seeds 1 and 2: different patterns
    assert "max |ΔG| = 0.0e+00" in explorer.comparison.value
    explorer.seed_b.value = explorer.seed_a.value  # the same sample twice
    same = _refreshed(explorer)
    np.testing.assert_array_equal(same[0], same[1])
    explorer.seed_b.value = 2


def test_curves_and_map_are_the_core_sweeps(explorer):
    curves = _refreshed(explorer)
    onsite = 4.0 + explorer.sample(explorer.seed_a.value)
    np.testing.assert_allclose(curves[0], mw.conductance(WIRE, onsite, explorer.flux, explorer.energy.value),
                               atol=1e-12)
    grid = mw.conductance(WIRE, onsite, explorer.flux, explorer.energies)
    np.testing.assert_allclose(explorer.conductance_map.color, np.asarray(grid).T, atol=1e-12)


def test_clean_wire_is_quantised_at_zero_field(explorer):
    explorer.preset.value = "clean"
    curves = _refreshed(explorer)
    # at flux 0 a clean wire transmits every open channel perfectly: an integer, the number of subbands below E
    subbands = 2 - 2 * np.cos(np.pi * np.arange(1, WIRE.width + 1) / (WIRE.width + 1))
    assert curves[0, 0] == pytest.approx(np.sum(subbands < explorer.energy.value), abs=1e-8)
    explorer.preset.value = "disorder"
    _refreshed(explorer)


def test_a_click_on_the_curves_picks_the_wavefunction_flux(explorer):
    flux = explorer.flux
    explorer.selector.selected = np.array([flux[15]])
    assert explorer.point.value == 15
    assert explorer.wait(120)
    onsite = 4.0 + explorer.sample(explorer.seed_a.value)
    expected = mw.wavefunction_intensity(WIRE, onsite, float(flux[15]), explorer.energy.value)
    np.testing.assert_allclose(explorer.wavefunction_map.heatmap.color, np.asarray(expected).T, rtol=1e-10)


def test_a_sketch_of_the_wrong_size_gives_a_message():
    panel = FingerprintExplorer(WIRE, sketcher=PotentialSketcher(mw.Wire(6, 6)), n_flux=5, n_energy=2, start=False)
    panel.preset.value = "sketch"
    assert panel.wait(120)
    assert "6 x 6" in panel.message.value and "14 x 10" in panel.message.value


def test_my_sketch_is_shown_and_every_stroke_recomputes():
    panel = FingerprintExplorer(WIRE, n_flux=7, n_energy=2, start=False)
    panel.preset.value = "sketch"
    before = _refreshed(panel)
    assert panel.sketch_area.children == (panel.sketcher,)
    panel.sketcher.tool.value = "antidot"
    panel.sketcher.paint(7, 5)
    after = _refreshed(panel)
    assert np.max(np.abs(after[0] - before[0])) > 1e-3


def test_a_new_grid_shows_its_progress_until_the_map_is_drawn():
    panel = FingerprintExplorer(WIRE, n_flux=21, n_energy=5, start=False)
    panel.progress.interval = 0.0  # draw every report: this small grid's leads take well under a second
    shown = []
    panel.progress.line.observe(lambda change: shown.append((change["new"], panel.conductance_map.color.shape)),
                                names="value")
    panel.flux_range.value = (0.0, 0.0371)  # a flux grid no other test has computed: its leads are new
    assert panel.wait(300)
    # the map's leads counted in points of its grid while the map was still the empty placeholder ...
    assert any("G(Φ, E) map (21 x 5 points): leads " in text and " of 105 points (" in text and shape == (2, 2)
               for text, shape in shown)
    assert any("leads of 105 points ready" in text and shape == (2, 2) for text, shape in shown)
    # ... and cleared once the map is drawn
    assert panel.progress.line.value == "" and panel.conductance_map.color.shape == (5, 21)
    assert "computing" not in panel.map_figure.title


def test_the_progress_line_moves_while_a_step_reports_nothing():
    from magwidgets.widgets._common import ProgressLine

    progress = ProgressLine("mw-test-progress", interval=0.1)
    progress.start("compiling")
    deadline = time.monotonic() + 3
    while "· 1 s" not in progress.line.value and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "compiling · 1 s" in progress.line.value  # the elapsed time ticks without any report
    progress.report(3, 10)
    progress.report(4, 10)  # within the interval: drawn by the ticker, not lost
    deadline = time.monotonic() + 1
    while "4 of 10" not in progress.line.value and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "compiling: leads 4 of 10 points (40%)" in progress.line.value
    progress.report(10, 10)
    assert "compiling: leads of 10 points ready" in progress.line.value
    progress.stop()
    assert progress.line.value == ""


def test_play_frames_follow_the_flux_grid_and_move_the_markers():
    panel = FingerprintExplorer(WIRE, n_flux=7, n_energy=2, start=True)
    assert panel.wait(600)
    player = panel.player
    assert player.frames.shape == (7, WIRE.length, WIRE.width) and not player.play.disabled
    sample = panel.sample(panel.seed_a.value)
    for index in (0, 4, 6):
        player.play.value = index  # what the browser's Play does, tick by tick
        flux = panel.flux[index]
        expected = mw.wavefunction_intensity(WIRE, 4.0 + sample, flux, panel.energy.value)
        np.testing.assert_allclose(panel.wavefunction_map.heatmap.color, np.asarray(expected).T, atol=1e-10)
        assert list(panel.marker.x) == [flux, flux] and list(panel.map_marker.x) == [flux, flux]
        assert panel.point.value == index and f"Φ index {index} of 6" in player.readout.value
    # one colour range for the whole animation
    assert panel.wavefunction_map.color_scale.max == pytest.approx(np.quantile(player.frames, 0.995))
    player.download_button.click()
    assert 'download="intensity_frame_6.csv"' in player.download.value
    panel.seed_a.value = 5  # a new sample: the old frames go until the new ones are computed
    assert panel.wait(600)
    np.testing.assert_allclose(player.frames[6], mw.wavefunction_intensity(
        WIRE, 4.0 + panel.sample(5), panel.flux[6], panel.energy.value), atol=1e-10)
