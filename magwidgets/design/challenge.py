"""Class challenges: a hidden sample carried by a short code a teacher writes on the board.

A :class:`Challenge` is one of the studio's "truth" tasks (:data:`~magwidgets.design.tasks.TASKS`) and a hidden
sample: its potential V (and, for the magnetisation task, its angles theta). :func:`encode` turns it into a code
such as ``100S-A07Z-80XP-HM`` (an antidot at (20, 5)) and :func:`decode` turns the code back into the same
challenge, so a student's kernel rebuilds the sample, and from it the target G, with no state kept on the server.
The student's target is ``TASKS[challenge.task].truth_conductance(challenge.potential, challenge.theta)``
(:meth:`Challenge.target`); the teacher's challenge holds exactly the arrays the code carries, so both compute the
same target bit for bit.

The code (format version 1)
---------------------------
``<version><body>``, where the version is one character (``1``) and the body is the bytes below in base 32,
Crockford's alphabet ``0123456789ABCDEFGHJKMNPQRSTVWXYZ`` (no I, L, O, U: read back, ``O`` counts as ``0`` and
``I``, ``L`` as ``1``; case is ignored), most significant bit first, the last character padded with zero bits.
The code is shown in blocks of 4 characters joined by dashes; dashes and spaces are ignored when read.

1. One byte: the task (high nibble, an index into :data:`CHALLENGE_TASKS`) and the kind of sample (low nibble):
   0 a recipe, 1 arrays.
2. A recipe redraws a ready-made sample: one byte with the recipe (low nibble, an index into :data:`RECIPES`:
   the task's own default truth of a seed, or a preset of :data:`~magwidgets.core.potentials.PRESETS`) and a
   mask of the options given (high nibble, one bit per entry of :data:`RECIPE_OPTIONS`), then each given
   option as a zigzag varint of ``round(value / step)``. Options left out take the preset's defaults, so seed
   000's antidot at (15, 10) is 8 characters and an antidot anywhere else 14.
3. Arrays carry the sample itself: one byte of flags (bit 0: V follows, bit 1: theta follows), then each array
   quantised to :data:`POTENTIAL_STEP` (1e-3 t) or :data:`ANGLE_STEP` (1e-4 rad), as ``q = round(value / step)``
   in row order ``[x, y]``. Each array is stored as the shorter of two forms: bit-packed (a method byte 0, the
   smallest q as a zigzag varint, the bit width, then every ``q - min`` in that many bits), or deflated (a
   method byte 1 with the bytes per value in its high nibble, then a raw zlib stream of the zigzag values split
   into byte planes, so the many zero high bytes of a smooth sketch compress away).
4. Two check bytes: the CRC-16/CCITT (:func:`binascii.crc_hqx`, start value 0xFFFF) of the version and the
   bytes above. A CRC of 16 bits catches every error confined to 16 consecutive bits for sure, which covers any
   one mistyped character (5 bits) and any two neighbouring characters swapped (10 bits); other typos slip
   through one time in 65 536.

Decoding checks the alphabet, the length, the check bytes, the version, the task and the sample's size, and
says in its ``ValueError`` what it expected. A preset recipe is redrawn on the task's wire with NumPy's
generator, as :func:`~magwidgets.core.potentials.preset_potential` draws it.
"""
from __future__ import annotations

import binascii
import re
import zlib
from dataclasses import dataclass, field
from typing import Iterable, Optional

import numpy as np

from ..core.potentials import preset_potential
from .tasks import TASKS

VERSION = 1
"""The format version this module writes and reads (the first character of a code)."""

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford's base 32: digits and capitals without I, L, O and U, which are easily misread."""
_READ_AS = {"O": "0", "I": "1", "L": "1"}
BLOCK = 4
"""Characters per dash-separated block of a displayed code."""

POTENTIAL_STEP = 1e-3
"""Quantisation of a potential carried as an array, in units of t."""
ANGLE_STEP = 1e-4
"""Quantisation of magnetisation angles carried as an array, in radians."""

CHALLENGE_TASKS = ("identify_defect", "reconstruct_potential", "reconstruct_magnetisation")
"""The tasks a code can name, in code order (append only: a task's index is written in codes)."""

