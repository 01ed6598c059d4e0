"""The studio's class challenge: the teacher's code carries the sample, the student fits it without seeing it."""
import json

import numpy as np
import pytest

from magwidgets.design.challenge import decode
from magwidgets.design.tasks import TASKS
from magwidgets.widgets import DesignStudio


@pytest.fixture
def studio():
    panel = DesignStudio("reconstruct_potential", prepare=False)
    yield panel
    if panel.runner is not None:
        panel.runner.cancel()


def _finish(studio, timeout=120.0):
    studio.runner.join(timeout)
    assert not studio.runner.busy, "the run did not finish"


def _teacher_code(task="reconstruct_potential"):
    teacher = DesignStudio(task, prepare=False)
    if task == "reconstruct_potential":
        teacher.potential_sketcher.tool.value = "raise"
        teacher.potential_sketcher.paint(4, 7)  # a free sketch: the code carries the array
    code = teacher.challenge.make()
    return teacher, code


def test_the_teachers_target_is_the_one_the_code_carries():
    teacher, code = _teacher_code()
    assert code and code in teacher.challenge.code_display.value
    challenge = decode(code)
    assert challenge.recipe is None and challenge.task == "reconstruct_potential"
    np.testing.assert_array_equal(teacher.potential_sketcher.potential, challenge.potential)
    np.testing.assert_array_equal(teacher._target()[0], challenge.target())


def test_a_curve_task_has_nothing_to_hide():
    studio = DesignStudio("design_curve", prepare=False)
    assert studio.challenge.make() is None
    assert "drawn curve" in studio.challenge.message.value and studio.challenge.code_display.value == ""


def test_the_student_fits_the_hidden_sample_without_seeing_it():
    _, code = _teacher_code()
    student = DesignStudio("identify_defect", prepare=False)
    try:
        assert student.challenge.start(code)
        challenge = decode(code)
        assert student.task.name == "reconstruct_potential"
        expected = TASKS["reconstruct_potential"].truth_conductance(challenge.potential)
        np.testing.assert_allclose(student._target()[0], expected, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(json.loads(student.challenge.target_values.value), student._target()[0])
        # the sample is nowhere on screen: a placeholder, an empty guess, an empty reveal map
        assert student.sample_area.children[0] is student.challenge.placeholder
        assert "press Reveal" in student.challenge.placeholder.value
        assert not np.any(student.potential_sketcher.potential)
        assert not np.any(student.challenge.truth_map.heatmap.color)
        # the guess is the student's: sketching does not move the target, and it seeds the first start
        target = np.array(student._target()[0])
        student.potential_sketcher.tool.value = "lower"
        student.potential_sketcher.paint(6, 6)
        np.testing.assert_array_equal(student._target()[0], target)
        student._discard_runner()
        student.steps_box.value, student.starts_box.value = 4, 2
        student.run_button.click()
        _finish(student)
        best = student.runner.driver.history()["loss"].min(axis=1)
        assert best[-1] < best[0]
        assert float(student.challenge.best_readout.value.strip("<b>/")) == pytest.approx(best.min(), rel=1e-3)
        initial = student.challenge.initial_params(2, 0)
        np.testing.assert_allclose(initial[0], student.potential_sketcher.potential)
        assert np.any(initial[1] != initial[0])  # the other start is the usual random one
        assert student.challenge.hidden
        student.challenge.reveal()
        assert not student.challenge.hidden
        pinned = TASKS["reconstruct_potential"].problem().known_sites(challenge.potential)[0]
        np.testing.assert_allclose(student.challenge.truth_map.heatmap.color, pinned.T)
        assert student.sample_area.children[0] is student.challenge.truth_map.widget
        assert "max |V" in student.challenge.error_readout.value
        # another task leaves the challenge
        student.task_picker.value = "identify_defect"
        assert not student.challenge.active and student.challenge.target_values.value == ""
    finally:
        if student.runner is not None:
            student.runner.cancel()


def test_a_malformed_code_changes_nothing(studio):
    studio.potential_sketcher.paint(3, 3)
    sketch, target = np.array(studio.potential_sketcher.potential), np.array(studio._target()[0])
    for code in ("", "1K3Q-7UP0", "1000-FQB1", "1000"):
        assert not studio.challenge.start(code)
        assert "expected blocks like" in studio.challenge.message.value
        assert studio.task.name == "reconstruct_potential" and not studio.challenge.active
        np.testing.assert_array_equal(studio.potential_sketcher.potential, sketch)
        np.testing.assert_array_equal(studio._target()[0], target)


def test_a_magnetisation_challenge_hides_the_angles_until_reveal():
    teacher, code = _teacher_code("reconstruct_magnetisation")
    assert len(code.replace("-", "")) <= 9  # the task's own random magnetisation: a recipe
    student = DesignStudio("identify_defect", prepare=False)
    try:
        assert student.challenge.start(code)
        assert student.sample_area.children == (student.challenge.placeholder,)
        np.testing.assert_array_equal(student._target()[0], teacher._target()[0])
        student.challenge.reveal()
        np.testing.assert_allclose(student.challenge.truth_map.heatmap.color, np.cos(decode(code).theta).T)
        assert "No design yet" in student.challenge.error_readout.value
    finally:
        if student.runner is not None:
            student.runner.cancel()


def test_a_challenge_run_resumes_still_hidden_and_its_autosave_holds_no_sample(private_autosaves):
    _, code = _teacher_code()
    student = DesignStudio("reconstruct_potential", prepare=False)
    assert student.challenge.start(code)
    student.steps_box.value, student.starts_box.value = 2, 1
    student.run_button.click()
    _finish(student)
    autosave = student.autosave
    settings, arrays = autosave.load_inputs()
    assert settings["challenge"] == student.challenge.code
    assert not any(name.startswith("truth_") for name in arrays)

    later = DesignStudio("identify_defect", prepare=False)  # a new kernel, after a closed tab
    try:
        later.resume(autosave.code)
        assert "restored at step 2" in later.message.value
        assert later.challenge.hidden and later.sample_area.children[0] is later.challenge.placeholder
        np.testing.assert_array_equal(later._target()[0], decode(code).target())
    finally:
        for panel in (student, later):
            if panel.runner is not None:
                panel.runner.cancel()
