"""Design runs described by a TOML file: the form the command line (``magwidgets design CONFIG.toml``) runs.

A config has the tables ``[wire]``, ``[grid]``, ``[target]``, ``[params]``, ``[loss]``, ``[optimizer]`` and
``[run]`` (see ``examples/*.toml``); a Fourier reverse-modelling run has ``[fourier]`` instead of the first five.
Every field is checked before anything runs, and an error names the field: ``target.values: ...``.

Targets are either loaded (``file = "measured.csv"`` or ``.npz`` with key ``conductance``) or synthesised from
a known truth, which the results archive keeps for comparison:

- ``kind = "gaussian_defect"``: seed 000 eq. 3 (amplitude, x, y, radius, offset);
- ``kind = "random_potential"``: uniform in [-amplitude, amplitude] with optional fixed sites (seed 004 Fig. 2);
- ``kind = "random_magnetisation"``: angles uniform in [0, 2 pi) (seed 004 Fig. 3);
- ``kind = "curve"``: one of :data:`CURVES`, our own drawn G(B) shapes (seed 000 Figs. 4-5 traced pictures).

``noise`` adds uniform noise |dG| < noise to a synthesised target (seed 004's robustness test).
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from ..core import Wire, conductance
from .fourier import FourierObjective, fourier_image, triangular_lattice
from .losses import Loss
from .objectives import TransportObjective
from .optimize import Optimizer
from .params import GaussianDefects, SitePotential, parametrisation_from_config


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


def _axis(value, name: str) -> np.ndarray | float:
    """A grid axis: a number, a list, or ``{start, stop, num}`` (``scale`` multiplies, e.g. 1/pi)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, list):
        array = np.asarray(value, dtype=float)
    elif isinstance(value, dict):
        unknown = set(value) - {"start", "stop", "num", "scale"}
        if unknown:
            raise ValueError(f"{name}: unknown key(s) {sorted(unknown)}; expected start, stop, num, scale")
        array = np.linspace(_require(value, f"{name}.start"), _require(value, f"{name}.stop"),
                            int(_require(value, f"{name}.num", (int,)))) * float(value.get("scale", 1.0))
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


def _synthetic_target(wire: Wire, table: dict, flux, energy, rng) -> tuple[np.ndarray, dict]:
    kind = table.get("kind")
    truth: dict = {}
    onsite, theta = np.zeros((wire.length, wire.width)), None
    if kind == "gaussian_defect":
        defect = GaussianDefects(wire, n=1, x=table.get("x", 15.0), offset=table.get("offset", 4.0))
        onsite = np.asarray(defect.fields(dict(y=np.array([table.get("y", 10.0)]),
                                               amplitude=np.array([table.get("amplitude", 10.0)]),
                                               radius=np.array([table.get("radius", 2.0)])))[0])
    elif kind == "random_potential":
        amplitude = table.get("amplitude", 1.0)
        potential = SitePotential(wire, offset=table.get("offset", 0.0),
                                  fixed=[tuple(site) for site in table.get("fixed", [])])
        onsite = np.asarray(potential.fields(rng.uniform(-amplitude, amplitude, onsite.shape))[0])
    elif kind == "random_magnetisation":
        if not wire.spin:
            raise ValueError("target.kind = 'random_magnetisation' needs wire.spin = true")
        theta = rng.uniform(0, 2 * np.pi, onsite.shape)
        truth["theta"] = theta
    elif kind == "curve":
        shape = table.get("shape")
        if shape not in CURVES:
            raise ValueError(f"target.shape: expected one of {sorted(CURVES)}, got {shape!r}")
        flux_axis = np.atleast_1d(flux)
        u = (flux_axis - flux_axis[0]) / max(flux_axis[-1] - flux_axis[0], 1e-300)
        return CURVES[shape](u), truth
    else:
        raise ValueError("target.kind: expected 'gaussian_defect', 'random_potential', 'random_magnetisation' or "
                         f"'curve' (or give target.file), got {kind!r}")
    truth["onsite"] = onsite
    return np.asarray(conductance(wire, onsite, flux, energy, theta)), truth


