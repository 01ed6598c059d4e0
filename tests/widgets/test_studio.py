"""The design studio at trait level: inputs reach the run, frames reach the plots, errors leave it usable."""
import html
import time

import numpy as np
import pytest

from magwidgets.design.tasks import TASKS
from magwidgets.widgets import DesignStudio


def _finish(studio, timeout=120.0):
    studio.runner.join(timeout)
    assert not studio.runner.busy, "the run did not finish"


@pytest.fixture
def studio():
    """The seed 004 potential task: 12 x 12, so compiled steps are quick."""
    panel = DesignStudio("reconstruct_potential", prepare=False)
    yield panel
    if panel.runner is not None:
        panel.runner.cancel()


def test_task_sets_published_settings_and_a_truth_target(studio):
    task = TASKS["reconstruct_potential"]
    assert studio.optimizer_picker.value == "levenberg_marquardt" and studio.steps_box.value == task.steps
    assert studio.starts_box.value == task.n_starts == 8
    truth = np.array(studio.potential_sketcher.potential)
    expected = task.truth_conductance(truth)
    np.testing.assert_allclose(studio._target()[0], expected, atol=1e-12)
    # the drawn curve is the map's E = 0 cut
    np.testing.assert_allclose(studio.target_sketcher.target, expected[:, 10], atol=1e-12)


def test_painting_the_sample_changes_the_target(studio):
    before = np.array(studio.target_sketcher.target)
    studio.potential_sketcher.tool.value = "antidot"
    studio.potential_sketcher.paint(6, 6)
    after = np.array(studio.target_sketcher.target)
    assert np.max(np.abs(after - before)) > 1e-3
    expected = TASKS["reconstruct_potential"].truth_conductance(np.array(studio.potential_sketcher.potential))
    np.testing.assert_allclose(studio._target()[0], expected, atol=1e-12)


def test_run_updates_every_plot_and_lowers_the_loss(studio):
    studio.steps_box.value, studio.starts_box.value = 6, 1
    studio.run_button.click()
    _finish(studio)
    assert studio.status.value == "finished"
    assert int(studio.step_readout.value) == 6 and studio.progress.value == 6
    history = studio.runner.driver.history()["loss"]
    assert history[-1] < 0.5 * history[0]
    np.testing.assert_allclose(studio.loss_lines.y, history)
    design_cut = np.asarray(studio.runner.latest.conductance)[:, 10]
    np.testing.assert_allclose(studio._design_curve.y, design_cut)
    assert np.ptp(studio.design_map.heatmap.color) > 0.1 and np.max(studio.wavefunction_map.heatmap.color) > 0
    assert studio.downloads.value.count("mw-download") == 3
    # Run again continues the same design for another `steps`
    studio.run_button.click()
    _finish(studio)
    assert studio.runner.driver.step == 12


def test_drawn_target_is_what_the_design_fits():
    studio = DesignStudio("design_curve", prepare=False)
    try:
        sketcher = studio.target_sketcher
        drawn = np.array(sketcher.target) + 0.5
        sketcher.target_line.y = drawn  # what a HandDraw stroke delivers
        studio.steps_box.value = 2
        studio.run_button.click()
        _finish(studio)
        np.testing.assert_allclose(np.asarray(studio.runner.driver.data["target"]), drawn)
        # the clean wire's G, the most any design can reach, is drawn under the target: 11 channels at B = 0,
        # Landau levels leave 3 at the end of seed 000's sweep, and the built-in target stays below it
        channels = np.asarray(studio._channel_line.y)
        assert channels[0] == pytest.approx(11) and channels[-1] == pytest.approx(3)
        assert np.all(sketcher.target - 0.5 < channels)
    finally:
        studio.runner.cancel()


def test_pause_holds_and_stop_keeps_the_result(studio):
    studio.steps_box.value, studio.starts_box.value = 100_000, 1
    studio.run_button.click()
    deadline = time.monotonic() + 120
    while studio.runner.latest is None or studio.runner.latest.step < 4:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    studio.pause_button.click()
    assert studio.status.value.startswith("paused")  # the click is acknowledged at once
    assert studio.runner.wait_until_held(120), "the run did not hold within 120 s of Pause"
    held = studio.step_readout.value
    assert studio.status.value == f"paused at step {held}" and int(held) == studio.runner.latest.step
    time.sleep(0.5)  # a held run never steps, however long it waits
    assert studio.step_readout.value == held
    assert studio.run_button.disabled is False and studio.task_picker.disabled is True
    studio.stop_button.click()
    _finish(studio)
    assert studio.status.value == "stopped" and studio.result().steps == int(held)


