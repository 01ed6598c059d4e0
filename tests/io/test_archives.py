"""Every .npz magwidgets writes goes through one writer: atomic, tagged with its kind, never unpickled."""
import json
import os

import numpy as np
import pytest

from magwidgets.io import archives
from magwidgets.io.archives import read_archive, read_metadata, write_archive


def test_round_trip_with_kind_and_versions(tmp_path):
    path = str(tmp_path / "deep" / "folder" / "run.npz")  # missing folders are created
    arrays = dict(onsite=np.arange(6.0).reshape(2, 3), loss=np.array([3.0, 2.0]))
    write_archive(path, "design result", arrays, dict(seed=7, reason="tolerance"), compressed=True)
    back, metadata = read_archive(path, "design result")
    assert set(back) == set(arrays) and all(np.array_equal(back[name], arrays[name]) for name in arrays)
    assert metadata["kind"] == "design result" and metadata["seed"] == 7
    assert {"magwidgets", "jax", "numpy", "python"} <= set(metadata["versions"])
    assert read_metadata(path, "design result")["reason"] == "tolerance"


@pytest.mark.parametrize("written, asked", [("checkpoint", "autosave inputs"), ("autosave inputs", "design result"),
                                            ("design result", "checkpoint")])
def test_one_kind_read_as_another_is_refused_by_name(tmp_path, written, asked):
    path = str(tmp_path / "archive.npz")
    write_archive(path, written, dict(values=np.zeros(3)))
    with pytest.raises(ValueError, match=f"not a magwidgets {asked} archive \\(it holds a {written}\\)"):
        read_archive(path, asked)


def test_foreign_and_damaged_files_give_a_clear_error(tmp_path):
    foreign = str(tmp_path / "foreign.npz")
    np.savez(foreign, conductance=np.ones(4))
    with pytest.raises(ValueError, match="not a magwidgets checkpoint archive"):
        read_archive(foreign, "checkpoint")
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(b"PK\x03\x04 not really a zip file")
    with pytest.raises(ValueError, match="not a magwidgets design result archive"):
        read_archive(str(damaged), "design result")
    with pytest.raises(FileNotFoundError):
        read_archive(str(tmp_path / "absent.npz"), "checkpoint")
    pickled = str(tmp_path / "pickled.npz")  # an object array would need unpickling: refused, never executed
    np.savez(pickled, metadata=np.array(json.dumps(dict(kind="checkpoint"))), payload=np.array([object()]))
    with pytest.raises(ValueError, match="not a magwidgets checkpoint archive"):
        read_archive(pickled, "checkpoint")


def test_a_failed_write_keeps_the_previous_archive_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = str(tmp_path / "checkpoint.npz")
    write_archive(path, "checkpoint", dict(step=np.array(10)), dict(step=10))

    def killed(file, **arrays):  # the disk fills up half way through the new file
        with open(file, "wb") as handle:
            handle.write(b"half a file")
        raise OSError("No space left on device")

    monkeypatch.setattr(archives.np, "savez", killed)
    with pytest.raises(OSError, match="No space"):
        write_archive(path, "checkpoint", dict(step=np.array(20)), dict(step=20))
    monkeypatch.undo()
    assert read_metadata(path, "checkpoint")["step"] == 10
    assert os.listdir(tmp_path) == ["checkpoint.npz"]


def test_the_writer_refuses_unknown_kinds_and_a_clash_with_its_metadata(tmp_path):
    with pytest.raises(ValueError, match="unknown archive kind"):
        write_archive(str(tmp_path / "a.npz"), "notes", {})
    with pytest.raises(ValueError, match="'metadata' is the archive's own entry"):
        write_archive(str(tmp_path / "a.npz"), "checkpoint", dict(metadata=np.zeros(1)))
