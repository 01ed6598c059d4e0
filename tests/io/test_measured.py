"""Measured and drawn targets: CSV import with units, silhouettes traced from pictures, CSV export."""
import struct
import zlib
from io import BytesIO

import numpy as np
import pytest
from PIL import Image

from magwidgets.io import (CONDUCTANCE_QUANTUM_S, FLUX_QUANTUM_WB, curves_to_csv, read_conductance_csv,
                           trace_silhouette)


def _csv(fields, conductances, delimiter=",", header=None) -> bytes:
    lines = [header] if header else []
    lines += [f"{float(b)!r}{delimiter}{float(g)!r}" for b, g in zip(fields, conductances)]
    return ("\n".join(lines) + "\n").encode()


# --- read_conductance_csv -----------------------------------------------------------------------------------


def test_tesla_and_siemens_match_a_hand_computation():
    # a = 10 nm, B = 1 T: flux = B a^2 / (h/e) = 1e-16 Wb / 4.135667696e-15 Wb
    flux_per_tesla = 1e-16 / 4.135667696e-15
    assert FLUX_QUANTUM_WB == 4.135667696e-15 and CONDUCTANCE_QUANTUM_S == 3.874045865e-5
    tesla = np.array([0.0, 0.5, 1.0, 2.0])
    siemens = (1.0 + 2.0 * tesla) * 3.874045865e-5          # G = 1 + 2 B/T in e^2/h
    flux = np.array([0.0, flux_per_tesla, 2 * flux_per_tesla, 3 * flux_per_tesla])
    values, weights = read_conductance_csv(_csv(tesla, siemens), flux, field_unit="tesla",
                                           conductance_unit="siemens", lattice_constant_nm=10.0)
    np.testing.assert_allclose(values[:3], [1.0, 3.0, 5.0], rtol=1e-12)
    assert np.isnan(values[3])
    np.testing.assert_array_equal(weights, [1.0, 1.0, 1.0, 0.0])


