"""Design runs described by a TOML file: the form the command line (``magwidgets design CONFIG.toml``) runs.

A config has the tables ``[wire]``, ``[grid]``, ``[target]``, ``[params]``, ``[loss]``, ``[optimizer]`` and
``[run]`` (see ``examples/*.toml``); a Fourier reverse-modelling run has ``[fourier]`` instead of the first five.
Every field is checked before anything runs, and an error names the field: ``target.values: ...``.

Targets are either loaded (``file = "measured.csv"`` or ``.npz`` with key ``conductance``) or synthesised from
a known truth, which the results archive keeps for comparison:

- ``kind = "gaussian_defect"``: seed 000 eq. 3 (amplitude, x, y, radius);
- ``kind = "random_potential"``: uniform in [-amplitude, amplitude] with optional fixed sites (seed 004 Fig. 2);
- ``kind = "random_magnetisation"``: angles uniform in ``angle_range`` (radians, default [0, 2 pi)) with optional
  fixed sites (seed 004 Fig. 3);
- ``kind = "curve"``: one of :data:`CURVES`, our own drawn G(B) shapes (seed 000 Figs. 4-5 traced pictures).

``offset`` sets the on-site energy a synthesised sample sits on (default: the clean wire's, 4t next to square
leads and 0 next to ideal ones). ``noise`` adds uniform noise |dG| < noise to a synthesised target (seed 004's robustness test).
"""
from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from ..core import Wire
from ..core.potentials import gaussian_antidot
from .fourier import FourierObjective, fourier_image, triangular_lattice
from .losses import Loss
from .optimize import Optimizer
from .params import parametrisation_from_config, pin_sites
from .problem import Measurement, Problem


# Both shapes stay below the seed 000 wire's channel count N(flux) (11 at B = 0, falling to 3 at
# pi B a^2 / phi_0 = 0.12 as Landau levels form): a potential can only scatter, so G <= N(flux) for any design,
# and a target above N(flux) cannot be reached.
def _arches(u: np.ndarray) -> np.ndarray:
    """A row of five arches on a falling baseline (our stand-in for seed 000's Colosseum), G from 1.5 to 3.8."""
    return 3.0 - 1.5 * u + 0.8 * np.abs(np.sin(5 * np.pi * u))


def _reclining_figure(u: np.ndarray) -> np.ndarray:
    """A head, a shoulder and a long low body (our stand-in for seed 000's reclining Buddha), G from 1.8 to 4.1."""
    head = 1.2 * np.exp(-((u - 0.12) / 0.06) ** 2)
    shoulder = 0.8 * np.exp(-((u - 0.35) / 0.12) ** 2)
    return 3.0 - 1.2 * u + head + shoulder


CURVES = {"arches": _arches, "reclining_figure": _reclining_figure}


def _require(table: dict, name: str, kinds=(int, float)) -> Any:
    section, _, key = name.rpartition(".")
    if key not in table:
        raise ValueError(f"{name}: missing (required)")
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ValueError(f"{name}: expected {' or '.join(k.__name__ for k in kinds)}, got {value!r}")
    return value


def _number(table: dict, name: str, default: float, low: float = -math.inf, positive: bool = False) -> float:
    """A finite real number ``table[key]`` (``default`` when absent), >= ``low`` or > 0 with ``positive``."""
    key = name.rpartition(".")[2]
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < low or (positive and value <= 0):
        bound = " > 0" if positive else f" >= {low:g}" if low > -math.inf else ""
        raise ValueError(f"{name}: expected a finite number{bound}, got {value!r}")
    return float(value)


def _count(table: dict, name: str, default: Optional[int], low: int = 1) -> Optional[int]:
    """An integer ``table[key]`` >= ``low`` (``default`` when absent)."""
    key = name.rpartition(".")[2]
    value = table.get(key, default)
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return value


def _table(config: dict, name: str, known: Optional[set] = None) -> dict:
    """The table ``[name]`` of a config (empty when absent), with only ``known`` keys when given."""
    table = config.get(name, {})
    if not isinstance(table, dict):
        raise ValueError(f"{name}: expected a table [{name}], got {table!r}")
    unknown = set(table) - known if known is not None else set()
    if unknown:
        raise ValueError(f"{name}: unknown key(s) {sorted(unknown)}; expected some of {sorted(known)}")
    return table


