"""Reverse modelling of a disordered lattice from its Fourier image (seed 004 sec. V).

Atoms at (X_i, Y_i) in a periodic box of side ``box`` give the density on an M x M grid (eq. 16)

    r(x, y) = sum_i exp(-[(x - X_i)^2 + (y - Y_i)^2] / (2 sigma^2)),

whose image is q = |fft2(r)| / (M/2)^2 and, compressing extreme values, s = L ln(q + 1) (eq. 17). The cost is
the MSE between s and the target image (eq. 1). The image does not fix the atoms uniquely (it loses the phases),
so the fit yields *a* configuration with the same structure; :func:`pair_distribution` compares structures.

Distances use the minimum-image convention, so the density and the FFT are consistently periodic.
"""
from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from .losses import mse


def triangular_lattice(columns: int = 20, rows: int = 23, spacing: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Sites of a triangular lattice in a periodic box, and that box's (x, y) sides.

    Odd rows are shifted by half a spacing. With an even number of rows the lattice tiles the box; with an odd
    number, the last and the first row are both unshifted and sqrt(3)a apart across the periodic seam (a stacking
    fault that streaks the Bragg spots along k_y). The defaults give seed 004's 460 atoms in ~40a x 40a (spacing
    2a, 20 x 23, 40a x 39.8a), fault included: 460 atoms cannot fill ~40a x 40a with an even number of rows.
    """
    row_height = spacing * np.sqrt(3) / 2
    x = np.arange(columns)[None, :] * spacing + (np.arange(rows)[:, None] % 2) * spacing / 2
    y = np.broadcast_to(np.arange(rows)[:, None] * row_height, x.shape)
    return np.stack([x.ravel(), y.ravel()], axis=-1), np.array([columns * spacing, rows * row_height])


def density(positions, box, sigma: float, pixels: int) -> jnp.ndarray:
    """Seed 004 eq. 16 on an M x M grid over the periodic box: (M, M) array indexed [x, y]."""
    grid_x = jnp.arange(pixels) * (box[0] / pixels)
    grid_y = jnp.arange(pixels) * (box[1] / pixels)

    def wrapped(delta, side):
        return delta - side * jnp.round(delta / side)

    dx = wrapped(grid_x[:, None] - positions[None, :, 0], box[0])  # (M, N)
    dy = wrapped(grid_y[:, None] - positions[None, :, 1], box[1])
    # exp(-(dx^2 + dy^2)/2 s^2) factorises, so the sum over atoms is one (M, N) x (N, M) product.
    along_x = jnp.exp(-dx**2 / (2 * sigma**2))
    along_y = jnp.exp(-dy**2 / (2 * sigma**2))
    return along_x @ along_y.T


def fourier_image(positions, box, sigma: float, pixels: int) -> jnp.ndarray:
    """Seed 004 eq. 17: s = L ln(q + 1), q = |fft2(r)| / (M/2)^2, with L the box side."""
    q = jnp.abs(jnp.fft.fft2(density(positions, box, sigma, pixels))) / (pixels / 2) ** 2
    return box[0] * jnp.log(q + 1)


@dataclass(frozen=True)
class FourierObjective:
    """Fit atom positions (N, 2) so that their Fourier image matches a target image (seed 004 sec. V).

    The initial guess is the reference lattice displaced by Gaussian noise of width ``init_displacement``
    ("slightly displaced triangular lattices with the same number of atoms", seed 004 Fig. 5(b)).
    """

    n_atoms: int
    box: tuple
    sigma: float = 0.3
    pixels: int = 128
    init_displacement: float = 0.1
    reference: tuple = ()

    @classmethod
    def create(cls, target_image, reference_positions, box, *, sigma: float = 0.3, pixels: int = 128,
               init_displacement: float = 0.1) -> tuple["FourierObjective", dict]:
        target_image = np.asarray(target_image, dtype=float)
        if target_image.shape != (pixels, pixels):
            raise ValueError(f"target image has shape {target_image.shape}, expected (pixels, pixels) = "
                             f"({pixels}, {pixels})")
        if not np.all(np.isfinite(target_image)):
            raise ValueError("target image contains NaN or inf")
        reference_positions = np.asarray(reference_positions, dtype=float)
        if reference_positions.ndim != 2 or reference_positions.shape[1] != 2:
            raise ValueError(f"reference positions must have shape (n_atoms, 2), got {reference_positions.shape}")
        objective = cls(len(reference_positions), tuple(float(b) for b in box), sigma, pixels, init_displacement,
                        tuple(map(tuple, reference_positions)))
        return objective, dict(target=jnp.asarray(target_image))

    def init(self, key) -> jnp.ndarray:
        reference = jnp.asarray(self.reference)
        return reference + self.init_displacement * jax.random.normal(key, reference.shape, dtype=jnp.float64)

    def evaluate(self, positions, data) -> tuple[jnp.ndarray, tuple[dict, dict]]:
        image = fourier_image(positions, jnp.asarray(self.box), self.sigma, self.pixels)
        cost = mse(image, data["target"])
        return cost, (dict(image=cost), dict(positions=positions, image=image))

    def describe(self) -> dict:
        return dict(kind="fourier", n_atoms=self.n_atoms, box=list(self.box), sigma=self.sigma, pixels=self.pixels,
                    init_displacement=self.init_displacement)


def pair_distribution(positions, box, r_max: float = 6.0, bins: int = 240) -> tuple[np.ndarray, np.ndarray]:
    """Radial pair distribution g(r) with minimum-image distances: (bin centres, g)."""
    positions = np.asarray(positions, dtype=float)
    box = np.asarray(box, dtype=float)
    delta = positions[:, None, :] - positions[None, :, :]
    delta -= box * np.round(delta / box)
    distance = np.sqrt(np.sum(delta**2, axis=-1))[np.triu_indices(len(positions), k=1)]
    counts, edges = np.histogram(distance, bins=bins, range=(0.0, r_max))
    centres = 0.5 * (edges[1:] + edges[:-1])
    shell = np.pi * (edges[1:] ** 2 - edges[:-1] ** 2)
    density_ = len(positions) / np.prod(box)
    return centres, counts / (shell * density_ * len(positions) / 2)


def first_peak(positions, box, r_max: float = 3.0, bins: int = 300, smoothing: float = 0.05) -> float:
    """Position of the first maximum of g(r), from a Gaussian-smoothed histogram (width ``smoothing``)."""
    centres, g = pair_distribution(positions, box, r_max, bins)
    kernel = np.exp(-0.5 * ((centres[:, None] - centres[None, :]) / smoothing) ** 2)
    smooth = kernel @ g / kernel.sum(axis=1)
    return float(centres[np.argmax(smooth)])