def test_linear_data_is_interpolated_exactly_and_unsorted_rows_are_sorted():
    rng = np.random.default_rng(3)
    fields = rng.permutation(np.concatenate([[0.0, 0.04], rng.uniform(0, 0.04, 30)]))
    flux = np.linspace(0, 0.04, 41)
    values, weights = read_conductance_csv(_csv(fields, 2.0 + 30.0 * fields), flux)
    np.testing.assert_allclose(values, 2.0 + 30.0 * flux, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(weights, np.ones(41))


def test_points_outside_the_measured_range_are_masked_not_extrapolated():
    flux = np.linspace(0, 0.03, 31)
    fields = np.array([0.01, 0.015, 0.02])
    values, weights = read_conductance_csv(_csv(fields, [1.0, 2.0, 3.0]), flux)
    inside = (flux >= 0.01 - 1e-12) & (flux <= 0.02 + 1e-12)
    np.testing.assert_array_equal(weights, inside.astype(float))
    assert np.all(np.isnan(values[~inside])) and np.all(np.isfinite(values[inside]))
    np.testing.assert_allclose(values[inside], 1.0 + (flux[inside] - 0.01) / 0.005, atol=1e-12)


def test_negative_fields_fill_only_points_the_positive_data_do_not_cover():
    fields = np.linspace(-0.02, 0.01, 31)
    flux = np.array([0.005, 0.015, 0.025])
    values, weights = read_conductance_csv(_csv(fields, 1.0 + 100.0 * fields), flux)
    # 0.005 is measured directly; 0.015 only at -0.015, used by G(B) = G(-B); 0.025 nowhere
    np.testing.assert_allclose(values[:2], [1.5, -0.5], atol=1e-12)
    assert np.isnan(values[2])
    np.testing.assert_array_equal(weights, [1.0, 1.0, 0.0])


@pytest.mark.parametrize("delimiter", [",", ";", "\t", " ", ", ", " ; ", "   "])
@pytest.mark.parametrize("header", [None, "B,G", "field (flux)\tconductance (e2/h)", "phi G"])
def test_header_and_delimiter_variants(delimiter, header):
    fields = np.linspace(0, 0.03, 7)
    data = _csv(fields, 4.0 - fields * 10, delimiter=delimiter, header=header)
    values, weights = read_conductance_csv(data, np.array([0.0, 0.01, 0.03]))
    np.testing.assert_allclose(values, [4.0, 3.9, 3.7], atol=1e-12)
    assert np.all(weights == 1.0)


def test_bom_crlf_comments_trailing_delimiters_and_extra_columns():
    data = "\ufeff# measured at 50 mK\r\nB;G;T\r\n0.0;1.0;0.05;\r\n\r\n0.02;3.0;0.05;\r\n".encode()
    values, weights = read_conductance_csv(data, np.array([0.0, 0.01, 0.02]))
    np.testing.assert_allclose(values, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("data, kwargs, match", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", {}, "not text"),
    (bytes([0xff, 0xfe, 0x41, 0x00]), {}, "not text"),
    (b"0.0\n0.01\n0.02\n", {}, "two columns"),
    (b"0.0,1.0\n", {}, "two rows"),
    (b"B,G\n", {}, "no numeric rows"),
    (b"", {}, "no numeric rows"),
    (b"0.0,1.0\n0.01,nan\n", {}, "finite"),
    (b"0.0,1.0\n0.01,inf\n", {}, "finite"),
    (b"0.0,1.0\n0.01,2.0\n0.01,3.0\n", {}, "more than once"),
    (b"0.0,1.0\nabc,2.0\n", {}, "line 2: expected numbers"),
    (b"0.0,1.0,5\n0.01,2.0\n", {}, "expected 3 columns"),
    (b"1.0,1.0\n2.0,2.0\n", {}, "does not overlap"),
    (b"0.0,1.0\n1.0,2.0\n", dict(field_unit="tesla"), "lattice"),
    (b"0.0,1.0\n1.0,2.0\n", dict(field_unit="tesla", lattice_constant_nm=-1.0), "lattice"),
    (b"0.0,1.0\n1.0,2.0\n", dict(field_unit="gauss"), "field_unit"),
    (b"0.0,1.0\n1.0,2.0\n", dict(conductance_unit="2e2/h"), "conductance_unit"),
])
def test_bad_tables_raise_value_errors_that_say_what_was_expected(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        read_conductance_csv(data, np.linspace(0, 0.03, 4), **kwargs)


def test_export_round_trips_through_the_reader():
    flux = np.linspace(0, 0.12 / np.pi, 11)
    target = 5.0 + np.sin(40 * flux)
    data = curves_to_csv(flux, target=target, fit=target + 1)
    lines = data.decode().splitlines()
    assert lines[0] == "flux,target,fit" and len(lines) == 12
    values, weights = read_conductance_csv(data, flux)
    np.testing.assert_array_equal(values, target)
    with pytest.raises(ValueError, match="expected shape"):
        curves_to_csv(flux, target=target[:-1])


# --- trace_silhouette -------------------------------------------------------------------------------------------

WIDTH, HEIGHT = 120, 60


def _triangle_top_rows() -> np.ndarray:
    """Top dark row of a triangle whose apex is at column 40, row 5, over a dark base at row 50."""
    column = np.arange(WIDTH)
    return np.round(np.where(column < 40, 50 - 45 * column / 40, 5 + 45 * (column - 40) / 79)).astype(int)


def _png(pixels: np.ndarray, mode: str = "RGB") -> bytes:
    buffer = BytesIO()
    Image.fromarray(pixels, mode).save(buffer, format="PNG")
    return buffer.getvalue()


def _triangle_picture(gap=None, mode="RGB") -> bytes:
    top = _triangle_top_rows()
    rows = np.arange(HEIGHT)[:, None]
    dark = rows >= top[None, :]
    if gap is not None:
        dark[:, gap] = False
    if mode == "RGBA":  # a dark opaque object on a transparent (black, alpha 0) background
        pixels = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
        pixels[dark] = (40, 30, 20, 255)
    else:
        pixels = np.empty((HEIGHT, WIDTH, 3), np.uint8)
        pixels[:] = (200, 225, 250)  # sky
        pixels[dark] = (60, 50, 40)
    return _png(pixels, mode)


def _expected(low, high, n_points) -> np.ndarray:
    fraction = (HEIGHT - 1 - _triangle_top_rows()) / (HEIGHT - 1)
    return low + (high - low) * np.interp(np.linspace(0, WIDTH - 1, n_points), np.arange(WIDTH), fraction)


@pytest.mark.parametrize("n_points", [WIDTH, 101, 31])
def test_a_triangle_is_traced_within_one_pixel(n_points):
    low, high = 2.0, 11.0
    curve = trace_silhouette(_triangle_picture(), n_points, (low, high))
    pixel = (high - low) / (HEIGHT - 1)
    assert curve.shape == (n_points,)
    np.testing.assert_allclose(curve, _expected(low, high, n_points), atol=pixel)
    assert curve.max() == pytest.approx(low + (high - low) * 54 / 59, abs=pixel)  # the apex, row 5 of 60


def test_columns_without_dark_pixels_are_interpolated_and_transparency_is_sky():
    low, high = 0.0, 12.0
    pixel = (high - low) / (HEIGHT - 1)
    gapped = trace_silhouette(_triangle_picture(gap=slice(60, 80)), WIDTH, (low, high))
    np.testing.assert_allclose(gapped, _expected(low, high, WIDTH), atol=pixel)  # a straight flank across the gap
    transparent = trace_silhouette(_triangle_picture(mode="RGBA"), WIDTH, (low, high))
    np.testing.assert_allclose(transparent, _expected(low, high, WIDTH), atol=pixel)


def test_grey_levels_are_split_by_the_threshold():
    rng = np.random.default_rng(0)
    top = _triangle_top_rows()
    dark = np.arange(HEIGHT)[:, None] >= top[None, :]
    gray = np.where(dark, rng.integers(20, 90, dark.shape), rng.integers(170, 255, dark.shape)).astype(np.uint8)
    curve = trace_silhouette(_png(gray, "L"), WIDTH, (0.0, 1.0))
    np.testing.assert_allclose(curve, _expected(0.0, 1.0, WIDTH), atol=1 / (HEIGHT - 1))


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG claiming ``width`` x ``height`` grey pixels whose pixel data is a single empty row."""
    header = _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + _chunk(b"IDAT", zlib.compress(b"\x00")) + _chunk(b"IEND", b"")


@pytest.mark.parametrize("size", [(6000, 5000), (100_000, 100_000)])
def test_decompression_bombs_are_refused_before_decoding(size):
    with pytest.raises(ValueError, match="megapixels"):
        trace_silhouette(_png_header_only(*size), 101, (0.0, 12.0))


@pytest.mark.parametrize("data", [b"flux,G\n0,1\n", b"", b"\x89PNG\r\n\x1a\n garbage"])
def test_non_images_are_refused(data):
    with pytest.raises(ValueError, match="not an image"):
        trace_silhouette(data, 101, (0.0, 12.0))


@pytest.mark.parametrize("level", [255, 0, 128])
def test_blank_pictures_have_no_dark_region(level):
    with pytest.raises(ValueError, match="no dark region"):
        trace_silhouette(_png(np.full((40, 50), level, np.uint8), "L"), 101, (0.0, 12.0))


@pytest.mark.parametrize("n_points, conductance_range, match", [
    (1, (0.0, 1.0), "n_points"), (2.5, (0.0, 1.0), "n_points"), (10, (1.0, 1.0), "conductance_range"),
    (10, (0.0, np.inf), "conductance_range"),
])
def test_bad_trace_arguments(n_points, conductance_range, match):
    with pytest.raises(ValueError, match=match):
        trace_silhouette(_triangle_picture(), n_points, conductance_range)


def test_a_tiny_image_is_refused():
    with pytest.raises(ValueError, match="at least 2 x 2"):
        trace_silhouette(_png(np.zeros((1, 5), np.uint8), "L"), 10, (0.0, 1.0))
