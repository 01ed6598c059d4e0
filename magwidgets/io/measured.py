"""Measured and drawn targets: G(B) from a CSV in the lab's units, a curve traced from a picture, curves written back.

:func:`read_conductance_csv` puts a measured G(B) (tesla or flux per plaquette, siemens or e^2/h) on a flux grid,
:func:`trace_silhouette` turns a picture into a curve, :func:`curves_to_csv` writes curves out.
"""
from __future__ import annotations

import io
import re
import warnings
from typing import Optional

import numpy as np

from .text import utf8_text

FLUX_QUANTUM_WB = 4.135667696e-15       # h/e in webers (CODATA 2018, exact)
CONDUCTANCE_QUANTUM_S = 3.874045865e-5  # e^2/h in siemens
MAX_IMAGE_PIXELS = 25_000_000
_FIELD_UNITS = ("flux", "tesla")
_CONDUCTANCE_UNITS = ("e2/h", "siemens")
_DELIMITER = re.compile(r"\s*[,;]\s*|\s+")
#: A cell starting with one of these is a formula to a spreadsheet (OWASP "CSV injection"); never a column name.
_FORMULA_STARTS = ("=", "+", "-", "@")


def _csv_rows(data: bytes) -> tuple[Optional[list[str]], np.ndarray]:
    """The optional header and the numeric rows (n_rows, n_columns) of a delimited text table."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"expected the file's bytes, got {type(data).__name__}")
    try:
        text = utf8_text(data)
    except ValueError as error:
        raise ValueError(f"{error}: expected a UTF-8 table of (field, conductance) rows") from None
    header, rows = None, []
    lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1)]
    for number, line in lines:
        if not line or line.startswith("#"):
            continue
        fields = _DELIMITER.split(line)
        while fields and fields[-1] == "":  # a trailing delimiter, as spreadsheets write
            fields.pop()
        try:
            row = [float(field) for field in fields]
        except ValueError:
            if header is None and not rows:
                formula = next((field for field in fields if field.lstrip("\"'")[:1] in _FORMULA_STARTS), None)
                if formula is not None:
                    raise ValueError(f"line {number}: {formula[:30]!r} looks like a spreadsheet formula; expected a "
                                     "header of column names, then numbers") from None
                header = fields
                continue
            raise ValueError(f"line {number}: expected numbers separated by commas, semicolons, tabs or spaces, "
                             f"got {line[:60]!r}") from None
        if rows and len(row) != len(rows[0]):
            raise ValueError(f"line {number}: expected {len(rows[0])} columns like the rows before, got {len(row)}")
        rows.append(row)
    if not rows:
        raise ValueError("no numeric rows: expected two columns, field and conductance")
    return header, np.asarray(rows, dtype=float)


def _checked_flux_grid(flux) -> np.ndarray:
    flux = np.asarray(flux, dtype=float)
    if flux.ndim != 1 or flux.size == 0 or not np.all(np.isfinite(flux)):
        raise ValueError(f"flux: expected a non-empty 1-D array of finite numbers, got shape {flux.shape}")
    return flux


def read_conductance_csv(data: bytes, flux: np.ndarray, *, field_unit: str = "flux",
                         conductance_unit: str = "e2/h",
                         lattice_constant_nm: Optional[float] = None) -> tuple[np.ndarray, np.ndarray]:
    """A measured G(B) on the design's flux grid: values and weights.

    Parameters
    ----------
    data : bytes
        UTF-8 text with two columns, field and conductance (further columns are ignored), one row per
        measurement in any order, separated by commas, semicolons, tabs or spaces. One header row is allowed;
        lines starting with ``#`` are skipped.
    flux : ndarray, shape (n_flux,)
        The grid, in flux per plaquette B a^2 / (h/e).
    field_unit : {"flux", "tesla"}
        "flux" for B a^2 / (h/e) already; "tesla" converts with ``lattice_constant_nm``:
        flux = B a^2 / (h/e), h/e = 4.135667696e-15 Wb.
    conductance_unit : {"e2/h", "siemens"}
        "siemens" divides by e^2/h = 3.874045865e-5 S.
    lattice_constant_nm : float, optional
        The lattice constant a in nm; required for "tesla".

    Returns
    -------
    values : ndarray, shape (n_flux,)
        G in e^2/h, linearly interpolated between the measured fields; NaN where the grid is not covered.
    weights : ndarray, shape (n_flux,)
        1.0 where a value was interpolated, 0.0 where it is NaN. Nothing is extrapolated.

    Notes
    -----
    A grid point phi is covered when min(B) <= phi <= max(B) over the measured fields (to within 1e-6 of the
    measured span, so that rounded endpoints still count); it is then interpolated in the signed data. Only
    where phi is not covered but -phi is, the value at -phi is used: the two-terminal conductance obeys
    G(B) = G(-B) (Onsager), so a sweep over negative fields can fill a grid of positive fluxes.

    Raises
    ------
    ValueError
        Not text; fewer than two numeric columns or two rows; a non-finite number; a field repeated; no
        overlap with the grid; "tesla" without a lattice constant; an unknown unit.
    """
    flux = _checked_flux_grid(flux)
    if field_unit not in _FIELD_UNITS:
        raise ValueError(f"field_unit: expected one of {_FIELD_UNITS}, got {field_unit!r}")
    if conductance_unit not in _CONDUCTANCE_UNITS:
        raise ValueError(f"conductance_unit: expected one of {_CONDUCTANCE_UNITS}, got {conductance_unit!r}")
    if field_unit == "tesla" and (lattice_constant_nm is None or not np.isfinite(lattice_constant_nm)
                                  or lattice_constant_nm <= 0):
        raise ValueError("fields in tesla need the lattice constant: give lattice_constant_nm > 0 (in nm), "
                         f"got {lattice_constant_nm!r}")
    _, rows = _csv_rows(data)
    if rows.shape[1] < 2:
        raise ValueError(f"expected two columns (field, conductance), found {rows.shape[1]}")
    if rows.shape[0] < 2:
        raise ValueError(f"expected at least two rows to interpolate between, found {rows.shape[0]}")
    field, conductance = rows[:, 0], rows[:, 1]
    if not (np.all(np.isfinite(field)) and np.all(np.isfinite(conductance))):
        row = int(np.flatnonzero(~(np.isfinite(field) & np.isfinite(conductance)))[0])
        raise ValueError(f"data row {row + 1}: expected finite numbers, got {float(field[row])!r}, "
                         f"{float(conductance[row])!r}")
    if field_unit == "tesla":
        field = field * (lattice_constant_nm * 1e-9) ** 2 / FLUX_QUANTUM_WB
    if conductance_unit == "siemens":
        conductance = conductance / CONDUCTANCE_QUANTUM_S
    order = np.argsort(field, kind="stable")
    field, conductance = field[order], conductance[order]
    repeated = field[1:] == field[:-1]
    if np.any(repeated):
        raise ValueError(f"field {field[1:][repeated][0]!r} appears more than once; expected one conductance "
                         "per field (average repeated sweeps first)")
    tolerance = 1e-6 * (field[-1] - field[0])
    direct = (flux >= field[0] - tolerance) & (flux <= field[-1] + tolerance)
    mirrored = ~direct & (-flux >= field[0] - tolerance) & (-flux <= field[-1] + tolerance)
    if not np.any(direct | mirrored):
        raise ValueError(f"the measured fields span flux {field[0]:.6g} .. {field[-1]:.6g}, which does not overlap "
                         f"the grid {flux[0]:.6g} .. {flux[-1]:.6g}; check the field unit and lattice constant")
    values = np.full(flux.shape, np.nan)
    values[direct] = np.interp(flux[direct], field, conductance)
    values[mirrored] = np.interp(-flux[mirrored], field, conductance)
    return values, (direct | mirrored).astype(float)


def _otsu_threshold(gray: np.ndarray) -> int:
    """The grey level t that best splits ``gray`` (uint8) into dark (<= t) and light (> t), after Otsu (1979)."""
    histogram = np.bincount(gray.ravel(), minlength=256).astype(float)
    levels = np.arange(256)
    weight_dark = np.cumsum(histogram)
    weight_light = weight_dark[-1] - weight_dark
    mass_dark = np.cumsum(histogram * levels)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_dark = mass_dark / weight_dark
        mean_light = (mass_dark[-1] - mass_dark) / weight_light
        between = weight_dark * weight_light * (mean_dark - mean_light) ** 2
    return int(np.nanargmax(between))


def trace_silhouette(data: bytes, n_points: int, conductance_range: tuple[float, float]) -> np.ndarray:
    """A target curve traced from a picture: the top edge of a dark object against a light sky (seed 000 Fig. 4).

    The picture is converted to grey (transparent parts count as white), split into dark and light by Otsu's
    threshold, and in every pixel column the highest dark pixel is taken as the curve; columns without a dark
    pixel are interpolated from their neighbours. The curve is resampled to ``n_points`` evenly across the
    image width (first and last pixel columns at the ends, pixel centres as positions) and mapped linearly so
    that the bottom pixel row is ``conductance_range[0]`` and the top row ``conductance_range[1]``.

    Parameters
    ----------
    data : bytes
        The image file (any format Pillow reads; the first frame of an animation).
    n_points : int
        Number of points, normally the number of fluxes of the grid.
    conductance_range : (float, float)
        G in e^2/h at the bottom and the top of the image, bottom < top.

    Returns
    -------
    ndarray, shape (n_points,)
        G in e^2/h.

    Raises
    ------
    ValueError
        Not an image; more than 25 megapixels (checked before decoding: a small file can unpack into a huge
        image); an image smaller than 2 x 2; no dark region (a blank picture); no light sky (more than a third of
        the top tenth of the image dark: an inverted or dark photograph); no solid object (less than half of the
        pixels below the traced edge dark: noise or a photograph).
    """
    from PIL import Image

    if isinstance(n_points, bool) or int(n_points) != n_points or n_points < 2:
        raise ValueError(f"n_points: expected an integer >= 2, got {n_points!r}")
    low, high = (float(value) for value in conductance_range)
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"conductance_range: expected finite (bottom, top) with bottom < top, got {conductance_range!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below, with our own limit
            image = Image.open(io.BytesIO(bytes(data)))
    except Image.DecompressionBombError:
        raise ValueError(f"the image has too many pixels; the limit is {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels") from None
    except Exception:  # Pillow's format plugins fail on malformed bytes with many exception types
        raise ValueError("not an image Pillow can read: expected a PNG, JPEG, GIF, BMP or similar picture") from None
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise ValueError(f"the image is {width} x {height} pixels ({width * height / 1e6:.0f} megapixels); the "
                         f"limit is {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels: scale it down first")
    if width < 2 or height < 2:
        raise ValueError(f"the image is {width} x {height} pixels; expected at least 2 x 2")
    try:
        image.seek(0)
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
        gray = np.asarray(image.convert("L"), dtype=np.uint8)
    except Exception as error:  # a header that opened but pixel data that is truncated or corrupt
        raise ValueError(f"not an image Pillow can decode: {error}") from None
    if gray.min() == gray.max():
        raise ValueError("the image has no dark region: expected a dark object against a light background")
    dark = gray <= _otsu_threshold(gray)
    has_dark = dark.any(axis=0)
    columns = np.flatnonzero(has_dark)
    top_row = np.argmax(dark, axis=0)[columns]
    sky = dark[: max(1, height // 10)].mean()
    if sky > 1 / 3:
        raise ValueError(f"the top of the image is dark ({100 * sky:.0f} % of its top tenth, at most a third may be): "
                         "expected a dark object against a light sky above it (an inverted or dark photograph has "
                         "no sky)")
    solid = dark.sum() / np.sum(height - top_row)
    if solid < 0.5:
        raise ValueError(f"the dark region is not a solid object (only {100 * solid:.0f} % dark below its top edge): "
                         "expected a dark silhouette against a light sky, not a photograph or noise")
    height_fraction = (height - 1 - top_row) / (height - 1)
    edge = np.interp(np.arange(width), columns, height_fraction)
    position = np.linspace(0, width - 1, int(n_points))
    return low + (high - low) * np.interp(position, np.arange(width), edge)


def curves_to_csv(flux: np.ndarray, **curves: np.ndarray) -> bytes:
    """Curves on a flux grid as CSV bytes: a header ``flux,<names...>`` and one row per flux.

    Numbers are written to full precision (shortest round-trip form), NaN as ``nan``.

    Parameters
    ----------
    flux : ndarray, shape (n_flux,)
        Flux per plaquette B a^2 / (h/e).
    **curves : ndarray, shape (n_flux,)
        Named columns, e.g. ``target=G`` in e^2/h.
    """
    flux = _checked_flux_grid(flux)
    columns = [flux]
    for name, values in curves.items():
        values = np.asarray(values, dtype=float)
        if values.shape != flux.shape:
            raise ValueError(f"{name}: expected shape {flux.shape} like flux, got {values.shape}")
        columns.append(values)
    lines = [",".join(["flux", *curves])]
    lines += [",".join(repr(float(value)) for value in row) for row in zip(*columns)]
    return ("\n".join(lines) + "\n").encode()