def _check_fixed_sites(table: dict, name: str) -> None:
    """``fixed``: a list of [x, y, value] sites with integer x, y and a finite value."""
    value = table.get(name.rpartition(".")[2], [])
    if not isinstance(value, list) or not all(
            isinstance(site, list) and len(site) == 3
            and all(isinstance(index, int) and not isinstance(index, bool) for index in site[:2])
            and isinstance(site[2], (int, float)) and not isinstance(site[2], bool) and math.isfinite(site[2])
            for site in value):
        raise ValueError(f"{name}: expected a list of [x, y, value] sites (integers x, y), got {value!r}")


def _range(table: dict, name: str) -> None:
    """``init_range``, ``y_range`` or ``angle_range``: [low, high], finite, low < high."""
    value = table[name.rpartition(".")[2]]
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
            and value[0] < value[1]):
        raise ValueError(f"{name}: expected [low, high] with finite low < high, got {value!r}")


def check_output(path, name: str = "run.output") -> str:
    """A results archive's path that can be written when the run ends: checked before the run starts.

    Missing folders are created at the end; a path that is a folder, or below a file, or in a folder that cannot be
    written, is refused now rather than after hours of optimisation.
    """
    if not isinstance(path, str) or not path.strip():
        raise ValueError(f"{name}: expected the results archive's file name, got {path!r}")
    if os.path.isdir(path):
        raise ValueError(f"{name}: {path!r} is a folder; expected a file name such as "
                         f"{os.path.join(path, 'design_result.npz')!r}")
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise ValueError(f"{name}: cannot write {path!r}: {folder!r} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{name}: cannot write {path!r}: the folder {folder!r} is not writable")
    return path


def check_steps(steps, name: str = "run.steps") -> int:
    """A total number of steps: an integer >= 1."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"{name}: expected a positive integer, got {steps!r}")
    return steps


def _axis(value, name: str) -> np.ndarray | float:
    """A grid axis: a number, a list, or ``{start, stop, num}`` (``scale`` multiplies, e.g. 1/pi)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError(f"{name}: expected a finite number, got {value!r}")
        return float(value)
    if isinstance(value, list):
        if not all(isinstance(item, (int, float)) and not isinstance(item, bool) for item in value):
            raise ValueError(f"{name}: expected a list of numbers, got {value!r}")
        array = np.asarray(value, dtype=float)
    elif isinstance(value, dict):
        unknown = set(value) - {"start", "stop", "num", "scale"}
        if unknown:
            raise ValueError(f"{name}: unknown key(s) {sorted(unknown)}; expected start, stop, num, scale")
        num = _require(value, f"{name}.num", (int,))
        if num < 1:
            raise ValueError(f"{name}.num: expected an integer >= 1, got {num}")
        array = np.linspace(_require(value, f"{name}.start"), _require(value, f"{name}.stop"), num) \
            * _number(value, f"{name}.scale", 1.0)
    else:
        raise ValueError(f"{name}: expected a number, a list or {{start, stop, num}}, got {value!r}")
    if array.ndim != 1 or array.size == 0 or not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: expected a non-empty 1-D list of finite numbers")
    return array


def _wire(table: dict) -> Wire:
    settings = dict(table)
    if isinstance(settings.get("lead_k"), list):
        settings["lead_k"] = tuple(settings["lead_k"])
    try:
        return Wire(**settings)
    except TypeError as error:
        raise ValueError(f"wire: {error}") from None


def _synthetic_target(measurement: Measurement, table: dict, rng) -> tuple[np.ndarray, dict]:
    """A known sample's G on the grid, and the sample (``onsite``, and ``theta`` for a magnetisation)."""
    wire, shape = measurement.wire, measurement.shape
    kind = table.get("kind")
    fixed = [tuple(site) for site in table.get("fixed", [])]
    truth: dict = {}
    potential, theta = np.zeros(shape), None
    if kind == "gaussian_defect":
        potential = gaussian_antidot(wire, table.get("x", 15.0), table.get("y", 10.0),
                                     amplitude=table.get("amplitude", 10.0), radius=table.get("radius", 2.0))
    elif kind == "random_potential":
        amplitude = table.get("amplitude", 1.0)
        potential = np.asarray(pin_sites(wire, fixed, rng.uniform(-amplitude, amplitude, shape)))
    elif kind == "random_magnetisation":
        if not wire.spin:
            raise ValueError("target.kind = 'random_magnetisation' needs wire.spin = true")
        low, high = table.get("angle_range", (0.0, 2 * np.pi))
        theta = np.asarray(pin_sites(wire, fixed, rng.uniform(low, high, shape)))
        truth["theta"] = theta
    elif kind == "curve":
        shape_name = table.get("shape")
        if shape_name not in CURVES:
            raise ValueError(f"target.shape: expected one of {sorted(CURVES)}, got {shape_name!r}")
        flux_axis = np.atleast_1d(measurement.flux)
        u = (flux_axis - flux_axis[0]) / max(flux_axis[-1] - flux_axis[0], 1e-300)
        return CURVES[shape_name](u), truth
    else:
        raise ValueError("target.kind: expected 'gaussian_defect', 'random_potential', 'random_magnetisation' or "
                         f"'curve' (or give target.file), got {kind!r}")
    # ``offset``: the on-site energy the sample sits on, by default the clean wire's
    onsite = measurement.onsite(potential) if "offset" not in table else table["offset"] + potential
    truth["onsite"] = onsite
    return measurement.conductance(onsite, theta), truth


