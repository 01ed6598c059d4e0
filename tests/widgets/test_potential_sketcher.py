"""Trait-level tests of the potential sketcher: clicks, brushes, history, presets and files."""
import base64
import io
import re

import numpy as np
import pytest

import magwidgets as mw
from magwidgets.core.potentials import aharonov_bohm_ring
from magwidgets.io import potential_to_csv, potential_to_npy, read_potential
from magwidgets.widgets._common import MAX_UPLOAD_BYTES
from magwidgets.widgets.sketch import HISTORY_LENGTH, PotentialSketcher

L, W = 20, 12  # not square, so that a transposed map or a swapped click would show


@pytest.fixture
def sketcher():
    return PotentialSketcher(mw.Wire(L, W))


def click(sketcher, x_column, y_row):
    """Send the custom message bqplot's GridHeatMap sends when a cell is clicked (GridCellData of the cell)."""
    n_columns = sketcher.heatmap.color.shape[1]
    data = dict(rowNum=y_row, columnNum=x_column, row=float(sketcher.heatmap.row[y_row]),
                column=float(sketcher.heatmap.column[x_column]),
                color=float(sketcher.heatmap.color[y_row, x_column]), cellNum=y_row * n_columns + x_column)
    sketcher.heatmap._handle_custom_msgs(sketcher.heatmap, {"event": "element_click", "data": data})


def upload(sketcher, name, data):
    """Deliver a file the way the browser does: a state update of the FileUpload's value."""
    sketcher.upload.set_state({"value": [
        {"name": name, "type": "", "size": len(data), "content": memoryview(data), "last_modified": 0}]})


def message(sketcher):
    return sketcher.message.value


def exported(sketcher, filename):
    link = re.search(rf'download="{re.escape(filename)}" href="data:[^;]+;base64,([^"]+)"', sketcher.export.value)
    return base64.b64decode(link.group(1))


def test_a_click_raises_the_clicked_site_and_the_map_shows_x_across_y_up(sketcher):
    sketcher.tool.value, sketcher.radius.value, sketcher.strength.value = "raise", 0.5, 3.0
    before_map = sketcher.heatmap.color.copy()

    click(sketcher, x_column=17, y_row=4)

    assert np.unravel_index(np.argmax(sketcher.potential), (L, W)) == (17, 4)
    assert sketcher.potential[17, 4] == pytest.approx(3.0)
    assert sketcher.potential[4, 17 % W] < 1e-3  # not the transposed site
    # The map is V transposed: rows are y, columns are x; only the clicked cell changed noticeably.
    assert sketcher.heatmap.color.shape == (W, L)
    np.testing.assert_array_equal(sketcher.heatmap.color, sketcher.potential.T)
    changed = np.abs(sketcher.heatmap.color - before_map) > 0.1
    assert list(zip(*np.nonzero(changed))) == [(4, 17)]
    # x runs along the horizontal axis, y up the vertical one with y = 0 at the bottom.
    assert sketcher.heatmap.scales_metadata["column"]["orientation"] == "horizontal"
    assert sketcher.heatmap.scales_metadata["row"]["orientation"] == "vertical"
    assert not sketcher.heatmap.scales["row"].reverse and not sketcher.heatmap.scales["column"].reverse
    assert np.all(np.diff(sketcher.heatmap.row) > 0) and sketcher.heatmap.row[0] == -0.5
    assert sketcher.figure.axes[0].scale is sketcher.heatmap.scales["column"]
    assert "mw-potential-figure" in sketcher.figure._dom_classes


def test_colour_scale_is_symmetric_around_zero_and_follows_the_data(sketcher):
    colours = sketcher.heatmap.scales["color"]
    assert (colours.min, colours.mid, colours.max) == (-1.0, 0.0, 1.0)
    sketcher.tool.value, sketcher.strength.value = "lower", 7.5
    sketcher.paint(3, 3)
    assert (colours.min, colours.max) == (-7.5, 7.5)
    assert colours.colors[1] == "#ffffff"


def test_lower_antidot_and_erase_brushes(sketcher):
    sketcher.radius.value, sketcher.strength.value = 2.0, 4.0
    sketcher.tool.value = "lower"
    sketcher.paint(5, 6)
    assert sketcher.potential[5, 6] == pytest.approx(-4.0)
    assert sketcher.potential[6, 6] == pytest.approx(-4.0 * np.exp(-1 / 4))

    sketcher.tool.value = "raise"
    sketcher.strength.value = 8.0
    sketcher.paint(12, 6)
    raised = sketcher.potential.copy()
    sketcher.tool.value = "antidot"
    sketcher.strength.value = 5.0
    sketcher.paint(12, 6)
    stamp = 5.0 * np.exp(-((np.arange(L)[:, None] - 12) ** 2 + (np.arange(W)[None, :] - 6) ** 2) / 4.0)
    np.testing.assert_allclose(sketcher.potential, np.maximum(raised, stamp))
    assert sketcher.potential[12, 6] == raised[12, 6] > 5.0  # the higher old value stays
    assert sketcher.potential[5, 6] == pytest.approx(raised[5, 6] if raised[5, 6] > stamp[5, 6] else stamp[5, 6])

    sketcher.tool.value = "erase"
    sketcher.radius.value = 1.0
    before = sketcher.potential.copy()
    sketcher.paint(12, 6)
    erased = [(12, 6), (11, 6), (13, 6), (12, 5), (12, 7)]
    for site in erased:
        assert sketcher.potential[site] == 0.0
    untouched = np.ones((L, W), bool)
    untouched[tuple(np.array(erased).T)] = False
    np.testing.assert_array_equal(sketcher.potential[untouched], before[untouched])