RECIPES = ("default_truth", "clean", "antidot", "disorder", "ring")
"""The ready-made samples a code can name, in code order (append only): the task's default truth of a seed
(:meth:`~magwidgets.design.tasks.Task.default_truth`) or a preset of :data:`~magwidgets.core.potentials.PRESETS`."""

RECIPE_OPTIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "default_truth": (("seed", 1),),
    "clean": (),
    "antidot": (("x", 0.01), ("y", 0.01), ("amplitude", 1e-3), ("radius", 1e-3)),
    "disorder": (("strength", 1e-3), ("seed", 1)),
    "ring": (("inner_radius", 1e-3), ("outer_radius", 1e-3), ("height", 1e-3)),
}
"""Each recipe's options in code order, with the step they are quantised to (1: an integer)."""

_KIND_RECIPE, _KIND_ARRAYS = 0, 1
_PACKED, _DEFLATED = 0, 1
_EXAMPLE = "1K3Q-7ZP0-M4"
_MAX_PACKED_WIDTH = 33  # zigzag of an int32 step count, plus the spread between the smallest and largest value


def _expected() -> str:
    return f"expected blocks like {_EXAMPLE} (digits and letters except I, L, O, U)"


_MISMATCH = f"this code's check digits do not match: was it typed exactly, and completely? {_expected()}"


@dataclass(frozen=True)
class Recipe:
    """A ready-made sample: ``name`` (one of :data:`RECIPES`) and its options, quantised to their steps.

    Parameters
    ----------
    name : str
        ``"default_truth"`` (the task's own starting sample of ``seed``) or a preset name.
    options : dict
        The recipe's options (see :data:`RECIPE_OPTIONS`); missing ones take their defaults.
    """

    name: str
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in RECIPE_OPTIONS:
            raise ValueError(f"unknown recipe {self.name!r}; expected one of {list(RECIPES)}")
        steps = dict(RECIPE_OPTIONS[self.name])
        unknown = sorted(set(self.options) - set(steps))
        if unknown:
            raise ValueError(f"recipe {self.name!r} takes options {sorted(steps)}, not {unknown}")
        quantised = {}
        for name, value in self.options.items():
            if value is None:
                continue
            if not np.isfinite(value):
                raise ValueError(f"recipe option {name} must be finite, got {value}")
            step = steps[name]
            # the value the code carries, so that the teacher's sample is the one every decoder redraws
            quantised[name] = int(round(value)) if step == 1 else int(round(value / step)) * step
        object.__setattr__(self, "options", quantised)

    def sample(self, task: str) -> tuple[np.ndarray, Optional[np.ndarray]]:
        """(potential, theta) of this recipe on ``task``'s wire."""
        if self.name == "default_truth":
            truth = TASKS[task].default_truth(**self.options)
            return np.asarray(truth["potential"], float), truth.get("theta")
        if TASKS[task].solves_magnetisation:
            raise ValueError(f"task {task!r} hides a magnetisation: only its default truth is a recipe")
        return np.asarray(preset_potential(self.name, TASKS[task].wire, **self.options), float), None