def _loaded_target(path: str) -> tuple[np.ndarray, Optional[np.ndarray]]:
    if not isinstance(path, str):
        raise ValueError(f"target.file: expected a file name, got {path!r}")
    try:
        if path.endswith(".npz"):
            with np.load(path) as archive:
                if "conductance" not in archive:
                    raise ValueError(f"{path} has no array named 'conductance'")
                return archive["conductance"], archive["weights"] if "weights" in archive else None
        return np.loadtxt(path, delimiter=",", ndmin=1), None
    except Exception as error:  # a missing file, a folder, a corrupt archive, text that is not numbers
        raise ValueError(f"target.file: cannot read {path!r} ({error})") from None


@dataclass
class RunConfig:
    """A validated design run: what :class:`~magwidgets.design.driver.Design` needs, plus provenance."""

    objective: Any
    data: dict
    optimizer: Optimizer
    steps: int
    seed: int
    driver: dict
    output: str
    truth: dict = field(default_factory=dict)
    target: Optional[np.ndarray] = None
    text: str = ""


RUN_KEYS = {"steps", "seed", "n_starts", "snapshot_every", "checkpoint_every", "checkpoint_seconds", "tolerance",
            "patience", "min_delta", "output", "initial"}


def _run_table(table: dict) -> tuple[int, int, dict, str]:
    steps = check_steps(_require(table, "run.steps", (int,)))
    seed = _count(table, "run.seed", 0, low=0)
    driver = {}
    for key in ("n_starts", "snapshot_every", "checkpoint_every", "patience"):
        if key in table:
            driver[key] = _count(table, f"run.{key}", None)
    for key, options in (("checkpoint_seconds", dict(positive=True)), ("tolerance", {}), ("min_delta", dict(low=0))):
        if key in table:
            driver[key] = _number(table, f"run.{key}", 0.0, **options)
    if "initial" in table:
        driver["initial_params"] = _initial_params(table["initial"])
    return steps, seed, driver, check_output(table.get("output", "design_result.npz"))


def _initial_params(path: str) -> np.ndarray:
    """The best parameters of an earlier run's results archive (array-valued parametrisations)."""
    from ..io.archives import load_design_result

    if not isinstance(path, str):
        raise ValueError(f"run.initial: expected the file name of an earlier run's results, got {path!r}")
    try:
        arrays, _ = load_design_result(path)
    except Exception as error:  # missing, a folder, not an archive, no metadata
        raise ValueError(f"run.initial: cannot read {path!r} ({error}); run the earlier stage first") from None
    if "params/value" not in arrays:
        raise ValueError(f"run.initial: {path} holds structured parameters; only per-site maps can seed a run")
    return arrays["params/value"]


def _optimizer(table: dict) -> Optimizer:
    for key in ("learning_rate", "shrink", "grow"):
        if table.get(key) is not None:
            _number(table, f"optimizer.{key}", 1.0)
    try:
        return Optimizer(**table)
    except TypeError as error:
        raise ValueError(f"optimizer: {error}") from None
    except ValueError as error:
        raise ValueError(str(error)) from None


TABLES = {"wire", "grid", "target", "params", "loss", "optimizer", "run", "fourier"}
TARGET_KEYS = {"file", "kind", "noise", "amplitude", "x", "y", "radius", "offset", "fixed", "shape", "angle_range"}
FOURIER_KEYS = {"columns", "rows", "spacing", "sigma", "pixels", "displacement", "init_displacement"}


