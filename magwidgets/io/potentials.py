"""Sketched potentials on disk: V(x, y) of shape (L, W) as one ``.npy`` or ``.csv`` file (rows = x, columns = y).

:func:`read_potential` reads one from untrusted bytes (an upload) and says what was expected when it cannot;
:func:`potential_to_npy` and :func:`potential_to_csv` write one.
"""
from __future__ import annotations

import io
import os

import numpy as np

from .text import utf8_text


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


def _read_potential_csv(name: str, data: bytes, shape: tuple[int, int]) -> np.ndarray:
    expected = _expected_potential(shape)
    try:
        text = utf8_text(data)
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
