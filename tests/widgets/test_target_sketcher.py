"""Trait-level tests of the target sketcher: strokes, measured CSVs, traced pictures, smoothing, undo, bad files."""
import base64
import datetime
import re
from io import BytesIO

import numpy as np
import pytest
from PIL import Image

from magwidgets.design.config import CURVES
from magwidgets.io import read_conductance_csv
from magwidgets.widgets._common import MAX_UPLOAD_BYTES
from magwidgets.widgets.target import TargetSketcher

FLUX = np.linspace(0, 0.12 / np.pi, 101)
TESLA_PER_FLUX = 4.135667696e-15 / (10e-9) ** 2  # B for one flux quantum per plaquette at a = 10 nm


@pytest.fixture
def panel():
    return TargetSketcher()


def stroke(panel, y):
    """Send what bqplot's HandDraw sends on mouse-up: the Lines' whole y, as a list of one typed array."""
    y = np.ascontiguousarray(y, dtype=np.float64)
    panel.target_line.set_state({"y": [{"value": memoryview(y.tobytes()), "dtype": "float64",
                                        "shape": list(y.shape), "type": None}]})


def entry(name, data):
    return {"name": name, "type": "", "size": len(data), "content": memoryview(data), "last_modified": 0}


def upload(widget, name, data):
    """Deliver a file the way the browser does: a state update of the FileUpload's value."""
    widget.set_state({"value": [entry(name, data)]})


def png(pixels) -> bytes:
    buffer = BytesIO()
    Image.fromarray(np.asarray(pixels, np.uint8), "L").save(buffer, format="PNG")
    return buffer.getvalue()


def snapshot(panel):
    return np.array(panel.target), np.array(panel.weights), np.array(panel.target_line.y), len(panel._history)


def assert_unchanged(panel, before):
    target, weights, line, depth = before
    np.testing.assert_array_equal(panel.target, target)     # NaN compares equal here
    np.testing.assert_array_equal(panel.weights, weights)
    np.testing.assert_array_equal(panel.target_line.y, line)
    assert len(panel._history) == depth


def is_error(panel):
    return 'class="mw-error"' in panel.message.value


def is_info(panel):
    return 'class="mw-info"' in panel.message.value


def test_defaults_figure_and_public_pieces(panel):
    np.testing.assert_array_equal(panel.flux, FLUX)
    np.testing.assert_allclose(panel.target, CURVES["arches"](FLUX / FLUX[-1]))
    np.testing.assert_array_equal(panel.weights, np.ones(101))
    np.testing.assert_array_equal(panel.target_line.x, FLUX)
    np.testing.assert_array_equal(panel.target_line.y, panel.target)
    assert panel.figure.marks[0] is panel.target_line
    assert panel.figure.interaction.lines is panel.target_line and panel.figure.interaction.line_index == 0
    assert "mw-target-figure" in panel.figure._dom_classes
    assert (panel.y_scale.min, panel.y_scale.max) == (0.0, 12.0)
    assert panel.target_line.scales == dict(x=panel.x_scale, y=panel.y_scale)
    labels = [axis.label for axis in panel.figure.axes]
    assert "Φ / Φ0 = B a² / (h/e)" in labels and "G [e²/h]" in labels
    for widget, css in [(panel.csv_upload, "mw-target-csv"), (panel.image_upload, "mw-target-image"),
                        (panel.smooth_button, "mw-smooth"), (panel.undo_button, "mw-target-undo"),
                        (panel.export, "mw-target-export")]:
        assert css in widget._dom_classes
    assert panel.undo_button.disabled


def test_a_stroke_from_the_browser_rewrites_the_target_and_undo_restores_it(panel):
    before = snapshot(panel)
    drawn = np.array(panel.target_line.y)
    drawn[30:45] = 2.5
    stroke(panel, drawn[None, :])
    np.testing.assert_array_equal(panel.target, drawn)
    np.testing.assert_array_equal(panel.target_line.y, drawn)
    assert is_info(panel) and "15" in panel.message.value and not panel.undo_button.disabled
    panel.undo()
    assert_unchanged(panel, before)
    assert panel.undo_button.disabled


def test_a_python_assignment_to_the_line_counts_as_a_stroke(panel):
    drawn = np.array(panel.target_line.y)
    drawn[:10] = 11.0
    panel.target_line.y = drawn
    np.testing.assert_array_equal(panel.target, drawn)


