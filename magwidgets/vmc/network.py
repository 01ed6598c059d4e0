"""A FermiNet-style neural wavefunction (seed 003): permutation-equivariant streams inside determinants.

For electrons r_1..r_N (up block first) and nuclei R_I with charges Z_I:

- inputs: per electron the vectors r_i - R_I and their lengths; per pair the vectors r_i - r_j and their lengths
  (the diagonal length is computed as |r_ii + 1| (1 - delta) so its gradient stays finite);
- each layer updates the one-electron stream h_i from [h_i, mean_up h_j, mean_down h_j, mean_up h_ij,
  mean_down h_ij] and the two-electron stream h_ij from itself, tanh activations, residual connections where the
  widths match; an empty spin channel contributes nothing;
- orbitals phi^d_k(r_i; {r}) = (w^d_k . h_i + b^d_k) sum_I pi^d_kI exp(-sigma^d_kI |r_i - R_I|), one linear map
  per spin, dense N x N determinants, psi = J * sum_d det[phi^d_k(r_i)];
- J = exp(sum_{i<j} c_ij r_ij / (1 + beta r_ij)) with c = 1/2 for opposite and 1/4 for equal spins fixes the
  electron-electron cusps exactly, so the local energy stays finite where two electrons meet.

:func:`log_psi` returns (sign, log|psi|), combining determinants with a max-shifted sum so that one singular
determinant does not make the whole wavefunction NaN.
"""
from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..core.linalg import slogdet
from .systems import System


@dataclass(frozen=True)
class Network:
    """Hyperparameters: widths of the (one-electron, two-electron) streams per layer and the number of determinants.

    The default is the small network measured to reach H, He and H2 within 0.1 mHa on a 2-core CPU
    (2 layers of (32, 8), 4 dense determinants, 1024 walkers; FermiNet's own default, 4 layers of (256, 32) and
    16 determinants, is sized for GPUs).
    """

    layers: tuple[tuple[int, int], ...] = ((32, 8), (32, 8))
    determinants: int = 4


def _dense(key, fan_in: int, fan_out: int) -> dict:
    return dict(w=jax.random.normal(key, (fan_in, fan_out)) / np.sqrt(fan_in), b=jnp.zeros(fan_out))


def _channels(system: System) -> int:
    return 1 + (system.n_down > 0)  # spin channels with electrons


def init_params(key, system: System, network: Network = Network()) -> dict:
    """Random parameters: weights N(0, 1)/sqrt(fan_in), envelopes pi = sigma = 1, Jastrow beta = 1."""
    n_atoms, n_electrons, channels = len(system.charges), system.n_electrons, _channels(system)
    one, two = 4 * n_atoms, 4
    keys = iter(jax.random.split(key, 2 * len(network.layers) + 4))
    layers = []
    for width_one, width_two in network.layers:
        layers.append(dict(one=_dense(next(keys), one * (1 + channels) + two * channels, width_one),
                           two=_dense(next(keys), two, width_two)))
        one, two = width_one, width_two
    orbitals_per_spin = network.determinants * n_electrons
    orbitals = [_dense(next(keys), one, orbitals_per_spin) for _ in range(channels)]
    for orbital in orbitals:  # orbital biases start at 1 so the envelopes alone already give a sensible start
        orbital["b"] = jnp.ones(orbitals_per_spin)
    envelopes = [dict(pi=jnp.ones((n_atoms, orbitals_per_spin)), sigma=jnp.ones((n_atoms, orbitals_per_spin)))
                 for _ in range(channels)]
    return dict(layers=layers, orbitals=orbitals, envelopes=envelopes, jastrow=jnp.zeros(()))