def test_an_error_in_the_worker_shows_and_leaves_controls_usable(studio, monkeypatch):
    def broken(snapshot):
        raise RuntimeError("renderer lost")

    studio.steps_box.value = 4
    monkeypatch.setattr(studio, "_show_wavefunction", broken)
    studio.run_button.click()
    _finish(studio)
    assert "renderer lost" in studio.message.value and studio.status.value.startswith("failed")
    assert not studio.run_button.disabled and not studio.reset_button.disabled
    monkeypatch.undo()
    studio.run_button.click()
    _finish(studio)
    assert studio.status.value == "finished" and studio.runner.driver.step == 4


def test_bad_settings_give_a_message_not_a_crash(studio):
    studio.smoothness_box.value = 0.1  # Levenberg-Marquardt needs a pure least-squares cost
    studio.steps_box.value = 2
    studio.run_button.click()
    _finish(studio)
    assert "least-squares" in studio.message.value and not studio.run_button.disabled


def test_several_starts_show_the_family(studio):
    studio.starts_box.value = 3
    studio.steps_box.value = 2
    studio.run_button.click()
    _finish(studio)
    assert studio.family_area.layout.display == "flex"
    assert studio.family_losses.y.shape == (3,)
    assert studio.family_map.heatmap.color.shape == (12, 12) and np.max(studio.family_map.heatmap.color) > 0


def test_magnetisation_task_shows_the_true_m_z():
    studio = DesignStudio("reconstruct_magnetisation", prepare=False)
    theta = studio._truth["theta"]
    np.testing.assert_allclose(studio.truth_map.heatmap.color, np.cos(theta).T)
    assert studio.sample_area.children == (studio.truth_map.widget,)
    assert "m_z" in studio.design_map.figure.title


def test_smoothing_starts_from_the_last_curve_design():
    studio = DesignStudio("design_curve", prepare=False)
    try:
        studio.steps_box.value = 2
        studio.run_button.click()
        _finish(studio)
        designed = np.array(studio.runner.latest.params)
        studio.task_picker.value = "smooth_design"
        assert studio.smoothness_box.value > 0
        studio.steps_box.value = 1
        studio.run_button.click()
        _finish(studio)
        np.testing.assert_allclose(studio.runner.driver.history()["loss"][0],
                                   studio.runner.driver.objective.evaluate(designed, studio.runner.driver.data)[0])
        assert "Smoothing the last design" in studio.message.value
    finally:
        studio.runner.cancel()


def test_reset_discards_the_run_and_keeps_the_inputs(studio):
    truth = np.array(studio.potential_sketcher.potential)
    studio.steps_box.value = 3
    studio.run_button.click()
    _finish(studio)
    finished = studio.runner
    studio.reset_button.click()
    studio.runner.join(120)
    assert studio.runner is not finished and studio.runner.state == "ready" and studio.runner.driver.step == 0
    assert studio.step_readout.value == "0" and len(studio.loss_lines.y) == 0 and studio.downloads.value == ""
    np.testing.assert_array_equal(studio.potential_sketcher.potential, truth)
    start = studio.runner.driver.snapshot()
    np.testing.assert_allclose(studio.design_map.heatmap.color, (np.asarray(start.onsite)).T)


def test_play_animates_the_finished_design_across_the_field(studio):
    studio.steps_box.value, studio.starts_box.value = 2, 1
    assert studio.player.play.disabled and "when a run stops" in studio.player.readout.value
    studio.run_button.click()
    _finish(studio)
    assert studio._frames.wait(300), "the frames were not computed within 300 s"
    task, result, player = studio.task, studio.result(), studio.player
    assert player.frames.shape == (len(task.flux), 12, 12) and not player.play.disabled
    energy = float(np.atleast_1d(task.energy)[studio._cut_energy_index])
    for index in (0, 17, 30):
        player.play.value = index
        expected = task.measurement.wavefunction_intensity(result.onsite, task.flux[index], energy, result.theta)
        np.testing.assert_allclose(studio.wavefunction_map.heatmap.color, expected.T, atol=1e-10)
        assert list(studio._frame_marker.x) == [task.flux[index]] * 2 and studio.wavefunction_flux.value == index
    studio.run_button.click()  # running again: the frames of the old design go
    _finish(studio)
    assert studio._frames.wait(300) and len(player.frames) == len(task.flux)


def test_a_slow_target_says_what_is_being_computed(studio, monkeypatch):
    from magwidgets.design.tasks import Task

    shown = []
    studio.controls.progress.line.observe(lambda change: shown.append(change["new"]), names="value")
    original = Task.truth_conductance

    def slow(self, *args, **kwargs):  # a new grid: its leads and a compilation take seconds
        time.sleep(1.5)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Task, "truth_conductance", slow)
    studio.potential_sketcher.tool.value = "antidot"
    studio.potential_sketcher.paint(6, 6)
    assert any("computing the sample's G (651 points)" in html.unescape(text) for text in shown), shown
    assert studio.controls.progress.line.value == "" and not studio.controls.progress.active
    expected = original(TASKS["reconstruct_potential"], np.array(studio.potential_sketcher.potential))
    np.testing.assert_allclose(studio._target()[0], expected, atol=1e-12)