def test_an_unchanged_stroke_records_nothing(panel):
    stroke(panel, np.array(panel.target_line.y))
    assert len(panel._history) == 0


def test_a_stroke_over_masked_points_unmasks_them(panel):
    fields = np.linspace(0.01, 0.02, 11)
    panel.load_csv(("B,G\n" + "".join(f"{b},{3 + 100 * b}\n" for b in fields)).encode())
    masked = panel.weights == 0
    assert masked.sum() > 0 and np.all(np.isnan(panel.target_line.y[masked]))
    drawn = np.array(panel.target_line.y)
    drawn[:5] = 4.0
    stroke(panel, drawn)
    np.testing.assert_array_equal(panel.weights[:5], np.ones(5))
    np.testing.assert_array_equal(panel.target[:5], np.full(5, 4.0))
    np.testing.assert_array_equal(panel.weights[5:], (~masked[5:]).astype(float))


def test_load_csv_in_tesla_and_siemens_uses_the_unit_controls(panel):
    panel.field_unit.value = "tesla"
    panel.conductance_unit.value = "siemens"
    panel.lattice_constant.value = 10.0
    assert not panel.lattice_constant.disabled
    tesla = np.linspace(0, 0.02, 9) * TESLA_PER_FLUX
    data = "\n".join(f"{b};{(5 - 40 * b / TESLA_PER_FLUX) * 3.874045865e-5}" for b in tesla).encode()
    panel.load_csv(data)
    covered = FLUX <= 0.02 + 1e-12
    np.testing.assert_allclose(panel.target_line.y[covered], 5 - 40 * FLUX[covered], atol=1e-9)
    assert np.all(np.isnan(panel.target_line.y[~covered]))
    np.testing.assert_array_equal(panel.weights, covered.astype(float))
    masked = int((~covered).sum())
    assert is_info(panel) and f"{masked} grid points outside the measured range are masked" in panel.message.value


def test_load_image_traces_the_silhouette_onto_the_grid(panel):
    height = 61
    pixels = np.full((height, 101), 240)
    pixels[30:, :] = 20          # a flat horizon half way up: G half way through (0, 12)
    panel.load_image(png(pixels))
    np.testing.assert_allclose(panel.target_line.y, np.full(101, 6.0), atol=12 / (height - 1))
    assert is_info(panel)


def test_smooth_changes_the_line_respects_masks_and_keeps_constants(panel):
    values = np.full(101, 4.0)
    values[::7] = 6.0
    values[40:60] = np.nan
    panel.set_target(values)
    before = np.array(panel.target_line.y)
    panel.smooth(3.0)
    after = np.array(panel.target_line.y)
    assert np.all(np.isnan(after[40:60])) and np.all(np.isfinite(after[panel.weights > 0]))
    assert not np.allclose(after[:40], before[:40])
    assert np.all(after[panel.weights > 0] <= 6.0) and np.all(after[panel.weights > 0] >= 4.0)
    panel.set_target(np.where(np.isnan(values), np.nan, 5.0))
    panel.smooth(4.0)  # a masked neighbour leaking in as 0 would pull the edges of the gap down
    np.testing.assert_allclose(panel.target[panel.weights > 0], 5.0, rtol=1e-12)


def test_smoothing_reflects_at_the_edges(panel):
    values = np.linspace(1.0, 9.0, 101) ** 1.5
    panel.set_target(values)
    panel.smooth(2.0)
    radius = 8  # the filter's 4-sigma truncation
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / 2.0) ** 2)
    mirrored = np.pad(values, radius, mode="symmetric")  # ... c b a | a b c ...
    expected = np.convolve(mirrored, kernel / kernel.sum(), mode="valid")
    np.testing.assert_allclose(panel.target, expected, rtol=1e-12)


def test_apply_shape_and_export_link(panel):
    panel.shape.value = "reclining_figure"
    panel.apply_shape_button.click()
    np.testing.assert_allclose(panel.target, CURVES["reclining_figure"](FLUX / FLUX[-1]))
    payload = re.search(r'base64,([^"]+)"', panel.export.value).group(1)
    exported = base64.b64decode(payload)
    assert exported.startswith(b"flux,target\n")
    values, weights = read_conductance_csv(exported, FLUX)
    np.testing.assert_array_equal(values, panel.target)


