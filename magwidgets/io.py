"""Results archives: one ``.npz`` per design run, with units and provenance.

Arrays: ``onsite`` (L, W) in units of t, ``theta`` (L, W) in radians, ``conductance`` in e^2/h, ``target``,
``loss`` (steps + 1[, n_starts]) and the other history entries as ``history_<name>``, the best parameters as
``params/<path>``, every start's as ``family/<path>``, and the known truth (synthetic targets) as
``truth_<name>``. ``metadata`` is a JSON string: the config text, the seed, the stop reason, wall time, the
objective's description and the versions of magwidgets, JAX, jaxlib, optax and NumPy.

Targets: :func:`read_conductance_csv` puts a measured G(B) (tesla or flux, siemens or e^2/h) on a flux grid,
:func:`trace_silhouette` turns a picture into a curve, :func:`curves_to_csv` writes curves back out.

Potentials: :func:`read_potential` reads a sketched V(x, y) from ``.npy`` or ``.csv`` bytes (rows = x),
:func:`potential_to_npy` and :func:`potential_to_csv` write one.
"""
from __future__ import annotations

import io
import json
import os
import platform
import re
import warnings
from typing import Optional

import jax
import numpy as np


def _versions() -> dict:
    import jaxlib
    import optax

    from ._version import __version__

    return dict(magwidgets=__version__, jax=jax.__version__, jaxlib=jaxlib.__version__, optax=optax.__version__,
                numpy=np.__version__, python=platform.python_version())


def _flatten(prefix: str, tree) -> dict:
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {f"{prefix}/{jax.tree_util.keystr(path) or 'value'}": np.asarray(leaf) for path, leaf in flat}


def save_npz_atomically(path: str, compressed: bool = False, **arrays) -> None:
    """Write an ``.npz`` next to ``path`` and rename it into place: a killed write leaves the old file intact.

    Under ``jax.distributed`` only process 0 writes (every process holds the same gathered results).
    """
    from .core.sharding import writes_files

    if not writes_files():
        return
    temporary = f"{path}.tmp-{os.getpid()}.npz"
    (np.savez_compressed if compressed else np.savez)(temporary, **arrays)
    os.replace(temporary, path)


def save_design_result(path: str, result, *, config_text: str = "", seed: Optional[int] = None,
                       target=None, truth: Optional[dict] = None) -> None:
    """Write a :class:`~magwidgets.design.DesignResult` to ``path`` atomically (nothing half-written)."""
    arrays = {name: np.asarray(value) for name, value in result.outputs.items()}
    arrays.update({f"history_{name}": values for name, values in result.history.items()})
    arrays["loss"] = result.history["loss"]
    arrays.update(_flatten("params", result.params))
    arrays.update(_flatten("family", result.family))
    arrays["family_loss"] = np.asarray(result.family_loss)
    if target is not None:
        arrays["target"] = np.asarray(target)
    arrays.update({f"truth_{name}": np.asarray(value) for name, value in (truth or {}).items()})
    metadata = dict(config=config_text, seed=seed, reason=result.reason, steps=result.steps,
                    wall_time=result.wall_time, best_loss=result.loss, description=result.description,
                    versions=_versions())
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_npz_atomically(path, compressed=True, metadata=np.array(json.dumps(metadata, default=str)), **arrays)


def load_design_result(path: str) -> tuple[dict, dict]:
    """Read an archive back: ``(arrays, metadata)``."""
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files if name != "metadata"}
        metadata = json.loads(str(archive["metadata"]))
    return arrays, metadata


# --- sketched potentials: V(x, y) of shape (L, W), one .npy or .csv file each ---------------------------------

def _expected_potential(shape: tuple[int, int]) -> str:
    return f"expected a {shape[0]} x {shape[1]} array of finite numbers (rows = x, columns = y)"


def _describe_shape(shape: tuple[int, ...]) -> str:
    return f"{shape[0]} x {shape[1]}" if len(shape) == 2 else f"an array of shape {tuple(shape)}"


def validate_potential(values, shape: tuple[int, int], source: str = "potential") -> np.ndarray:
    """Check that ``values`` is a potential V(x, y) of the given shape and return it as float64.

    Parameters
    ----------
    values : array_like
        Real numbers, indexed ``[x, y]``.
    shape : (int, int)
        The wire's ``(length, width)`` = (L, W).
    source : str
        What to call ``values`` in the error message (a file name, "potential").

    Returns
    -------
    numpy.ndarray
        A new float64 array of shape (L, W).

    Raises
    ------
    ValueError
        If ``values`` is not numeric, has another shape, or holds NaN or infinity; the message says what was
        expected, e.g. "expected a 30 x 30 array of finite numbers (rows = x, columns = y), got 29 x 30".
    """
    expected = _expected_potential(shape)
    try:
        array = np.asarray(values)
    except (ValueError, TypeError):
        raise ValueError(f"{source}: {expected}, got rows of different lengths") from None
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{source}: {expected}, got values of type {array.dtype}")
    if array.shape != tuple(shape):
        raise ValueError(f"{source}: {expected}, got {_describe_shape(array.shape)}")
    n_bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
    if n_bad:
        raise ValueError(f"{source}: {expected}, got {n_bad} value{'s' * (n_bad > 1)} that are NaN or infinite")
    return np.array(array, dtype=np.float64)


