"""What a design run minimises: a static, hashable objective plus the arrays it compares against.

An objective has ``init(key)`` (initial parameters), ``evaluate(params, data) -> (loss, (parts, outputs))``
(pure, differentiable in ``params``; ``data`` is a pytree of arrays passed to the compiled step as an argument
so that a new target or grid never recompiles), and ``describe()`` (a JSON-able record). ``outputs`` are the
arrays a live display shows (onsite map, current conductance, ...).

:class:`TransportObjective` fits conductance data; :class:`~magwidgets.design.fourier.FourierObjective` fits a
Fourier image. :func:`cost_landscape` maps any objective over a grid of two parameters (seed 004 Fig. 4).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ..core import Wire, grid_conductance, sweep_grid
from ..core.observables import check_solver
from ..core.sharding import batch_mesh
from .losses import Loss, Target


@dataclass(frozen=True)
class TransportObjective:
    """Fit the conductance of ``wire`` on a (flux, energy) grid to a target, through a parametrisation.

    Build it with :meth:`create`, which validates the grid and target and returns ``(objective, data)``.
    """

    wire: Wire
    parametrisation: Any
    loss: Loss
    shape: tuple
    solver: str = "transfer"
    precision: str = "double"
    mesh: Optional[jax.sharding.Mesh] = None
    """Devices the grid's points are split over in :meth:`evaluate` (see :meth:`split_points`); None: one."""

    @classmethod
    def create(cls, wire: Wire, target, flux, energy, parametrisation, loss: Loss = Loss(), *,
               weights=None, smoothing=None, solver: str = "transfer",
               precision: str = "double") -> tuple["TransportObjective", dict]:
        """Validate the grid and target and return ``(objective, data)``.

        ``smoothing = (w_flux, w_energy)`` (Gaussian widths in grid steps, see :func:`smoothing_matrix`) compares
        the smoothed model map S G with the smoothed target S G_targ instead of the maps themselves.
        """
        check_solver(solver, precision)
        grid, shape = sweep_grid(wire, flux, energy)
        target = target if isinstance(target, Target) else Target(target, weights)
        target = target.checked(shape)
        if smoothing is not None and target.weights is not None:
            raise ValueError("smoothing and weights cannot be combined: a smoothed point mixes masked neighbours")
        flat_weights = None if target.weights is None else jnp.asarray(target.weights.reshape(-1))
        data = dict(grid=grid, target=jnp.asarray(target.values.reshape(-1)), weights=flat_weights,
                    smoothing=None if smoothing is None else jnp.asarray(smoothing_matrix(shape, smoothing)),
                    flux=np.atleast_1d(np.asarray(flux, float)), energy=np.atleast_1d(np.asarray(energy, float)))
        return cls(wire, parametrisation, loss, shape, solver, precision), data

    def init(self, key):
        return self.parametrisation.init(key)

    def fields(self, params) -> tuple[jnp.ndarray, Optional[jnp.ndarray]]:
        return self.parametrisation.fields(params)

    def split_points(self, devices: str = "auto") -> "TransportObjective":
        """This objective with its grid's points split over every device (``devices`` as in
        :func:`~magwidgets.core.sharding.batch_mesh`); itself where there is one device or one point.

        The design driver asks for it when it runs a single start, whose cost is then computed on all devices at
        once (several starts are split over the devices instead).
        """
        mesh = batch_mesh(int(np.prod(self.shape, dtype=int)), devices)
        return self if mesh == self.mesh else replace(self, mesh=mesh)

    def evaluate(self, params, data) -> tuple[jnp.ndarray, tuple[dict, dict]]:
        onsite, theta = self.fields(params)
        conductance = grid_conductance(self.wire, onsite, theta, data["grid"], solver=self.solver,
                                       precision=self.precision, mesh=self.mesh)
        return self._cost(onsite, theta, conductance, data)

    def _cost(self, onsite, theta, conductance, data) -> tuple[jnp.ndarray, tuple[dict, dict]]:
        compared, target = _smoothed(data, conductance), _smoothed(data, data["target"])
        total, parts = self.loss(compared, target, data["weights"], onsite)
        outputs = dict(onsite=onsite, conductance=conductance.reshape(self.shape))
        if theta is not None:
            outputs["theta"] = theta
        return total, (parts, outputs)

    def gauss_newton(self, params, data) -> tuple[tuple[jnp.ndarray, tuple[dict, dict]], tuple]:
        """Cost and Gauss-Newton terms ``(J^T J, J^T r)`` in the flattened parameters (smoothness must be 0).

        Residuals r_i = s_i (G_i - G_targ,i) with s_i = sqrt(w_i / sum w) for MSE and sqrt(w_i) for log-RMS, so
        that the cost is sum r^2 (MSE) or log sqrt(sum r^2) (log-RMS). G_i depends on the parameters only through
        grid point i, so the Jacobian is one vmapped point-wise gradient: about the cost of a single gradient.
        """
        flat, unravel = ravel_pytree(params)
        weights = data["weights"] if data["weights"] is not None else jnp.ones_like(data["target"])
        scale = jnp.sqrt(weights / jnp.sum(weights)) if self.loss.kind == "mse" else jnp.sqrt(weights)

        def point_conductance(flat_params, point_grid):
            onsite, theta = self.fields(unravel(flat_params))
            return grid_conductance(self.wire, onsite, theta, point_grid, solver=self.solver,
                                    precision=self.precision)[0]

        point_grids = jax.tree_util.tree_map(lambda leaf: leaf[:, None], data["grid"])
        conductance, jacobian = jax.vmap(jax.value_and_grad(point_conductance), in_axes=(None, 0))(flat, point_grids)
        residuals = scale * _smoothed(data, conductance - data["target"])
        jacobian = scale[:, None] * _smoothed(data, jacobian)
        onsite, theta = self.fields(params)
        return self._cost(onsite, theta, conductance, data), (jacobian.T @ jacobian, jacobian.T @ residuals)

    def describe(self) -> dict:
        wire = {name: getattr(self.wire, name) for name in
                ("length", "width", "hopping", "lead", "lead_onsite", "lead_k", "spin", "exchange")}
        return dict(kind="transport", wire=wire, params=self.parametrisation.describe(),
                    loss=dict(kind=self.loss.kind, smoothness=self.loss.smoothness), shape=list(self.shape),
                    solver=self.solver, precision=self.precision)


