"""Archives: every ``.npz`` magwidgets writes, through one writer and one reader.

An archive is a NumPy ``.npz`` of named arrays plus one entry ``metadata``: a JSON string with the archive's
``kind`` (what it holds), the versions that wrote it, and the writer's own fields. Three kinds exist:

- ``"design result"`` (:func:`save_design_result`): ``onsite`` (L, W) in units of t, ``theta`` (L, W) in
  radians, ``conductance`` in e^2/h, ``target``, ``loss`` (steps + 1[, n_starts]) and the other history entries
  as ``history_<name>``, the best parameters as ``params/<path>``, every start's as ``family/<path>``, and the
  known truth (synthetic targets) as ``truth_<name>``; metadata: the config text, the seed, the stop reason, the
  wall time and the objective's description;
- ``"checkpoint"`` (:meth:`magwidgets.design.Design.save`): the complete optimiser state, so that a resumed run
  continues the same trajectory;
- ``"autosave inputs"`` (:class:`magwidgets.session.autosave.Autosave`): what rebuilds a dashboard run.

Writes are atomic (a temporary file renamed into place: a killed write leaves the previous archive), only process
0 writes under ``jax.distributed``, and reading never unpickles.
"""
from __future__ import annotations

import json
import os
import platform
import zipfile
from typing import Any, Optional

import numpy as np

from .._version import __version__

KINDS = ("design result", "checkpoint", "autosave inputs")


def _versions() -> dict:
    import jax
    import jaxlib
    import optax

    return dict(magwidgets=__version__, jax=jax.__version__, jaxlib=jaxlib.__version__, optax=optax.__version__,
                numpy=np.__version__, python=platform.python_version())


def write_archive(path: str, kind: str, arrays: dict[str, Any], metadata: Optional[dict] = None, *,
                  compressed: bool = False) -> None:
    """Write ``arrays`` and ``metadata`` (JSON-able) as an archive of ``kind`` to ``path``, atomically.

    The folder is created if missing. Under ``jax.distributed`` only process 0 writes (every process holds the
    same gathered results).
    """
    from ..core.sharding import writes_files

    if kind not in KINDS:
        raise ValueError(f"unknown archive kind {kind!r}; expected one of {KINDS}")
    if "metadata" in arrays:
        raise ValueError("'metadata' is the archive's own entry; name the array otherwise")
    if not writes_files():
        return
    header = dict(metadata or {}, kind=kind, versions=_versions())
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    temporary = f"{path}.tmp-{os.getpid()}.npz"
    try:
        (np.savez_compressed if compressed else np.savez)(
            temporary, metadata=np.array(json.dumps(header, default=str)),
            **{name: np.asarray(value) for name, value in arrays.items()})
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):  # a failed write leaves neither a half file nor a stray temporary
            os.unlink(temporary)


def read_metadata(path: str, kind: str) -> dict:
    """The metadata of the archive of ``kind`` at ``path`` (without loading its arrays); ValueError if it is not
    one."""
    return _read(path, kind, arrays=False)[1]


def read_archive(path: str, kind: str) -> tuple[dict[str, np.ndarray], dict]:
    """``(arrays, metadata)`` of the archive of ``kind`` at ``path``.

    Raises FileNotFoundError when there is no file, and ValueError naming the file and what was expected when it
    is not an archive of that kind (another kind, another program's ``.npz``, a damaged file).
    """
    return _read(path, kind, arrays=True)


def _read(path: str, kind: str, arrays: bool) -> tuple[dict, dict]:
    if kind not in KINDS:
        raise ValueError(f"unknown archive kind {kind!r}; expected one of {KINDS}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no {kind} at {path!r}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            metadata = json.loads(str(archive["metadata"]))
            found = metadata.get("kind")
            if found != kind:
                raise ValueError(f"it holds a {found}" if found in KINDS else "it has no magwidgets metadata")
            return ({name: archive[name] for name in archive.files if name != "metadata"} if arrays else {}), metadata
    except (OSError, KeyError, ValueError, EOFError, TypeError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path} is not a magwidgets {kind} archive ({error})") from None


def _flatten(prefix: str, tree) -> dict:
    import jax

    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {f"{prefix}/{jax.tree_util.keystr(path) or 'value'}": np.asarray(leaf) for path, leaf in flat}


def save_design_result(path: str, result, *, config_text: str = "", seed: Optional[int] = None,
                       target=None, truth: Optional[dict] = None) -> None:
    """Write a :class:`~magwidgets.design.DesignResult` to ``path`` as a ``"design result"`` archive."""
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
                    wall_time=result.wall_time, best_loss=result.loss, description=result.description)
    write_archive(path, "design result", arrays, metadata, compressed=True)


def load_design_result(path: str) -> tuple[dict, dict]:
    """Read a results archive back: ``(arrays, metadata)``."""
    return read_archive(path, "design result")