def test_undo_and_redo_restore_exact_arrays(sketcher):
    assert sketcher.undo_button.disabled and sketcher.redo_button.disabled
    states = [sketcher.potential.copy()]
    for x in (3, 9, 15):
        sketcher.paint(x, 5)
        states.append(sketcher.potential.copy())
    assert not sketcher.undo_button.disabled and sketcher.redo_button.disabled

    sketcher.undo_button.click()
    sketcher.undo()
    np.testing.assert_array_equal(sketcher.potential, states[1])
    assert not sketcher.redo_button.disabled
    sketcher.redo_button.click()
    np.testing.assert_array_equal(sketcher.potential, states[2])
    np.testing.assert_array_equal(sketcher.heatmap.color, states[2].T)
    for _ in range(5):
        sketcher.undo()
    np.testing.assert_array_equal(sketcher.potential, states[0])
    assert sketcher.undo_button.disabled

    sketcher.redo()
    sketcher.paint(1, 1)  # a new change forgets what could be redone
    assert sketcher.redo_button.disabled
    sketcher.undo()
    np.testing.assert_array_equal(sketcher.potential, states[1])


def test_history_is_bounded(sketcher):
    sketcher.strength.value = 0.1
    for step in range(HISTORY_LENGTH + 5):
        sketcher.paint(step % L, step % W)
    for _ in range(HISTORY_LENGTH):
        sketcher.undo()
    assert sketcher.undo_button.disabled
    assert sketcher.potential.max() > 0  # the first five changes are beyond recall


def test_set_potential_checks_shape_and_finiteness_without_losing_work(sketcher):
    sketcher.paint(2, 2)
    kept = sketcher.potential.copy()
    with pytest.raises(ValueError, match=r"expected a 20 x 12 array .*rows = x.*got 12 x 20"):
        sketcher.set_potential(np.zeros((W, L)))
    with pytest.raises(ValueError, match="finite"):
        sketcher.set_potential(np.full((L, W), np.nan))
    np.testing.assert_array_equal(sketcher.potential, kept)
    sketcher.undo()
    assert not sketcher.potential.any()

    sketcher.set_potential(np.ones((L, W)), record=False)
    assert sketcher.undo_button.disabled
    sketcher.undo()
    assert np.all(sketcher.potential == 1.0)
    with pytest.raises(ValueError):
        sketcher.potential[0, 0] = 1.0  # read-only: edits go through set_potential


def test_onsite_is_background_plus_potential():
    square = PotentialSketcher(mw.Wire(6, 5), potential=np.full((6, 5), 0.5))
    np.testing.assert_array_equal(square.onsite, np.full((6, 5), 4.5))
    ideal = PotentialSketcher(mw.Wire(6, 5, lead="ideal"), potential=np.full((6, 5), 0.5))
    np.testing.assert_array_equal(ideal.onsite, np.full((6, 5), 0.5))


