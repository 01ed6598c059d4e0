"""The VMC panel drives a real run through LiveRun: Run steps and the energy falls, Pause holds, Evaluate reports."""
import re
import sys
import time

import numpy as np
import pytest

from magwidgets.widgets import VMCPanel

from polling import wait_until

pytestmark = pytest.mark.slow


def test_run_pause_stop_and_evaluate_helium():
    panel = VMCPanel("He", walkers=128, min_interval=0.0)
    wait_until(lambda: panel.runner.state == "ready", 300, "the run did not compile")
    panel.steps_box.value = 200
    panel.run_button.click()
    wait_until(lambda: int(panel.step_readout.value) >= 20, 120, "the step counter did not rise")
    panel.pause_button.click()
    assert panel.runner.wait_until_held(120), "the run did not hold within 120 s of Pause"
    held = int(panel.step_readout.value)
    assert panel.status.value == f"paused at step {held}" and held == panel.runner.latest.step
    time.sleep(0.5)  # a held run never steps, however long it waits
    assert int(panel.step_readout.value) == held
    panel.run_button.click()
    wait_until(lambda: panel.runner.state == "finished", 300, "the run did not finish")
    energy = panel.vmc.history()["energy"]
    assert int(panel.step_readout.value) == 200 == len(energy)
    assert np.mean(energy[-20:]) < np.mean(energy[:5])            # the energy fell
    assert panel.energy_line.y.shape == (200,)
    assert panel.up_electrons.x.size == 64 and panel.down_electrons.x.size == 64   # 64 walkers, one per spin
    panel.evaluate_button.click()
    wait_until(lambda: "mHa" in panel.result.value, 300, "Evaluate did not report")
    assert "exact -2.903724" in panel.result.value


def test_changing_the_system_resets_the_run():
    panel = VMCPanel("H", walkers=32)
    first = panel.runner
    panel.system_picker.value = "H2"
    assert panel.runner is not first and panel.step_readout.value == "0"
    assert list(panel.nuclei.y) == [-0.70055, 0.70055]
    panel.runner.cancel()


def test_each_system_starts_at_its_recipe_and_pretrains_before_the_first_run():
    panel = VMCPanel("He", walkers=32, prepare=False)
    assert (panel.optimizer_picker.value, panel.rate_box.value, panel.pretrain_box.value) == ("adam", 3e-3, 0)
    panel.system_picker.value = "Be"
    assert (panel.optimizer_picker.value, panel.rate_box.value, panel.pretrain_box.value) == ("natural", 0.05, 500)
    panel.optimizer_picker.value = "adam"
    assert panel.rate_box.value == 3e-3
    panel.system_picker.value = "Li"
    panel.pretrain_box.value = 40
    panel.reset()                                                         # build, pretrain and compile
    wait_until(lambda: panel.runner.state == "ready", 300, "the run did not pretrain and compile")
    loss = panel.vmc.pretraining_loss
    assert loss.size == 40 and loss[-1] < loss[0] / 3
    assert "pretrained to Hartree-Fock in 40 iterations" in panel.result.value
    panel.runner.cancel()


def test_without_pyscf_the_panel_says_how_to_get_it_and_runs_without_pretraining(monkeypatch):
    import magwidgets.widgets.vmc as panel_module
    from magwidgets.vmc import SYSTEMS
    from magwidgets.vmc.pretrain import hartree_fock

    monkeypatch.setattr(panel_module, "pyscf_available", lambda: False)
    panel = VMCPanel("He", walkers=32, prepare=False)
    assert panel.message.value == ""
    panel.system_picker.value = "Be"                      # its recipe pretrains
    assert panel.pretrain_box.value == 0 and panel.optimizer_picker.value == "natural"
    assert "pip install &quot;magwidgets[vmc]&quot;" in panel.message.value
    panel.system_picker.value = "H"
    assert panel.message.value == ""
    panel.runner.cancel()

    monkeypatch.setitem(sys.modules, "pyscf", None)      # an import of pyscf now fails as if it were not installed
    with pytest.raises(ImportError, match=re.escape('pip install "magwidgets[vmc]"')):
        hartree_fock(SYSTEMS["Li"])