@dataclass(frozen=True, eq=False)
class Challenge:
    """A task and its hidden sample, exactly as a code carries them.

    Parameters
    ----------
    task : str
        One of :data:`CHALLENGE_TASKS` (the studio's tasks whose target is a hidden sample's G).
    potential : array (L, W), optional
        The hidden potential V in units of t; zeros when omitted. Quantised to :data:`POTENTIAL_STEP`.
    theta : array (L, W), optional
        The hidden magnetisation angles in radians (the magnetisation task only, which needs them).
        Quantised to :data:`ANGLE_STEP`.
    recipe : Recipe, optional
        A ready-made sample instead of arrays: ``potential`` and ``theta`` are then drawn from it (and must not
        be given).

    Notes
    -----
    The arrays are read-only and hold what :func:`decode` will rebuild, bit for bit: a quantised array, or the
    recipe's own sample.
    """

    task: str
    potential: Optional[np.ndarray] = None
    theta: Optional[np.ndarray] = None
    recipe: Optional[Recipe] = None

    def __post_init__(self) -> None:
        if self.task not in CHALLENGE_TASKS:
            raise ValueError(f"a challenge needs a task with a hidden sample, one of {list(CHALLENGE_TASKS)}; "
                             f"got {self.task!r}")
        task = TASKS[self.task]
        shape = task.measurement.shape
        if self.recipe is not None:
            if self.potential is not None or self.theta is not None:
                raise ValueError("give either a recipe or the sample's arrays, not both")
            potential, theta = self.recipe.sample(self.task)
        else:
            potential = np.zeros(shape) if self.potential is None else self.potential
            potential = _quantised(potential, shape, POTENTIAL_STEP, "potential")
            theta = None if self.theta is None else _quantised(self.theta, shape, ANGLE_STEP, "theta")
        if task.solves_magnetisation and theta is None:
            raise ValueError(f"task {self.task!r} hides a magnetisation: give its angles theta, shape {shape}")
        if not task.solves_magnetisation and theta is not None:
            raise ValueError(f"task {self.task!r} has no magnetisation: theta must be omitted")
        for name, value in (("potential", potential), ("theta", theta)):
            if value is not None:
                value = np.array(value, float)
                value.flags.writeable = False
            object.__setattr__(self, name, value)

    def target(self) -> np.ndarray:
        """The target a student fits: the hidden sample's G on the task's grid."""
        return TASKS[self.task].truth_conductance(self.potential, self.theta)

    @property
    def sample(self) -> dict:
        """``dict(potential=..., theta=...)`` (theta only for a magnetisation), as the studio keeps a truth."""
        return dict(potential=self.potential) if self.theta is None else dict(potential=self.potential,
                                                                                theta=self.theta)


