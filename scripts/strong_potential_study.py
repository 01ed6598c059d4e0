"""Coarse-to-fine reconstruction of strong 12 x 12 potentials (seed 004 Fig. 2 at v uniform in [-1, 1]).

Each sample is a potential uniform in [-amplitude, amplitude] with the notch v[0, 0] = -1, drawn from
``numpy.random.default_rng(seed)``; its G(flux, E) on seed 004's grid (31 fluxes in [0, 0.15] x 21 energies in
[-1, 1]) is the target. Levenberg-Marquardt starts uniform in the same range first fit the Gaussian-smoothed map
S G (``mw.design.fit(..., smoothing=w)``, see ``magwidgets.design.objectives.smoothing_matrix``), then narrower
smoothings, then the map itself, each stage starting from the previous stage's points.

    python scripts/strong_potential_study.py --seeds 2401 2402 2403 2404 2405      # the held-out samples

(``--plain``: the same number of steps on the map alone) prints, per sample, the cost after every stage, the largest site error of the best start and the wall time.
``--spectrum`` prints the singular values of the Jacobian dG/dV at the truth, split into the mirror-symmetric and
mirror-antisymmetric combinations of each group of four mirror-image sites, and at V = 0.
``--learn N`` asks whether a learned first guess could help: it draws N training samples (64 per chunk from
``numpy.random.default_rng([24, chunk])``, cached as .npz files with ``--cache DIR``), holds 1000 out, and fits two
maps from a G map to the potential: a ridge regression of the mirror-symmetric part (the part all four mirror
images share) and a three-layer MLP (optax AdamW) scored against the nearest mirror image. It prints their errors
next to the error of guessing zero.
``--basin`` measures how far from the truth a start may be and still reach it (truth plus growing noise), and the
cost along the straight segment from a stalled random start to the truth; with ``--magnetisation``, the reach of the
basin of seed 004's magnetisation with angles over the whole circle.
``--profile`` prints the cost against the rms distance from the truth (along paths towards unrelated samples that
keep the disorder's strength), next to the cost of those samples. ``--fluxes MAX N`` and ``--energies MAX N``
change the data grid of ``--basin`` and ``--profile`` (more data than seed 004's).
``--homotopy K`` instead follows each start's own path from the data it fits exactly to the target: K stages fit
(1 - lambda) G(start) + lambda G(truth) for lambda = 1/K .. 1, then 60 steps on the map.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import magwidgets as mw
from magwidgets.design import MagnetisationAngles, SitePotential, fit

FLUX, ENERGY = np.linspace(0, 0.15, 31), np.linspace(-1, 1, 21)   # seed 004's grid
STAGES = ((3, 3), (2, 2), (1, 1), (0.5, 0.5), None)               # smoothing widths in grid steps; None: the map


def sample(seed: int, amplitude: float, size: int = 12) -> np.ndarray:
    truth = np.random.default_rng(seed).uniform(-amplitude, amplitude, (size, size))
    truth[0, 0] = -1.0
    return truth


def reconstruct(truth: np.ndarray, amplitude: float, n_starts: int, steps: int, stages=STAGES) -> dict:
    wire = mw.Wire(*truth.shape, lead="ideal")
    target = mw.conductance(wire, truth, FLUX, ENERGY)
    model = SitePotential(wire, fixed={(0, 0): -1.0}, init_range=(-amplitude, amplitude))
    params, costs, start = None, [], time.perf_counter()
    for widths in stages:
        result = fit(wire, target, FLUX, ENERGY, params=model, loss="mse", optimizer="levenberg_marquardt",
                     steps=steps, seed=0, n_starts=n_starts, initial_params=params, smoothing=widths,
                     tolerance=1e-24)
        params = result.family
        costs.append(result.loss)
    errors = np.abs(result.family - truth[None]).reshape(n_starts, -1).max(axis=1)
    return dict(costs=costs, error=float(errors.min()), wall=time.perf_counter() - start)


def mirror_combinations(length: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal site patterns, (L W, n) each: per group of four mirror-image sites (x, y), (L-1-x, y),
    (x, W-1-y), (L-1-x, W-1-y), the symmetric sum and the three sign patterns that cancel under a mirror."""
    symmetric, antisymmetric = [], []
    for x in range(length // 2):
        for y in range(width // 2):
            sites = [(x, y), (length - 1 - x, y), (x, width - 1 - y), (length - 1 - x, width - 1 - y)]
            for signs in ((1, 1, 1, 1), (1, -1, 1, -1), (1, 1, -1, -1), (1, -1, -1, 1)):
                pattern = np.zeros((length, width))
                for site, sign in zip(sites, signs):
                    pattern[site] = sign / 2
                (symmetric if signs == (1, 1, 1, 1) else antisymmetric).append(pattern.ravel())
    return np.array(symmetric).T, np.array(antisymmetric).T


def spectrum(truth: np.ndarray) -> None:
    """Singular values of dG/dV (the Gauss-Newton matrix's square roots) at the truth and at V = 0."""
    import jax
    import jax.numpy as jnp

    wire = mw.Wire(*truth.shape, lead="ideal")
    symmetric, antisymmetric = mirror_combinations(*truth.shape)

    def jacobian(potential):
        return np.asarray(jax.jacrev(lambda v: mw.conductance(wire, v.reshape(truth.shape), FLUX, ENERGY).ravel())(
            jnp.asarray(potential.ravel())))

    for label, potential in (("truth", truth), ("V = 0", np.zeros_like(truth))):
        values = jacobian(potential)
        whole = np.linalg.svd(values, compute_uv=False)
        even = np.linalg.svd(values @ symmetric, compute_uv=False)
        odd = np.linalg.svd(values @ antisymmetric, compute_uv=False)
        print(f"  at {label}: all sites {whole[-1]:.3g} .. {whole[0]:.3g}; mirror-symmetric {even[-1]:.3g} .. "
              f"{even[0]:.3g}; mirror-antisymmetric {odd[-1]:.3g} .. {odd[0]:.3g}", flush=True)


def homotopy(truth: np.ndarray, amplitude: float, n_starts: int, steps: int, n_stages: int) -> dict:
    """Target homotopy: each start fits a blend of its own G and the target's, the blend moved to the target."""
    wire = mw.Wire(*truth.shape, lead="ideal")
    target = np.asarray(mw.conductance(wire, truth, FLUX, ENERGY))
    model = SitePotential(wire, fixed={(0, 0): -1.0}, init_range=(-amplitude, amplitude))
    starts = np.random.default_rng(0).uniform(-amplitude, amplitude, (n_starts,) + truth.shape)
    starts[:, 0, 0] = -1.0
    costs, errors, start = [], [], time.perf_counter()
    for params in starts:
        own = np.asarray(mw.conductance(wire, params, FLUX, ENERGY))
        path = []
        for blend in np.linspace(0, 1, n_stages + 1)[1:]:
            result = fit(wire, (1 - blend) * own + blend * target, FLUX, ENERGY, params=model, loss="mse",
                         optimizer="levenberg_marquardt", steps=steps, seed=0, initial_params=params,
                         tolerance=1e-24)
            params = result.params
            path.append(result.loss)
        result = fit(wire, target, FLUX, ENERGY, params=model, loss="mse", optimizer="levenberg_marquardt",
                     steps=60, seed=0, initial_params=params, tolerance=1e-24)
        costs.append(path + [result.loss])
        errors.append(float(np.abs(result.params - truth).max()))
    best = int(np.argmin([path[-1] for path in costs]))
    return dict(costs=costs[best], error=min(errors), wall=time.perf_counter() - start)


def starts_near_truth(wire, target, model, truth: np.ndarray, pinned: dict, distances, n_starts: int, steps: int,
                      errors_of, unit: str = "") -> None:
    """For each distance d: ``n_starts`` Levenberg-Marquardt runs from the truth plus noise uniform in [-d, d] per
    free site (``pinned`` sites kept); prints how many reach the truth (``errors_of(family)`` below 1e-2)."""
    noise = np.random.default_rng(7)
    for distance in distances:
        starts = truth[None] + noise.uniform(-distance, distance, (n_starts,) + truth.shape)
        for site, value in pinned.items():
            starts[(slice(None),) + site] = value
        start = time.perf_counter()
        result = fit(wire, target, FLUX, ENERGY, params=model, loss="mse", optimizer="levenberg_marquardt",
                     steps=steps, seed=0, n_starts=n_starts, initial_params=starts, tolerance=1e-24)
        errors = errors_of(np.asarray(result.family))
        print(f"  truth + noise in +-{distance:.2f}{unit} (rms {distance / np.sqrt(3):.2f}): {np.sum(errors < 1e-2)} "
              f"of {n_starts} found; largest errors {np.array2string(errors, precision=2)}; "
              f"{time.perf_counter() - start:.0f} s", flush=True)


def basin(truth: np.ndarray, amplitude: float, n_starts: int, steps: int,
          distances=(0.3, 0.45, 0.6, 0.75, 0.9, 1.2)) -> None:
    """How far from the truth Levenberg-Marquardt still finds it, and what lies between a stalled start and it.

    For each distance d, ``n_starts`` starts are the truth plus noise uniform in [-d, d] per free site (a random
    start in the sample's own range is d = 2 amplitude away at most, with rms 0.82 amplitude); it prints how many
    reach the truth. Then it takes the lowest stalled start from random starts and prints the cost along the
    straight segment from it to the truth, (1 - s) V_stalled + s V_truth: a barrier on the way shows that the
    stalled minimum is separated from the truth's basin, not merely slow to leave.
    """
    import jax
    import jax.numpy as jnp

    wire = mw.Wire(*truth.shape, lead="ideal")
    target = np.asarray(mw.conductance(wire, truth, FLUX, ENERGY))
    model = SitePotential(wire, fixed={(0, 0): -1.0}, init_range=(-amplitude, amplitude))

    def site_errors(family: np.ndarray) -> np.ndarray:
        return np.abs(family - truth[None]).reshape(len(family), -1).max(axis=1)

    starts_near_truth(wire, target, model, truth, {(0, 0): -1.0}, distances, n_starts, steps, site_errors)
    result = fit(wire, target, FLUX, ENERGY, params=model, loss="mse", optimizer="levenberg_marquardt",
                 steps=steps, seed=0, n_starts=n_starts, tolerance=1e-24)
    errors = site_errors(np.asarray(result.family))
    print(f"  random starts in [-{amplitude:g}, {amplitude:g}]: {np.sum(errors < 1e-2)} of {n_starts} found; largest "
          f"errors {np.array2string(errors, precision=2)}", flush=True)
    stalled = result.params
    forward = jax.jit(jax.vmap(lambda v: mw.conductance(wire, v, FLUX, ENERGY)))
    positions = np.linspace(0.0, 1.0, 41)
    path = (1 - positions)[:, None, None] * stalled[None] + positions[:, None, None] * truth[None]
    costs = np.mean((np.asarray(forward(jnp.asarray(path))) - target[None]) ** 2, axis=(1, 2))
    top = int(np.argmax(costs))
    print(f"  stalled start (cost {costs[0]:.2e}, rms site distance {np.sqrt(np.mean((stalled - truth) ** 2)):.2f})"
          f" to the truth: the cost peaks at {costs[top]:.2e} at s = {positions[top]:.3f}", flush=True)
    print("  s, cost: " + ", ".join(f"{position:.3f} {cost:.2e}" for position, cost in zip(positions[::4],
                                                                                           costs[::4])), flush=True)


def profile(truth: np.ndarray, amplitude: float, n_ends: int = 8,
            distances=(0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.82)) -> None:
    """How the cost grows with the distance from the truth at the truth's disorder strength.

    Each of ``n_ends`` unrelated samples V_k (same range, same notch) gives a path from the truth to it that keeps
    the disorder's variance: V(a) = cos(a) V_truth + sin(a) V_k on the free sites, a in [0, pi/2] (both are
    zero-mean and independent, so cos^2 + sin^2 = 1 keeps the variance; a straight segment would pass through
    weaker disorder, whose larger mean conductance alone raises the cost). The cost is read where the path is a
    given rms site distance from the truth. Where the median cost reaches the unrelated samples' own cost, the
    conductance fingerprint has decorrelated: from further out, the data no longer tell which way the truth is.
    """
    import jax
    import jax.numpy as jnp

    wire = mw.Wire(*truth.shape, lead="ideal")
    target = np.asarray(mw.conductance(wire, truth, FLUX, ENERGY))
    ends = np.random.default_rng(5).uniform(-amplitude, amplitude, (n_ends,) + truth.shape)
    free = np.ones(truth.shape, bool)
    free[0, 0] = False  # the notch stays at -1 on every path
    forward = jax.jit(jax.vmap(lambda v: mw.conductance(wire, v, FLUX, ENERGY)))

    def along(angles: np.ndarray, ends: np.ndarray = ends) -> np.ndarray:
        points = np.cos(angles)[:, None, None] * truth[None] + np.sin(angles)[:, None, None] * ends
        return np.where(free[None], points, truth[None])

    def costs(points: np.ndarray) -> np.ndarray:
        return np.mean((np.asarray(forward(jnp.asarray(points))) - target[None]) ** 2, axis=(1, 2))

    def rms(points: np.ndarray) -> np.ndarray:
        return np.sqrt(np.sum((points - truth[None]) ** 2, axis=(1, 2)) / free.sum())

    far = along(np.full(n_ends, np.pi / 2))
    unrelated = costs(far)
    print(f"  unrelated samples (rms {np.median(rms(far)):.2f} away): cost median {np.median(unrelated):.3g} "
          f"(range {unrelated.min():.3g}-{unrelated.max():.3g})", flush=True)
    grid = np.linspace(0.0, np.pi / 2, 401)
    for distance in distances:
        # the angle at which each path is `distance` from the truth (the distance grows along the path)
        angles = np.array([np.interp(distance, rms(along(grid, end[None])), grid) for end in ends])
        found = costs(along(angles))
        print(f"  rms {distance:.2f} from the truth: cost median {np.median(found):.3g} "
              f"(range {found.min():.3g}-{found.max():.3g}); "
              f"{np.median(found) / np.median(unrelated):.2f} x an unrelated sample's", flush=True)


def magnetisation_basin(seed: int, n_starts: int, steps: int, distances=(0.25, 0.5, 0.75, 1.0, 1.5)) -> None:
    """``--basin`` for seed 004's magnetisation (Fig. 3) with angles over the whole circle.

    The truth: theta uniform in [0, 2 pi) with the corner (0, 0) pinned at pi, on the 12 x 12 spin wire of
    ``examples/seed004_magnetisation.toml`` (J = 0.5, ideal leads k = 0.5 / 0.25). Starts are the truth plus noise
    uniform in [-d, d] rad per free site; a start is counted as found when every angle is within 1e-2 rad of the
    truth's or of its image theta -> -theta (a spin rotation about z, which G does not see and the notch does not
    fix).
    """
    wire = mw.Wire(12, 12, lead="ideal", spin=True, exchange=0.5, lead_k=(0.5, 0.25))
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.0, 2 * np.pi, (12, 12))
    truth[0, 0] = np.pi
    target = np.asarray(mw.conductance(wire, 0.0 * truth, FLUX, ENERGY, theta=truth))
    model = MagnetisationAngles(wire, init_range=(0.0, 2 * np.pi), fixed={(0, 0): np.pi})

    def angle_errors(family: np.ndarray) -> np.ndarray:
        def wrapped(difference):
            return np.abs((difference + np.pi) % (2 * np.pi) - np.pi).reshape(len(family), -1).max(axis=1)
        return np.minimum(wrapped(family - truth[None]), wrapped(-family - truth[None]))

    print(f"magnetisation, seed {seed}, angles over the whole circle:", flush=True)
    starts_near_truth(wire, target, model, truth, {(0, 0): np.pi}, distances, n_starts, steps, angle_errors,
                      unit=" rad")


def training_pairs(n_samples: int, amplitude: float, cache: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(V, G) for ``n_samples`` random strong samples with the notch, 64 per chunk, G from one vmapped call each."""
    import jax
    import jax.numpy as jnp

    wire = mw.Wire(12, 12, lead="ideal")
    forward = jax.jit(jax.vmap(lambda v: mw.conductance(wire, v, FLUX, ENERGY)))
    potentials, maps = [], []
    for chunk in range(-(-n_samples // 64)):
        path = cache and os.path.join(cache, f"amplitude{amplitude:g}-chunk{chunk:04d}.npz")  # one strength per file
        if path and os.path.exists(path):
            stored = np.load(path)
            potential, conductance = stored["V"], stored["G"]
        else:
            potential = np.random.default_rng([24, chunk]).uniform(-amplitude, amplitude, (64, 12, 12))
            potential[:, 0, 0] = -1.0
            conductance = np.asarray(forward(jnp.asarray(potential)))
            if path:
                os.makedirs(cache, exist_ok=True)
                np.savez(path, V=potential, G=conductance)
        potentials.append(potential)
        maps.append(conductance)
    return np.concatenate(potentials)[:n_samples], np.concatenate(maps)[:n_samples]


def learned_guess(n_samples: int, amplitude: float, cache: str | None, epochs: int = 40, hidden: int = 512) -> None:
    """How much of the potential a map from G to V, fitted on ``n_samples`` pairs, recovers on 1000 held-out ones."""
    import jax
    import jax.numpy as jnp
    import optax

    start = time.perf_counter()
    potentials, maps = training_pairs(n_samples, amplitude, cache)
    print(f"{len(potentials)} (V, G) pairs in {time.perf_counter() - start:.0f} s", flush=True)
    features = maps.reshape(len(maps), -1)
    features = (features - features.mean(0)) / (features.std(0) + 1e-3)
    mirrors = np.stack([potentials, potentials[:, ::-1], potentials[:, :, ::-1], potentials[:, ::-1, ::-1]], 1)
    mirrors = mirrors.reshape(len(potentials), 4, -1)
    held_out = slice(-1000, None)
    train = slice(0, len(potentials) - 1000)

    # The mirror images share G, so only their common part can be a function of G.
    symmetric = mirrors.mean(1)
    x, y = features[train], symmetric[train] - symmetric[train].mean(0)
    weights = np.linalg.solve(x.T @ x + 1e3 * np.eye(x.shape[1]), x.T @ y)
    predicted = features[held_out] @ weights + symmetric[train].mean(0)
    print(f"ridge regression, mirror-symmetric part: rms error {np.sqrt(np.mean((predicted - symmetric[held_out]) ** 2)):.3f}"
          f" (guessing its mean: {symmetric[held_out].std():.3f})", flush=True)

    sizes = [features.shape[1], hidden, hidden, hidden, mirrors.shape[-1]]
    keys = jax.random.split(jax.random.PRNGKey(0), len(sizes) - 1)
    layers = [(jax.random.normal(key, (a, b)) / np.sqrt(a), jnp.zeros(b)) for key, a, b in zip(keys, sizes, sizes[1:])]

    def network(layers, x):
        for w, b in layers[:-1]:
            x = jax.nn.gelu(x @ w + b)
        return x @ layers[-1][0] + layers[-1][1]

    def nearest_mirror_error(layers, x, images):
        return jnp.mean(jnp.min(jnp.mean((network(layers, x)[:, None] - images) ** 2, -1), -1))

    batch = 256
    n_steps = epochs * (x.shape[0] // batch)
    optimizer = optax.adamw(optax.cosine_decay_schedule(1e-3, n_steps), weight_decay=1e-4)
    state = optimizer.init(layers)

    @jax.jit
    def update(layers, state, x, images):
        loss, grads = jax.value_and_grad(nearest_mirror_error)(layers, x, images)
        updates, state = optimizer.update(grads, state, layers)
        return optax.apply_updates(layers, updates), state, loss

    rng = np.random.default_rng(0)
    for epoch in range(epochs):
        order = rng.permutation(x.shape[0])
        for i in range(x.shape[0] // batch):
            index = order[i * batch:(i + 1) * batch]
            layers, state, loss = update(layers, state, features[train][index], mirrors[train][index])
        if epoch % 10 == 0 or epoch == epochs - 1:
            test = nearest_mirror_error(layers, features[held_out], mirrors[held_out])
            print(f"MLP epoch {epoch}: training rms {np.sqrt(loss):.3f}, held-out rms {np.sqrt(test):.3f} (guessing 0: "
                  f"{np.sqrt(np.mean(mirrors[held_out] ** 2)):.3f}); {time.perf_counter() - start:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[2401, 2402, 2403, 2404, 2405])
    parser.add_argument("--amplitude", type=float, default=1.0)
    parser.add_argument("--starts", type=int, default=8)
    parser.add_argument("--steps", type=int, default=30, help="Levenberg-Marquardt steps per stage")
    parser.add_argument("--spectrum", action="store_true", help="the Jacobian's singular values only")
    parser.add_argument("--basin", action="store_true",
                        help="starts at growing distances from the truth, and the cost from a stalled start to it")
    parser.add_argument("--profile", action="store_true",
                        help="the cost against the rms distance from the truth, at the truth's disorder strength")
    parser.add_argument("--fluxes", type=float, nargs=2, metavar=("MAX", "N"),
                        help="with --basin or --profile: N fluxes in [0, MAX] instead of seed 004's 31 in [0, 0.15]")
    parser.add_argument("--energies", type=float, nargs=2, metavar=("MAX", "N"),
                        help="with --basin or --profile: N energies in [-MAX, MAX] instead of 21 in [-1, 1]")
    parser.add_argument("--distances", type=float, nargs="+", metavar="D",
                        help="with --basin: the noise half-widths of the starts near the truth")
    parser.add_argument("--magnetisation", action="store_true",
                        help="with --basin: seed 004's magnetisation with angles over the whole circle instead")
    parser.add_argument("--homotopy", type=int, metavar="K", help="target homotopy in K stages instead")
    parser.add_argument("--learn", type=int, metavar="N", help="fit a learned first guess on N samples instead")
    parser.add_argument("--cache", help="folder for the --learn samples (reused when present)")
    parser.add_argument("--plain", action="store_true",
                        help="the baseline: one stage on the map itself, as many steps as all stages together")
    args = parser.parse_args()
    global FLUX, ENERGY  # every measurement reads the data grid from here
    if args.fluxes:
        FLUX = np.linspace(0, args.fluxes[0], int(args.fluxes[1]))
    if args.energies:
        ENERGY = np.linspace(-args.energies[0], args.energies[0], int(args.energies[1]))
    if args.learn:
        learned_guess(args.learn, args.amplitude, args.cache)
        return
    stages, steps = ((None,), args.steps * len(STAGES)) if args.plain else (STAGES, args.steps)
    if args.basin and args.magnetisation:
        for seed in args.seeds:
            magnetisation_basin(seed, args.starts, args.steps)
        return
    for seed in args.seeds:
        truth = sample(seed, args.amplitude)
        if args.spectrum or args.basin or args.profile:
            print(f"seed {seed}, amplitude {args.amplitude}, {len(FLUX)} fluxes in [0, {FLUX[-1]:g}] x "
                  f"{len(ENERGY)} energies in [{ENERGY[0]:g}, {ENERGY[-1]:g}]:", flush=True)
            if args.spectrum:
                spectrum(truth)
            elif args.profile:
                profile(truth, args.amplitude)
            else:
                basin(truth, args.amplitude, args.starts, args.steps,
                      **({"distances": args.distances} if args.distances else {}))
            continue
        outcome = (homotopy(truth, args.amplitude, args.starts, args.steps, args.homotopy) if args.homotopy else
                   reconstruct(truth, args.amplitude, args.starts, steps, stages))
        costs = " -> ".join(f"{cost:.1e}" for cost in outcome["costs"])
        print(f"seed {seed}: cost {costs}; max site error {outcome['error']:.2f}; {outcome['wall']:.0f} s "
              f"(load {os.getloadavg()[0]:.1f}); {'found' if outcome['error'] < 1e-2 else 'not found'}", flush=True)


if __name__ == "__main__":
    main()