def _loaded_target(path: str) -> tuple[np.ndarray, Optional[np.ndarray]]:
    if path.endswith(".npz"):
        with np.load(path) as archive:
            if "conductance" not in archive:
                raise ValueError(f"target.file: {path} has no array named 'conductance'")
            return archive["conductance"], archive["weights"] if "weights" in archive else None
    values = np.loadtxt(path, delimiter=",", ndmin=1)
    return values, None


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
    unknown = set(table) - RUN_KEYS
    if unknown:
        raise ValueError(f"run: unknown key(s) {sorted(unknown)}; expected some of {sorted(RUN_KEYS)}")
    steps = _require(table, "run.steps", (int,))
    if steps < 1:
        raise ValueError(f"run.steps: expected a positive integer, got {steps}")
    driver = {key: table[key] for key in RUN_KEYS - {"steps", "seed", "output", "initial"} if key in table}
    if "initial" in table:
        driver["initial_params"] = _initial_params(table["initial"])
    return steps, int(table.get("seed", 0)), driver, str(table.get("output", "design_result.npz"))


def _initial_params(path: str) -> np.ndarray:
    """The best parameters of an earlier run's results archive (array-valued parametrisations)."""
    from ..io import load_design_result

    try:
        arrays, _ = load_design_result(path)
    except OSError as error:
        raise ValueError(f"run.initial: cannot read {path!r} ({error}); run the earlier stage first") from None
    if "params/value" not in arrays:
        raise ValueError(f"run.initial: {path} holds structured parameters; only per-site maps can seed a run")
    return arrays["params/value"]


def _optimizer(table: dict) -> Optimizer:
    try:
        return Optimizer(**table)
    except TypeError as error:
        raise ValueError(f"optimizer: {error}") from None
    except ValueError as error:
        raise ValueError(str(error)) from None


def load_config(path: str) -> RunConfig:
    """Read and validate a design config; synthesise the target if asked. Raises ValueError naming the field."""
    with open(path, "rb") as handle:
        text_bytes = handle.read()
    try:
        config = tomllib.loads(text_bytes.decode())
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML ({error})") from None
    steps, seed, driver, output = _run_table(config.get("run", {}))
    optimizer = _optimizer(config.get("optimizer", {}))
    rng = np.random.default_rng(seed)
    if "fourier" in config:
        return _fourier_config(config["fourier"], optimizer, steps, seed, driver, output, rng, text_bytes.decode())
    for section in ("wire", "grid", "target", "params"):
        if section not in config:
            raise ValueError(f"{section}: missing table [{section}]")
    wire = _wire(config["wire"])
    flux = _axis(config["grid"].get("flux", 0.0), "grid.flux")
    energy = _axis(config["grid"].get("energy", 0.0), "grid.energy")
    target_table = config["target"]
    truth: dict = {}
    weights = None
    if "file" in target_table:
        values, weights = _loaded_target(target_table["file"])
    else:
        values, truth = _synthetic_target(wire, target_table, flux, energy, rng)
    noise = float(target_table.get("noise", 0.0))
    if noise:
        values = values + rng.uniform(-noise, noise, np.shape(values))
    loss_table = config.get("loss", {})
    try:
        loss = Loss(**loss_table)
    except TypeError as error:
        raise ValueError(f"loss: {error}") from None
    parametrisation = parametrisation_from_config(wire, config["params"])
    try:
        objective, data = TransportObjective.create(wire, values, flux, energy, parametrisation, loss, weights=weights)
    except ValueError as error:
        raise ValueError(f"target.values: {error}") from None
    return RunConfig(objective, data, optimizer, steps, seed, driver, output, truth, np.asarray(values),
                     text_bytes.decode())


def _fourier_config(table: dict, optimizer, steps, seed, driver, output, rng, text) -> RunConfig:
    """Seed 004 sec. V: a triangular lattice displaced by ``displacement``, fitted from ``init_displacement``."""
    reference, box = triangular_lattice(int(table.get("columns", 20)), int(table.get("rows", 23)),
                                        float(table.get("spacing", 2.0)))
    sigma, pixels = float(table.get("sigma", 0.3)), int(table.get("pixels", 128))
    true_positions = (reference + rng.normal(0, float(table.get("displacement", 0.25)), reference.shape)) % box
    target = np.asarray(fourier_image(true_positions, box, sigma, pixels))
    objective, data = FourierObjective.create(target, reference, box, sigma=sigma, pixels=pixels,
                                              init_displacement=float(table.get("init_displacement", 0.1)))
    return RunConfig(objective, data, optimizer, steps, seed, driver, output, dict(positions=true_positions), target,
                     text)