def test_presets(sketcher):
    sketcher.apply_preset("antidot")
    assert np.unravel_index(np.argmax(sketcher.potential), (L, W)) == (L // 2, round(W / 3))
    assert sketcher.potential.max() == pytest.approx(10.0)
    assert sketcher.potential[L // 2 + 2, round(W / 3)] == pytest.approx(10.0 * np.exp(-1))

    sketcher.apply_preset("disorder", strength=2.0, seed=7)
    first = sketcher.potential.copy()
    assert np.all(np.abs(first) <= 1.0) and first.std() > 0.3
    sketcher.apply_preset("clean")
    assert not sketcher.potential.any()
    sketcher.apply_preset("disorder", strength=2.0, seed=7)
    np.testing.assert_array_equal(sketcher.potential, first)
    sketcher.apply_preset("disorder", strength=2.0, seed=8)
    assert not np.array_equal(sketcher.potential, first)

    sketcher.apply_preset("ring")
    np.testing.assert_array_equal(sketcher.potential, aharonov_bohm_ring(sketcher.wire))
    with pytest.raises(ValueError, match="unknown preset"):
        sketcher.apply_preset("swiss cheese")

    for _ in range(4):  # ring, seed 8, seed 7 again, clean
        sketcher.undo()
    np.testing.assert_array_equal(sketcher.potential, first)


def test_preset_controls_apply_the_chosen_sample(sketcher):
    sketcher.preset.value = "disorder"
    sketcher.disorder_strength.value, sketcher.disorder_seed.value = 3.0, 11
    sketcher.apply_button.click()
    sample = sketcher.potential.copy()
    assert np.abs(sample).max() <= 1.5
    assert "mw-info" in message(sketcher)
    sketcher.paint(0, 0)
    sketcher.apply_button.click()
    np.testing.assert_array_equal(sketcher.potential, sample)


def test_set_wire_resizes_the_map_and_clears_history(sketcher):
    sketcher.paint(4, 4)
    sketcher.set_wire(mw.Wire(12, 12, lead="ideal"))
    assert sketcher.wire == mw.Wire(12, 12, lead="ideal")
    assert sketcher.potential.shape == (12, 12) and not sketcher.potential.any()
    assert sketcher.heatmap.color.shape == (12, 12)
    assert len(sketcher.heatmap.row) == len(sketcher.heatmap.column) == 13
    assert sketcher.undo_button.disabled
    assert read_potential("p.npy", exported(sketcher, "potential.npy"), (12, 12)).shape == (12, 12)

    sketcher.set_wire(mw.Wire(8, 4), potential=np.arange(32.0).reshape(8, 4))
    np.testing.assert_array_equal(sketcher.heatmap.color, np.arange(32.0).reshape(8, 4).T)
    with pytest.raises(ValueError, match="8 x 5"):
        sketcher.set_wire(mw.Wire(8, 5), potential=np.zeros((8, 4)))
    assert sketcher.wire == mw.Wire(8, 4)


@pytest.mark.parametrize("filename", ["potential.npy", "potential.csv"])
def test_export_and_load_round_trip(sketcher, filename):
    sketcher.apply_preset("disorder", strength=1.3, seed=2)
    sketcher.paint(3, 7)
    saved = sketcher.potential.copy()
    data = exported(sketcher, filename)

    sketcher.apply_preset("clean")
    sketcher.load(filename, data)
    np.testing.assert_array_equal(sketcher.potential, saved)

    sketcher.apply_preset("clean")
    upload(sketcher, filename, data)
    np.testing.assert_array_equal(sketcher.potential, saved)
    assert "mw-info" in message(sketcher) and filename in message(sketcher)
    assert sketcher.upload.value == ()  # the bytes are not kept, and the same file can be chosen again
    sketcher.undo()
    assert not sketcher.potential.any()


def test_csv_layout_is_rows_x_columns_y():
    potential = np.arange(6.0).reshape(3, 2)  # L = 3, W = 2
    assert potential_to_csv(potential).decode().splitlines() == ["0,1", "2,3", "4,5"]
    np.testing.assert_array_equal(read_potential("v.csv", b"0,1\n2,3\n\n4, 5\n", (3, 2)), potential)
    np.testing.assert_array_equal(read_potential("v.NPY", potential_to_npy(potential), (3, 2)), potential)


def _npz_bytes():
    buffer = io.BytesIO()
    np.savez(buffer, v=np.zeros((L, W)))
    return buffer.getvalue()


def _forged_npy_header():
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 1)))
    header["shape"] = (10**6, 10**6)
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


BAD_UPLOADS = [
    ("x.npy", b"\x00garbage that is not numpy\xff", "npy"),
    ("x.npy", _npz_bytes(), "npy"),
    ("x.npy", _forged_npy_header(), "1000000 x 1000000"),
    ("x.npy", potential_to_npy(np.zeros((W, L))), "expected a 20 x 12"),
    ("v.csv", potential_to_csv(np.zeros((L - 1, W))), "got 19 x 12"),
    ("v.csv", b"\n".join([b",".join([b"0"] * W)] * (L - 1) + [b",".join([b"nan"] * W)]), "finite"),
    ("v.csv", b"x,y,V\n1,2,3\n", "not a number"),
    ("v.csv", b"1,2\n3\n", "rows of"),
    ("v.csv", b"\xff\xfe\x00", "text"),
    ("v.png", b"\x89PNG\r\n\x1a\n", ".npy or .csv"),
    ("big.csv", b"0" * (MAX_UPLOAD_BYTES + 1), "limit"),
]


@pytest.mark.parametrize("name, data, hint", BAD_UPLOADS, ids=[f"{n}-{h}" for n, _, h in BAD_UPLOADS])
def test_a_bad_upload_shows_an_error_and_loses_nothing(sketcher, name, data, hint):
    sketcher.paint(2, 3)
    sketcher.paint(8, 8)
    sketcher.undo()
    painted = sketcher.potential.copy()

    upload(sketcher, name, data)

    assert "mw-error" in message(sketcher) and hint in message(sketcher)
    np.testing.assert_array_equal(sketcher.potential, painted)
    assert sketcher.upload.value == ()
    sketcher.redo()
    assert sketcher.potential[8, 8] > painted[8, 8]
    sketcher.undo()
    sketcher.undo()
    assert not sketcher.potential.any()


def test_a_click_outside_the_grid_is_reported(sketcher):
    sketcher.heatmap._handle_custom_msgs(sketcher.heatmap, {"event": "element_click",
                                                            "data": {"rowNum": W, "columnNum": 0}})
    sketcher.heatmap._handle_custom_msgs(sketcher.heatmap, {"event": "element_click", "data": None})
    assert "mw-error" in message(sketcher)
    assert not sketcher.potential.any() and sketcher.undo_button.disabled