def _read_potential_npy(name: str, data: bytes, shape: tuple[int, int]) -> np.ndarray:
    expected = _expected_potential(shape)
    header_readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    stream = io.BytesIO(data)
    # The bytes are untrusted: numpy answers malformed ones with ValueError, EOFError or SyntaxError alike.
    try:
        version = np.lib.format.read_magic(stream)
        if version not in header_readers:
            raise ValueError(f"unsupported .npy format version {version}")
        file_shape, _, dtype = header_readers[version](stream)
    except Exception as error:
        raise ValueError(f"{name} is not a readable .npy file ({error}); {expected}") from None
    # Check the header before reading the data, so that a forged shape never makes us allocate it.
    if dtype.kind not in "iuf":
        raise ValueError(f"{name}: {expected}, got values of type {dtype}")
    if tuple(file_shape) != tuple(shape):
        raise ValueError(f"{name}: {expected}, got {_describe_shape(file_shape)}")
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as error:
        raise ValueError(f"{name} is not a readable .npy file ({error}); {expected}") from None


def _utf8_text(data: bytes) -> str:
    """The UTF-8 text of uploaded bytes (a byte-order mark, as spreadsheets write it, is dropped).

    Raises ValueError saying what the bytes are instead: UTF-16 (a spreadsheet's "Unicode text"), or not text.
    """
    data = bytes(data)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ValueError("not text in UTF-8 but in UTF-16 (a spreadsheet's \"Unicode text\"; save it as \"CSV UTF-8\")")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        raise ValueError("not text (binary data, or an encoding other than UTF-8)")
    return text


def _read_potential_csv(name: str, data: bytes, shape: tuple[int, int]) -> np.ndarray:
    expected = _expected_potential(shape)
    try:
        text = _utf8_text(data)
    except ValueError as error:
        raise ValueError(f"{name} is {error}; {expected}") from None
    rows = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        row = []
        for cell in line.split(","):
            try:
                row.append(float(cell))
            except ValueError:
                raise ValueError(f"{name}, line {line_number}: {cell.strip()[:20]!r} is not a number; {expected}") \
                    from None
        rows.append(row)
    if not rows:
        raise ValueError(f"{name}: {expected}, got an empty file")
    lengths = sorted({len(row) for row in rows})
    if len(lengths) > 1:
        raise ValueError(f"{name}: {expected}, got rows of {' and '.join(map(str, lengths))} numbers")
    return np.array(rows)


def read_potential(name: str, data: bytes, shape: tuple[int, int]) -> np.ndarray:
    """Read a potential V(x, y) from the bytes of a ``.npy`` or ``.csv`` file.

    Parameters
    ----------
    name : str
        The file name; its extension (``.npy`` or ``.csv``, any case) selects the format.
    data : bytes
        The file's content, treated as untrusted (``.npy`` is read with ``allow_pickle=False`` and its header is
        checked before any data is read).
    shape : (int, int)
        The wire's ``(length, width)`` = (L, W).

    Returns
    -------
    numpy.ndarray
        float64, shape (L, W), indexed ``[x, y]`` (x along the wire).

    Raises
    ------
    ValueError
        For another extension, unreadable bytes, a wrong shape, or NaN/infinite values; the message names the
        expected shape.

    Notes
    -----
    CSV layout: L lines of W comma-separated numbers; line i holds V(x = i, y = 0..W-1), so rows are x and
    columns are y, as in :func:`potential_to_csv`. Blank lines are ignored; there is no header line.
    """
    suffix = os.path.splitext(name)[1].lower()
    if suffix == ".npy":
        values = _read_potential_npy(name, data, shape)
    elif suffix == ".csv":
        values = _read_potential_csv(name, data, shape)
    else:
        raise ValueError(f"{name}: expected a .npy or .csv file holding a {shape[0]} x {shape[1]} array "
                         f"(rows = x, columns = y), got {'a ' + suffix if suffix else 'a name without extension'}")
    return validate_potential(values, shape, source=name)


def potential_to_csv(potential) -> bytes:
    """The ``.csv`` bytes of a potential V(x, y) of shape (L, W): L lines (x) of W comma-separated numbers (y).

    Numbers are written with 17 significant digits, so :func:`read_potential` gives back the same float64 array.
    """
    array = np.asarray(potential, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"expected a potential of shape (L, W), got {_describe_shape(array.shape)}")
    buffer = io.BytesIO()
    np.savetxt(buffer, array, fmt="%.17g", delimiter=",")
    return buffer.getvalue()


def potential_to_npy(potential) -> bytes:
    """The ``.npy`` bytes of a potential V(x, y) of shape (L, W), as float64 (readable without pickle)."""
    array = np.asarray(potential, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"expected a potential of shape (L, W), got {_describe_shape(array.shape)}")
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


# --- measured and drawn targets --------------------------------------------------------------------------------

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
        text = _utf8_text(data)
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
