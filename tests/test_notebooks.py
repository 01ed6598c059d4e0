"""Every notebook runs top to bottom in FAST mode, and the numbers that show its claim come out right.

Each notebook ends by building a dict ``key_numbers`` (and asserting its own claim in front of the reader); this
test reads that dict back from the kernel and checks it against the bounds below, so a notebook that silently
stops reproducing its figure fails here.
"""
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

NOTEBOOKS = sorted((Path(__file__).parents[1] / "magwidgets" / "notebooks").glob("*.ipynb"))


# name -> {key number: check}. Bounds are the FAST-mode ones (smaller wires, fewer steps).
EXPECTED = {
    "00_quickstart": {
        "onsager_asymmetry": lambda value: value < 1e-8,           # G(B) = G(-B) for two terminals
        "max_conductance": lambda value: 0 < value <= 11,          # at most the 11 open channels at E = 1.2
    },
    "01_quantum_fingerprints": {
        "same_seed_difference": lambda value: value == 0,
        "different_seed_rms": lambda value: value > 0.1,
        "ucf_amplitude_min": lambda value: 0.1 < value,
        "ucf_amplitude_max": lambda value: value < 0.8,
        "mean_conductance_ratio": lambda value: value > 1.5,      # G changes a lot with size ...
        "ucf_amplitude_ratio": lambda value: value < 1.5,         # ... its fluctuations do not
        "correlation_area_min": lambda value: value > 0.3,        # flux_c L W: about one flux quantum
        "correlation_area_max": lambda value: value < 3,          # through the sample
        "ab_period_relative_error": lambda value: value < 0.15,
    },
    "02_defect_identification": {
        "loss_drop": lambda value: value > 2.5,
        "recovered_row_error": lambda value: value <= 1,
    },
    "03_design_any_curve": {
        "drawn_rms": lambda value: value < 0.1,                    # e^2/h
        "traced_rms": lambda value: value < 0.1,
    },
    "04_smooth_designs": {
        # best points of both stages (FAST, 12 x 12): L_pot balances at ~0.32 of stage 1's at gamma = 0.01
        "smoothness_ratio": lambda value: value < 0.35,
        "rms_increase": lambda value: value < 0.1,
    },
    "05_backsolution_potential": {
        "site_error": lambda value: value < 1e-6,
        "noisy_site_error": lambda value: value < 0.3,             # noise |dG| < 0.1 e^2/h (seed 004's level)
        "noise_cost_ratio": lambda value: 0.5 < value < 1.5,       # the noisy fit sits at the noise floor delta^2/3
        "successful_starts": lambda value: value >= 1,
    },
    "06_magnetisation": {
        "mz_error": lambda value: value < 1e-6,                    # up to the rotation and the two mirrors
        "rotation_G_change": lambda value: value < 1e-10,          # G identical for the 180-degree-rotated map
        "mirror_G_change": lambda value: value < 1e-10,            # ... and for the mirrored maps
        "generic_G_change": lambda value: value > 1e-3,            # while a generic change of the map shows
    },
    "07_cost_landscape": {
        "minimum_offset": lambda value: value < 0.05,
        "map_local_minima": lambda value: value == 1,              # full G(flux, E) map: one smooth minimum
        "sparse_local_minima": lambda value: value >= 2,           # E = 0, 4 fluxes: a false minimum appears
        "false_minimum_distance": lambda value: value > 0.3,
        "dense_local_minima": lambda value: value == 1,            # E = 0, dense and wide flux mesh: one again
        "angle_minimum_offset": lambda value: value < 0.05,        # radians
        "free_image_cost": lambda value: value < 1e-20,            # mirror images: exact minima without the notch
        "notched_image_cost": lambda value: value > 1e-10,         # ... and not with it
    },
    "08_fourier_reverse_modelling": {
        "mse_reduction": lambda value: value > 5,
        "first_peak_error": lambda value: value < 0.1,
        "shell_width_ratio": lambda value: 0.8 < value < 1.2,     # the fit has the true disorder (start: ~0.4)
        "g_distance_ratio": lambda value: value < 0.5,            # g(r) much closer to the truth's than the start's
    },
    "09_classroom": {
        "found_defect_error": lambda value: value <= 1,
        "loss_drop": lambda value: value > 2,
        "channels": lambda value: abs(value - 11) < 1e-8,         # the exercises' answers, computed
        "hall_plateaus": lambda value: value == 3,
        "flux_period_difference": lambda value: value < 1e-8,
        "onsager_asymmetry": lambda value: value < 1e-8,
        "solutions_accepted": lambda value: value == 1,           # the checks accept the model answers ...
        "wrong_answers_rejected": lambda value: value == 1,       # ... and reject wrong ones without raising
    },
    "10_neural_vmc": {
        "hydrogen_local_energy_spread": lambda value: value < 1e-8,   # exact 1s: E_L = -1/2 everywhere
        "antisymmetry": lambda value: value == -1,
        "helium_below_hartree_fock": lambda value: value > 0,          # mHa
        "helium_error_bars_above_exact": lambda value: value > -3,    # variational
        "lithium_pretraining_fraction": lambda value: value > 0.7,    # pretraining: most of the way to E_HF
        "natural_gradient_gain": lambda value: value > 0,             # mHa below Adam after as many iterations
    },
    "dashboard": {},
}


def test_every_notebook_has_expectations():
    assert sorted(EXPECTED) == sorted(path.stem for path in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_reproduces_its_claim(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("MAGWIDGETS_FAST", "1")
    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "commit without outputs"
    expected = EXPECTED[path.stem]
    if expected:
        notebook.cells.append(nbformat.v4.new_code_cell(
            "import json; print(json.dumps({name: float(value) for name, value in key_numbers.items()}))"))
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    if not expected:
        return
    printed = "".join(output.get("text", "") for output in notebook.cells[-1].outputs if output.output_type == "stream")
    numbers = json.loads(printed)
    failures = {name: numbers.get(name) for name, check in expected.items() if name not in numbers
                or not check(numbers[name])}
    assert not failures, f"{path.stem}: key numbers out of bounds: {failures} (all: {numbers})"