def test_a_good_upload_loads_and_the_same_file_can_be_given_again(panel):
    data = b"flux,G\n0,1\n0.04,5\n"
    upload(panel.csv_upload, "ok.csv", data)
    assert is_info(panel) and panel.csv_upload.value == ()
    np.testing.assert_allclose(panel.target, 1 + 100 * FLUX)
    panel.set_target(np.zeros(101))
    upload(panel.csv_upload, "ok.csv", data)
    np.testing.assert_allclose(panel.target, 1 + 100 * FLUX)


@pytest.mark.parametrize("which, name, data", [
    ("csv", "broken.csv", b"flux,G\n0,1\n0.01,oops\n"),
    ("csv", "one-column.csv", b"0\n0.01\n0.02\n"),
    ("csv", "picture.csv", png(np.zeros((4, 4)))),
    ("csv", "far.csv", b"1,2\n2,3\n"),
    ("csv", "huge.csv", b"0,1\n" * (MAX_UPLOAD_BYTES // 4 + 1)),
    ("image", "notes.png", b"flux,G\n0,1\n"),
    ("image", "blank.png", png(np.full((10, 10), 255))),
    ("image", "huge.png", b"\x00" * (MAX_UPLOAD_BYTES + 1)),
])
def test_bad_uploads_show_an_error_and_lose_nothing(panel, which, name, data):
    drawn = np.array(panel.target_line.y)
    drawn[5:9] = 1.0
    stroke(panel, drawn)   # a history to lose
    before = snapshot(panel)
    widget = panel.csv_upload if which == "csv" else panel.image_upload
    upload(widget, name, data)
    assert is_error(panel) and name in panel.message.value
    assert_unchanged(panel, before)
    panel.undo()
    assert panel.target[6] != 1.0


def test_tesla_without_a_lattice_constant_is_an_error_in_the_panel(panel):
    before = snapshot(panel)
    panel.field_unit.value = "tesla"
    upload(panel.csv_upload, "field.csv", b"0,1\n1,2\n")
    assert is_error(panel) and "lattice" in panel.message.value
    assert_unchanged(panel, before)


def test_assigning_the_upload_value_from_python_also_loads(panel):
    # ipywidgets 8.1.9 serialises last_modified as a datetime; a bare 0 fails in FileUpload before any observer runs
    value = dict(entry("direct.csv", b"0;2\n0.04;2\n"),
                 last_modified=datetime.datetime.fromtimestamp(0, tz=datetime.timezone.utc))
    panel.csv_upload.value = (value,)
    np.testing.assert_allclose(panel.target, np.full(101, 2.0))


def test_methods_raise_and_show_errors_without_losing_work(panel):
    before = snapshot(panel)
    with pytest.raises(ValueError, match="CSV"):
        panel.load_csv(b"\xff\xfe")
    assert is_error(panel)
    with pytest.raises(ValueError, match="not an image"):
        panel.load_image(b"not a picture")
    with pytest.raises(ValueError, match="smoothing width"):
        panel.smooth(-1.0)
    for values, weights in [(np.zeros(100), None), (np.full(101, np.inf), None),
                            (np.full(101, np.nan), np.ones(101)), (np.zeros(101), np.zeros(101)),
                            (np.zeros(101), -np.ones(101))]:
        with pytest.raises(ValueError):
            panel.set_target(values, weights)
    assert_unchanged(panel, before)


def test_a_stroke_of_the_wrong_length_is_ignored(panel):
    before = snapshot(panel)
    panel.target_line.y = np.ones(50)
    assert is_error(panel)
    assert_unchanged(panel, before)


def test_undo_with_nothing_to_undo_is_harmless(panel):
    before = snapshot(panel)
    panel.undo()
    assert is_info(panel) and "nothing to undo" in panel.message.value
    assert_unchanged(panel, before)


def test_bad_construction_arguments():
    with pytest.raises(ValueError, match="strictly increasing"):
        TargetSketcher(flux=FLUX[::-1])
    with pytest.raises(ValueError, match="conductance_range"):
        TargetSketcher(conductance_range=(3.0, 3.0))
    with pytest.raises(ValueError, match="shape"):
        TargetSketcher(target=np.zeros(7))