def _features(system: System, electrons):
    positions = jnp.asarray(system.positions)
    n = electrons.shape[0]
    to_nuclei = electrons[:, None, :] - positions[None, :, :]                       # (N, M, 3)
    nucleus_distance = jnp.linalg.norm(to_nuclei, axis=-1, keepdims=True)           # (N, M, 1)
    one = jnp.concatenate([to_nuclei, nucleus_distance], axis=-1).reshape(n, -1)    # (N, 4M)
    between = electrons[:, None, :] - electrons[None, :, :]                         # (N, N, 3)
    eye = jnp.eye(n)[..., None]
    pair_distance = jnp.linalg.norm(between + eye, axis=-1, keepdims=True) * (1.0 - eye)
    two = jnp.concatenate([between, pair_distance], axis=-1)                        # (N, N, 4)
    return one, two, nucleus_distance[..., 0], pair_distance[..., 0]


def _spin_means(system: System, stream):
    """Means over the up and over the down electrons along axis 0 (empty channels dropped)."""
    blocks = [stream[:system.n_up]] + ([stream[system.n_up:]] if system.n_down else [])
    return [jnp.mean(block, axis=0) for block in blocks]


def _jastrow(system: System, params, pair_distance):
    n = system.n_electrons
    spin = np.array([0] * system.n_up + [1] * system.n_down)
    same = spin[:, None] == spin[None, :]
    cusp = np.where(same, 0.25, 0.5) * np.triu(np.ones((n, n)), 1)                # i < j only
    beta = jax.nn.softplus(params["jastrow"]) + 0.5                                   # > 0.5: no pole at r > 0
    return jnp.sum(cusp * pair_distance / (1.0 + beta * pair_distance))


def orbital_matrices(params: dict, system: System, electrons) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The determinants' orbital matrices phi^d_k(r_i), shape (D, N electrons, N orbitals), and the pair distances.

    Rows are electrons (up block first); each determinant is dense: every orbital is evaluated for every electron,
    so the up-down blocks are free (FermiNet's ``full_det``).
    """
    electrons = jnp.reshape(electrons, (system.n_electrons, 3))
    one, two, nucleus_distance, pair_distance = _features(system, electrons)
    for layer in params["layers"]:
        mixed = jnp.concatenate([one, *[jnp.broadcast_to(mean, one.shape[:1] + mean.shape) for mean in _spin_means(system, one)],
                                 *_spin_means(system, jnp.swapaxes(two, 0, 1))], axis=-1)
        new_one = jnp.tanh(mixed @ layer["one"]["w"] + layer["one"]["b"])
        new_two = jnp.tanh(two @ layer["two"]["w"] + layer["two"]["b"])
        one = (one + new_one) / np.sqrt(2) if new_one.shape == one.shape else new_one
        two = (two + new_two) / np.sqrt(2) if new_two.shape == two.shape else new_two
    n = system.n_electrons
    n_det = params["orbitals"][0]["b"].shape[0] // n
    rows = []
    for channel, block in enumerate([slice(0, system.n_up), slice(system.n_up, n)][:_channels(system)]):
        linear = one[block] @ params["orbitals"][channel]["w"] + params["orbitals"][channel]["b"]   # (n_s, D N)
        envelope = params["envelopes"][channel]
        decay = jnp.exp(-jnp.abs(envelope["sigma"])[None] * nucleus_distance[block][..., None])     # (n_s, M, D N)
        rows.append(linear * jnp.sum(envelope["pi"][None] * decay, axis=1))
    return jnp.concatenate(rows, axis=0).reshape(n, n_det, n).transpose(1, 0, 2), pair_distance


def log_psi(params: dict, system: System, electrons) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(sign, log|psi|) at one configuration ``electrons`` of shape (N, 3) (or (3N,)), up electrons first."""
    orbitals, pair_distance = orbital_matrices(params, system, electrons)
    if system.n_electrons == 1:  # 1 x 1: no slogdet (its gradient is NaN at 0, ferminet issue 22)
        value = orbitals[:, 0, 0]
        signs, logs = jnp.sign(value), jnp.log(jnp.abs(value))
    else:
        signs, logs = slogdet(orbitals)
    shift = jax.lax.stop_gradient(jnp.max(logs))
    total = jnp.sum(signs * jnp.exp(logs - shift))
    return jnp.sign(total), shift + jnp.log(jnp.abs(total)) + _jastrow(system, params, pair_distance)
