"""Nothing lost: a studio whose kernel is killed with SIGKILL mid-run is resumed by a new one, on the same trajectory."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from magwidgets.session.autosave import SERVED_ENVIRONMENT, find_autosave, list_autosaves
from magwidgets.design.tasks import TASKS
from magwidgets.widgets.studio import DesignStudio

KERNEL = textwrap.dedent("""
    import time
    from magwidgets.widgets.studio import DesignStudio

    studio = DesignStudio("identify_defect", autosave_seconds=0.2)
    studio.steps_box.value = 100_000
    studio.run_button.click()
    while (studio.autosave.saved_step() or 0) < 30:
        time.sleep(0.05)
    print(studio.autosave.code, flush=True)
    time.sleep(600)
""")


@pytest.mark.slow
def test_a_killed_kernels_run_is_offered_and_resumed_on_the_same_trajectory(private_autosaves):
    kernel = subprocess.Popen([sys.executable, "-c", KERNEL], stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ))
    try:
        code = kernel.stdout.readline().strip()
        time.sleep(0.5)  # killed mid-run, between autosaves
    finally:
        kernel.send_signal(signal.SIGKILL)
        kernel.wait()
    assert kernel.returncode == -signal.SIGKILL and code
    saved_step = find_autosave(code).saved_step()
    assert saved_step >= 30

    studio = DesignStudio(prepare=False)  # a new kernel: the unfinished run is offered at once
    assert studio.resume_box.value == code and "press Resume" in studio.message.value
    studio.resume_button.click()
    assert f"restored at step {saved_step}" in studio.message.value
    studio.steps_box.value = 20
    studio.run_button.click()
    studio.runner.join(300)
    design = studio.runner.driver
    assert studio.runner.state == "finished" and design.step == saved_step + 20

    task = TASKS["identify_defect"]
    reference = task.design(task.truth_conductance(task.default_truth()["potential"]), seed=0).run(saved_step + 20)
    np.testing.assert_allclose(design.history()["loss"], reference.history["loss"], rtol=0, atol=1e-10)


@pytest.mark.slow
def test_served_studios_offer_runs_by_code_only_and_a_wrong_code_changes_nothing(private_autosaves, monkeypatch):
    monkeypatch.setenv(SERVED_ENVIRONMENT, "1")
    first = DesignStudio("design_curve", prepare=False, autosave_seconds=0.0)
    first.steps_box.value = 3
    first.run_button.click()
    first.runner.join(300)
    code = first.autosave.code
    assert [autosave.code for autosave in list_autosaves()] == [code]

    second = DesignStudio(prepare=False)  # another visitor: nothing is offered
    assert second.resume_box.value == "" and second.message.value == ""
    before = (second.task.name, np.array(second.target_sketcher.target), second.runner)
    for wrong in ("../../etc/passwd", "otter-0000" if code != "otter-0000" else "heron-0000", "", "x" * 10_000):
        second.resume_box.value = wrong
        second.resume_button.click()
        assert "mw-error" in second.message.value and ("not a run code" in second.message.value
                                                        or "no autosaved run" in second.message.value)
        assert (second.task.name, second.runner) == (before[0], before[2])
        np.testing.assert_array_equal(second.target_sketcher.target, before[1])
    second.resume_box.value = code.upper()
    second.resume_button.click()
    assert second.task.name == "design_curve" and second.runner.driver is None
    np.testing.assert_array_equal(second.target_sketcher.target, first.target_sketcher.target)
    second.runner.join(300)
    assert second.runner.state == "ready" and second.runner.driver.step == 3
