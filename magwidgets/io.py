"""Results archives: one ``.npz`` per design run, with units and provenance.

Arrays: ``onsite`` (L, W) in units of t, ``theta`` (L, W) in radians, ``conductance`` in e^2/h, ``target``,
``loss`` (steps + 1[, n_starts]) and the other history entries as ``history_<name>``, the best parameters as
``params/<path>``, every start's as ``family/<path>``, and the known truth (synthetic targets) as
``truth_<name>``. ``metadata`` is a JSON string: the config text, the seed, the stop reason, wall time, the
objective's description and the versions of magwidgets, JAX, jaxlib, optax and NumPy.
"""
from __future__ import annotations

import json
import os
import platform
from typing import Optional

import jax
import numpy as np


def _versions() -> dict:
    import jaxlib
    import optax

    from . import __version__

    return dict(magwidgets=__version__, jax=jax.__version__, jaxlib=jaxlib.__version__, optax=optax.__version__,
                numpy=np.__version__, python=platform.python_version())


def _flatten(prefix: str, tree) -> dict:
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {f"{prefix}/{jax.tree_util.keystr(path) or 'value'}": np.asarray(leaf) for path, leaf in flat}


def save_npz_atomically(path: str, compressed: bool = False, **arrays) -> None:
    """Write an ``.npz`` next to ``path`` and rename it into place: a killed write leaves the old file intact."""
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
                    wall_time=result.wall_time, final_loss=result.loss, description=result.description,
                    versions=_versions())
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_npz_atomically(path, compressed=True, metadata=np.array(json.dumps(metadata, default=str)), **arrays)


def load_design_result(path: str) -> tuple[dict, dict]:
    """Read an archive back: ``(arrays, metadata)``."""
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files if name != "metadata"}
        metadata = json.loads(str(archive["metadata"]))
    return arrays, metadata