def smoothing_matrix(shape: tuple, widths) -> np.ndarray:
    """The linear map S that smooths a G map over its grid: a row-normalised Gaussian along each axis.

    (S G)_(i, j) = sum_(k, l) K^flux_(i, k) K^energy_(j, l) G_(k, l),  K_(i, k) ~ exp(-(i - k)^2 / (2 w^2)),
    each row of K summing to 1 (a width of 0 leaves that axis alone). Fitting S G(v) to S G_targ is the
    low-resolution version of seed 004's problem: S averages out the universal conductance fluctuations whose
    fine structure makes the cost rugged far from the truth, as low frequencies do in multiscale seismic
    inversion; narrowing the widths to 0 returns the original cost (eq. 1).

    Parameters
    ----------
    shape : tuple
        The grid's G shape, ``(n_flux, n_energy)`` or one axis.
    widths : float or sequence of float
        Gaussian widths in grid steps, one per axis (or one for all), each >= 0.

    Returns
    -------
    (N, N) array with N = prod(shape), acting on the flattened (row-major) map.
    """
    widths = np.broadcast_to(np.asarray(widths, dtype=float), (len(shape),))
    if not np.all(np.isfinite(widths)) or np.any(widths < 0):
        raise ValueError(f"smoothing widths must be finite and >= 0, got {widths.tolist()}")
    matrix = np.ones((1, 1))
    for n, width in zip(shape, widths):
        index = np.arange(n)
        kernel = np.eye(n) if width == 0 else np.exp(-(index[:, None] - index[None, :]) ** 2 / (2 * width ** 2))
        matrix = np.kron(matrix, kernel / kernel.sum(axis=1, keepdims=True))
    return matrix


def _smoothed(data, values):
    """S values for a flat map (or a Jacobian with the map's points on the first axis); values if no smoothing."""
    smoothing = data.get("smoothing")
    return values if smoothing is None else smoothing @ values


def cost_landscape(objective, data, params, path_a, path_b, values_a, values_b) -> np.ndarray:
    """The cost over a grid of two chosen parameters, all others held at ``params`` (seed 004 Fig. 4).

    Parameters
    ----------
    objective, data
        As returned by e.g. :meth:`TransportObjective.create`.
    params : pytree
        The point around which to scan (typically the true or the optimised parameters).
    path_a, path_b : tuple
        Index into the parameter array: ``(x, y)`` for a site map, or ``("amplitude", k)`` for a dict entry.
    values_a, values_b : 1-D arrays
        The values taken by the two parameters.

    Returns
    -------
    (len(values_a), len(values_b)) array of the cost, evaluated as one vmapped batch per row.
    """
    def set_value(tree, path, value):
        if isinstance(tree, dict):
            return {**tree, path[0]: set_value(tree[path[0]], path[1:], value)}
        return tree.at[tuple(path)].set(value)

    def cost(a, b, data):
        return objective.evaluate(set_value(set_value(params, path_a, a), path_b, b), data)[0]

    row = jax.jit(jax.vmap(cost, in_axes=(None, 0, None)))
    values_b = jnp.asarray(values_b, dtype=jnp.float64)
    return np.stack([np.asarray(row(a, values_b, data)) for a in np.asarray(values_a, dtype=float)])