def _quantised(values, shape: tuple[int, int], step: float, name: str) -> np.ndarray:
    array = np.asarray(values, float)
    if array.shape != tuple(shape):
        raise ValueError(f"the {name} must have the task's shape {tuple(shape)}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"the {name} must be finite (no NaN or infinity)")
    steps = np.round(array / step)
    if np.max(np.abs(steps)) >= 2**31:
        raise ValueError(f"the {name} must lie within ±{(2**31 - 1) * step:g}")
    return steps * step


def _steps(array: np.ndarray, step: float) -> np.ndarray:
    return np.round(np.asarray(array) / step).astype(np.int64).ravel()


# -- choosing the shortest description ---------------------------------------------------------------------------
def _fitted_antidot(task: str, potential: np.ndarray) -> Optional[Recipe]:
    """The antidot preset through the peak of ``potential``, its radius read from a neighbour; None if none."""
    x, y = np.unravel_index(int(np.argmax(potential)), potential.shape)
    amplitude = float(potential[x, y])
    if amplitude <= 0:
        return None
    for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
        if 0 <= nx < potential.shape[0] and 0 <= ny < potential.shape[1] and 0 < potential[nx, ny] < amplitude:
            radius = float(np.sqrt(-1.0 / np.log(potential[nx, ny] / amplitude)))
            return _short(Recipe("antidot", dict(x=int(x), y=int(y), amplitude=amplitude, radius=radius)), task)
    return None


def _short(recipe: Recipe, task: str) -> Recipe:
    """``recipe`` without the options equal to the preset's defaults (a shorter code for the same sample)."""
    wire = TASKS[task].wire
    defaults = dict(antidot=dict(x=wire.length // 2, y=round(wire.width / 3), amplitude=10.0, radius=2.0),
                    default_truth=dict(seed=0)).get(recipe.name, {})
    kept = {name: value for name, value in recipe.options.items()
            if name not in defaults or not np.isclose(value, defaults[name], rtol=0, atol=1e-9)}
    return Recipe(recipe.name, kept)


def challenge_of(task: str, potential=None, theta=None, *, candidates: Iterable[Recipe] = ()) -> Challenge:
    """The challenge of a sample, with the shortest code that carries it.

    A recipe (the task's default truth, the clean wire, one antidot fitted to the sample's peak, or one of
    ``candidates``, e.g. the disorder preset with the sketcher's strength and seed) replaces the arrays when its
    sample agrees with the given one to half the quantisation step, the accuracy arrays would carry anyway.

    Parameters
    ----------
    task : str
        One of :data:`CHALLENGE_TASKS`.
    potential, theta : array (L, W), optional
        The hidden sample.
    candidates : iterable of Recipe
        More recipes to try.

    Returns
    -------
    Challenge
        With a recipe when one matched, else with the quantised arrays.
    """
    arrays = Challenge(task, potential, theta)  # validates the sample and the task
    given_potential = np.zeros(TASKS[task].measurement.shape) if potential is None else np.asarray(potential, float)
    tries = [Recipe("default_truth"), *candidates]
    if not TASKS[task].solves_magnetisation:
        tries += [Recipe("clean"), _fitted_antidot(task, given_potential), Recipe("ring")]
    for recipe in tries:
        if recipe is None:
            continue
        try:
            candidate = Challenge(task, recipe=_short(recipe, task))
        except (TypeError, ValueError):  # a candidate that does not apply to this task
            continue
        if _agrees(candidate.potential, given_potential, POTENTIAL_STEP) and (
                theta is None or candidate.theta is not None and _agrees(candidate.theta, theta, ANGLE_STEP)) and (
                (theta is None) == (candidate.theta is None)):
            return candidate
    return arrays


def _agrees(a, b, step: float) -> bool:
    return bool(np.max(np.abs(np.asarray(a, float) - np.asarray(b, float))) <= step / 2 + 1e-12)


# -- bytes --------------------------------------------------------------------------------------------------------
def _zigzag(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, np.int64)
    return np.where(values >= 0, 2 * values, -2 * values - 1).astype(np.uint64)


def _unzigzag(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, np.uint64).astype(np.int64)
    return np.where(values % 2 == 0, values // 2, -(values + 1) // 2)


def _varint(value: int) -> bytes:
    value = int(_zigzag(np.array([value]))[0])
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class _Reader:
    """Reads the body of a code, raising ValueError with a plain message when it runs out."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def byte(self) -> int:
        if self.at >= len(self.data):
            raise ValueError("the code ends too early: is a block missing?")
        self.at += 1
        return self.data[self.at - 1]

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise ValueError("the code ends too early: is a block missing?")
        self.at += n
        return self.data[self.at - n:self.at]

    def varint(self) -> int:
        value, shift = 0, 0
        while True:
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
            if shift > 63:
                raise ValueError("a number in the code is too long")
        return int(_unzigzag(np.array([value], np.uint64))[0])


def _pack_array(steps: np.ndarray) -> bytes:
    """The shorter of the bit-packed and deflated forms of a quantised array (see the module's notes)."""
    low = int(steps.min())
    spread = (steps - low).astype(np.uint64)
    width = max(1, int(spread.max()).bit_length())
    bits = ((spread[:, None] >> np.arange(width - 1, -1, -1, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
    packed = bytes([_PACKED]) + _varint(low) + bytes([width]) + np.packbits(bits.ravel()).tobytes()
    zigzag = _zigzag(steps)
    size = max(1, (int(zigzag.max()).bit_length() + 7) // 8)
    planes = np.stack([(zigzag >> np.uint64(8 * plane)) & np.uint64(0xFF) for plane in range(size)]).astype(np.uint8)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: its own end marker, no header
    deflated = bytes([_DEFLATED | size << 4]) + compressor.compress(planes.tobytes()) + compressor.flush()
    return min(packed, deflated, key=len)


def _unpack_array(reader: _Reader, n: int) -> np.ndarray:
    method = reader.byte()
    if method == _PACKED:
        low, width = reader.varint(), reader.byte()
        if not 1 <= width <= _MAX_PACKED_WIDTH:
            raise ValueError(f"the code's sample says {width} bits per value; expected 1 to {_MAX_PACKED_WIDTH}")
        data = reader.take((n * width + 7) // 8)
        bits = np.unpackbits(np.frombuffer(data, np.uint8))[:n * width].reshape(n, width).astype(np.uint64)
        spread = (bits << np.arange(width - 1, -1, -1, dtype=np.uint64)).sum(axis=1)
        return spread.astype(np.int64) + low
    if method & 0x0F == _DEFLATED and 1 <= method >> 4 <= 5:
        size = method >> 4
        decompressor = zlib.decompressobj(-15)
        try:  # at most the bytes the array needs: a forged stream cannot make it inflate further
            raw = decompressor.decompress(reader.data[reader.at:], n * size)
        except zlib.error:
            raise ValueError("the code's sample cannot be unpacked: is it complete?") from None
        if len(raw) != n * size or not decompressor.eof:
            raise ValueError(f"the code's sample has the wrong size: expected {n} values for this task")
        reader.at = len(reader.data) - len(decompressor.unused_data)
        planes = np.frombuffer(raw, np.uint8).reshape(size, n).astype(np.uint64)
        return _unzigzag(sum(planes[plane] << np.uint64(8 * plane) for plane in range(size)))
    raise ValueError(f"the code's sample is stored in an unknown way (method byte {method}); expected 0 (packed) "
                     "or 1 with 1 to 5 bytes per value in the high half (deflated)")


def _body(challenge: Challenge) -> bytes:
    task = CHALLENGE_TASKS.index(challenge.task)
    if challenge.recipe is not None:
        recipe, options = challenge.recipe, RECIPE_OPTIONS[challenge.recipe.name]
        mask = sum(1 << index for index, (name, _) in enumerate(options) if name in recipe.options)
        body = bytes([task << 4 | _KIND_RECIPE, RECIPES.index(recipe.name) | mask << 4])
        for name, step in options:
            if name in recipe.options:
                body += _varint(int(round(recipe.options[name] / step)))
        return body
    has_potential = bool(np.any(challenge.potential)) or challenge.theta is None
    flags = int(has_potential) | int(challenge.theta is not None) << 1
    body = bytes([task << 4 | _KIND_ARRAYS, flags])
    if has_potential:
        body += _pack_array(_steps(challenge.potential, POTENTIAL_STEP))
    if challenge.theta is not None:
        body += _pack_array(_steps(challenge.theta, ANGLE_STEP))
    return body


def _check(version: int, body: bytes) -> bytes:
    return binascii.crc_hqx(bytes([version]) + body, 0xFFFF).to_bytes(2, "big")


# -- base 32 ------------------------------------------------------------------------------------------------------
def _to_base32(data: bytes) -> str:
    bits = "".join(f"{byte:08b}" for byte in data)
    bits += "0" * (-len(bits) % 5)
    return "".join(ALPHABET[int(bits[index:index + 5], 2)] for index in range(0, len(bits), 5))


def _from_base32(text: str) -> bytes:
    """The bytes of base-32 text; ValueError for a length no code has or non-zero padding bits."""
    if len(text) * 5 % 8 >= 5:  # a whole character of padding: no byte string encodes to this length
        raise ValueError(f"the code has {len(text) + 1} characters, a length no code has: is a character "
                         f"missing or extra? {_expected()}")
    bits = "".join(f"{ALPHABET.index(char):05b}" for char in text)
    whole = len(bits) // 8 * 8
    if "1" in bits[whole:]:
        raise ValueError(_MISMATCH)
    return bytes(int(bits[index:index + 8], 2) for index in range(0, whole, 8))


def format_code(code: str) -> str:
    """``code`` in blocks of :data:`BLOCK` characters joined by dashes (how the studio shows it)."""
    plain = re.sub(r"[\s-]", "", code).upper()
    return "-".join(plain[index:index + BLOCK] for index in range(0, len(plain), BLOCK))


def encode(challenge: Challenge) -> str:
    """The code of ``challenge``: its format version, its sample and two check bytes, in dash-joined blocks.

    Parameters
    ----------
    challenge : Challenge

    Returns
    -------
    str
        e.g. ``"1K3Q-7ZP0-M4"``; :func:`decode` gives back the same task and arrays.
    """
    body = _body(challenge)
    return format_code(ALPHABET[VERSION] + _to_base32(body + _check(VERSION, body)))


def decode(code: str) -> Challenge:
    """The challenge a code carries.

    Parameters
    ----------
    code : str
        As :func:`encode` writes it; case, dashes and spaces do not matter, and O, I, L are read as 0, 1, 1.

    Returns
    -------
    Challenge

    Raises
    ------
    ValueError
        For a code that is empty, has a character outside the alphabet, has a length no code has, does not match
        its check digits (a typo, a missing block), is of another format version, or names a task or a sample
        this version does not know; the message says what was expected.
    """
    if not isinstance(code, str):
        raise ValueError(f"a challenge code is text, got {type(code).__name__}; {_expected()}")
    plain = re.sub(r"[\s-]", "", code).upper()
    if not plain:
        raise ValueError(f"no challenge code given: {_expected()}")
    for position, char in enumerate(plain, 1):
        if _READ_AS.get(char, char) not in ALPHABET:
            raise ValueError(f"{char!r} (character {position}) is not in a challenge code: codes use the digits "
                             f"and the letters A-Z except I, L, O, U; {_expected()}")
    plain = "".join(_READ_AS.get(char, char) for char in plain)
    version = ALPHABET.index(plain[0])
    data = _from_base32(plain[1:])
    if len(data) < 4:
        raise ValueError(f"the code is too short ({len(plain)} characters; the shortest codes have 8): was it "
                         f"cut off? {_expected()}")
    body, check = data[:-2], data[-2:]
    if version != VERSION:
        # a future format may check its digits differently: name the version whether or not they match here
        raise ValueError(f"this code starts with {plain[0]!r}, a format version {version} code, and this magwidgets "
                         f"reads version {VERSION} codes (they start with {ALPHABET[VERSION]!r}): was it typed "
                         "exactly? A code made by a newer magwidgets needs that version")
    if _check(version, body) != check:
        raise ValueError(_MISMATCH)
    reader = _Reader(body)
    header = reader.byte()
    task_index, kind = header >> 4, header & 0x0F
    if task_index >= len(CHALLENGE_TASKS):
        raise ValueError(f"the code names task number {task_index}; this magwidgets knows "
                         f"{len(CHALLENGE_TASKS)} ({', '.join(CHALLENGE_TASKS)})")
    task = CHALLENGE_TASKS[task_index]
    try:
        if kind == _KIND_RECIPE:
            challenge = _read_recipe(reader, task)
        elif kind == _KIND_ARRAYS:
            challenge = _read_arrays(reader, task)
        else:
            raise ValueError(f"the code's sample is of an unknown kind ({kind}); expected 0 or 1")
    except (TypeError, OverflowError) as error:
        raise ValueError(f"the code's sample cannot be drawn: {error}") from None
    if reader.at != len(body):
        raise ValueError(f"the code has {len(body) - reader.at} bytes more than its sample needs")
    return challenge


def _read_recipe(reader: _Reader, task: str) -> Challenge:
    byte = reader.byte()
    index, mask = byte & 0x0F, byte >> 4
    if index >= len(RECIPES):
        raise ValueError(f"the code names sample recipe {index}; expected one of 0-{len(RECIPES) - 1} "
                         f"({', '.join(RECIPES)})")
    name = RECIPES[index]
    options = RECIPE_OPTIONS[name]
    if mask >> len(options):
        raise ValueError(f"the code gives recipe {name!r} options it does not take")
    values = {}
    for bit, (option, step) in enumerate(options):
        if mask >> bit & 1:
            steps = reader.varint()
            values[option] = steps if step == 1 else steps * step
    try:
        return Challenge(task, recipe=Recipe(name, values))
    except ValueError as error:  # e.g. a radius of 0: say which sample could not be drawn
        raise ValueError(f"the code's sample ({name} with {values}) cannot be drawn: {error}") from None


def _read_arrays(reader: _Reader, task: str) -> Challenge:
    flags = reader.byte()
    if flags & ~0b11 or not flags:
        raise ValueError(f"the code's sample flags are {flags}; expected 1 (a potential), 2 (angles) or 3 (both)")
    shape = TASKS[task].measurement.shape
    n = shape[0] * shape[1]
    potential = _unpack_array(reader, n).reshape(shape) * POTENTIAL_STEP if flags & 1 else None
    theta = _unpack_array(reader, n).reshape(shape) * ANGLE_STEP if flags & 2 else None
    return Challenge(task, potential, theta)