def load_config(path: str) -> RunConfig:
    """Read and validate a design config; synthesise the target if asked. Raises ValueError naming the field.

    Every table and key is checked before anything runs: unknown tables and keys, wrong types, non-finite or
    out-of-range numbers, unreadable files and an output path that cannot be written are refused.
    """
    with open(path, "rb") as handle:
        text_bytes = handle.read()
    try:
        text = text_bytes.decode()
        config = tomllib.loads(text)
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a TOML file (not UTF-8 text)") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML ({error})") from None
    unknown = set(config) - TABLES
    if unknown:
        raise ValueError(f"unknown table(s) {sorted(unknown)}; expected some of {sorted(TABLES)}")
    steps, seed, driver, output = _run_table(_table(config, "run", RUN_KEYS))
    optimizer = _optimizer(_table(config, "optimizer"))
    rng = np.random.default_rng(seed)
    if "fourier" in config:
        return _fourier_config(_table(config, "fourier", FOURIER_KEYS), optimizer, steps, seed, driver, output, rng,
                               text)
    for section in ("wire", "grid", "target", "params"):
        if section not in config:
            raise ValueError(f"{section}: missing table [{section}]")
    wire = _wire(_table(config, "wire"))
    grid = _table(config, "grid", {"flux", "energy"})
    measurement = Measurement(wire, _axis(grid.get("flux", 0.0), "grid.flux"),
                              _axis(grid.get("energy", 0.0), "grid.energy"))
    target_table = _table(config, "target", TARGET_KEYS)
    for key in ("amplitude", "x", "y", "radius", "offset"):
        if key in target_table:
            _number(target_table, f"target.{key}", 0.0)
    _check_fixed_sites(target_table, "target.fixed")
    if "angle_range" in target_table:
        _range(target_table, "target.angle_range")
    truth: dict = {}
    weights = None
    if "file" in target_table:
        values, weights = _loaded_target(target_table["file"])
    else:
        try:
            values, truth = _synthetic_target(measurement, target_table, rng)
        except OverflowError as error:
            raise ValueError(f"target: a number is too large to draw the target with ({error})") from None
        except (TypeError, ValueError) as error:
            message = str(error)
            raise ValueError(message if message.startswith("target") else f"target: {message}") from None
    noise = _number(target_table, "target.noise", 0.0, low=0)
    if noise:
        values = values + rng.uniform(-noise, noise, np.shape(values))
    loss_table = _table(config, "loss")
    if "smoothness" in loss_table:
        _number(loss_table, "loss.smoothness", 0.0)
    try:
        loss = Loss(**loss_table)
    except TypeError as error:
        raise ValueError(f"loss: {error}") from None
    params_table = _table(config, "params")
    _check_fixed_sites(params_table, "params.fixed")
    for key in ("init_range", "y_range"):
        if key in params_table:
            _range(params_table, f"params.{key}")
    if "n" in params_table:
        _count(params_table, "params.n", None)
    try:
        parametrisation = parametrisation_from_config(wire, params_table)
    except (TypeError, ValueError) as error:  # e.g. fixed = 5, n = "ten"
        message = str(error)
        raise ValueError(message if message.startswith("params") else f"params: {message}") from None
    try:
        objective, data = Problem(measurement, parametrisation, loss).objective(values, weights=weights)
    except ValueError as error:
        raise ValueError(f"target.values: {error}") from None
    return RunConfig(objective, data, optimizer, steps, seed, driver, output, truth, np.asarray(values),
                     text_bytes.decode())


def _fourier_config(table: dict, optimizer, steps, seed, driver, output, rng, text) -> RunConfig:
    """Seed 004 sec. V: a triangular lattice displaced by ``displacement``, fitted from ``init_displacement``."""
    reference, box = triangular_lattice(_count(table, "fourier.columns", 20), _count(table, "fourier.rows", 23),
                                        _number(table, "fourier.spacing", 2.0, positive=True))
    sigma = _number(table, "fourier.sigma", 0.3, positive=True)
    pixels = _count(table, "fourier.pixels", 128, low=2)
    displacement = _number(table, "fourier.displacement", 0.25, low=0)
    true_positions = (reference + rng.normal(0, displacement, reference.shape)) % box
    target = np.asarray(fourier_image(true_positions, box, sigma, pixels))
    objective, data = FourierObjective.create(
        target, reference, box, sigma=sigma, pixels=pixels,
        init_displacement=_number(table, "fourier.init_displacement", 0.1, low=0))
    return RunConfig(objective, data, optimizer, steps, seed, driver, output, dict(positions=true_positions), target,
                     text)
