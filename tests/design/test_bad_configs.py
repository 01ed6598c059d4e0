"""``magwidgets design`` with malformed configs and arguments: exit code 2, one line naming the field, no traceback,
nothing written (issue 7)."""
import os
import subprocess
import sys

import numpy as np
import pytest

from magwidgets.cli import main

BASE = """
[wire]
length = 3
width = 2
lead = "ideal"

[grid]
flux = {start = 0.0, stop = 0.1, num = 3}
energy = 0.5

[target]
file = "TARGET"

[params]
kind = "site_potential"
init_range = [-0.5, 0.5]

[loss]
kind = "mse"

[optimizer]
name = "adam"
learning_rate = 0.02
schedule = "constant"

[run]
steps = 2
seed = 1
output = "OUTPUT"
"""


def edit(old, new):
    def apply(text):
        assert old in text, old
        return text.replace(old, new)
    return apply


def instead_of_table(name, line):
    """The table [name] replaced by a top-level key ``line`` (before any table, where TOML puts it at the top)."""
    def apply(text):
        sections = text.strip().split("\n\n")
        kept = [section for section in sections if not section.startswith(f"[{name}]")]
        assert len(kept) == len(sections) - 1
        return line + "\n" + "\n\n".join(kept) + "\n"
    return apply


CASES = [
    # not TOML at all
    ("invalid-toml", lambda text: "[wire\nlength = 3\n", "not valid TOML"),
    ("unclosed-string", edit('lead = "ideal"', 'lead = "ideal'), "not valid TOML"),
    ("duplicate-key", edit("width = 2", "width = 2\nwidth = 3"), "not valid TOML"),
    ("binary", None, "not a TOML file"),
    ("empty", lambda text: "", "run.steps: missing"),
    # unknown tables and keys
    ("unknown-table", lambda text: text + "\n[wires]\nlength = 3\n", "unknown table(s) ['wires']"),
    ("unknown-wire-key", edit("width = 2", "width = 2\ncolour = 'red'"), "colour"),
    ("unknown-grid-key", edit("energy = 0.5", "energy = 0.5\nfluxx = 0.1"), "grid: unknown key(s) ['fluxx']"),
    ("unknown-axis-key", edit("num = 3}", "num = 3, step = 1}"), "grid.flux: unknown key(s) ['step']"),
    ("unknown-target-key", edit('file = "TARGET"', 'file = "TARGET"\namplitud = 3'), "target: unknown key(s)"),
    ("unknown-params-key", edit("init_range = [-0.5, 0.5]", "init_range = [-0.5, 0.5]\nfoo = 1"), "unknown field"),
    ("unknown-loss-key", edit('kind = "mse"', 'kind = "mse"\nfoo = 1'), "loss:"),
    ("unknown-optimizer-key", edit("learning_rate = 0.02", "learning_rate = 0.02\nmomentum = 0.9"), "optimizer:"),
    ("unknown-run-key", edit("seed = 1", "seed = 1\nstep = 3"), "run: unknown key(s) ['step']"),
    # wrong types
    ("wire-not-a-table", instead_of_table("wire", "wire = 5"), "wire: expected a table"),
    ("grid-not-a-table", instead_of_table("grid", "grid = [1, 2]"), "grid: expected a table"),
    ("run-not-a-table", instead_of_table("run", "run = 'fast'"), "run: expected a table"),
    ("length-text", edit("length = 3", "length = '3'"), "Wire length"),
    ("length-float", edit("length = 3", "length = 3.5"), "Wire length"),
    ("spin-text", edit('lead = "ideal"', 'lead = "ideal"\nspin = "yes"'), "Wire spin"),
    ("lead-k-text", edit('lead = "ideal"', 'lead = "ideal"\nlead_k = "pi/2"'), "Wire lead_k"),
    ("steps-float", edit("steps = 2", "steps = 1.5"), "run.steps"),
    ("steps-text", edit("steps = 2", "steps = 'ten'"), "run.steps"),
    ("seed-text", edit("seed = 1", "seed = 'x'"), "run.seed"),
    ("seed-float", edit("seed = 1", "seed = 1.5"), "run.seed"),
    ("snapshot-text", edit("seed = 1", "seed = 1\nsnapshot_every = '5'"), "run.snapshot_every"),
    ("patience-float", edit("seed = 1", "seed = 1\npatience = 2.5"), "run.patience"),
    ("tolerance-text", edit("seed = 1", "seed = 1\ntolerance = 'small'"), "run.tolerance"),
    ("n-starts-text", edit("seed = 1", "seed = 1\nn_starts = 'two'"), "run.n_starts"),
    ("output-number", edit('output = "OUTPUT"', "output = 5"), "run.output"),
    ("flux-text", edit("flux = {start = 0.0, stop = 0.1, num = 3}", "flux = 'all'"), "grid.flux"),
    ("flux-list-of-text", edit("flux = {start = 0.0, stop = 0.1, num = 3}", "flux = ['a', 0.1]"), "grid.flux"),
    ("flux-nested", edit("flux = {start = 0.0, stop = 0.1, num = 3}", "flux = [[0.0], [0.1]]"), "grid.flux"),
    ("num-float", edit("num = 3", "num = 2.5"), "grid.flux.num"),
    ("energy-bool", edit("energy = 0.5", "energy = true"), "grid.energy"),
    ("file-number", edit('file = "TARGET"', "file = 5"), "target.file"),
    ("noise-text", edit('file = "TARGET"', 'file = "TARGET"\nnoise = "x"'), "target.noise"),
    ("fixed-not-sites", edit("init_range = [-0.5, 0.5]", "init_range = [-0.5, 0.5]\nfixed = 5"), "params.fixed"),
    ("fixed-text-index", edit("init_range = [-0.5, 0.5]", "init_range = [-0.5, 0.5]\nfixed = [[0, 'a', 1.0]]"),
     "params.fixed"),
    ("init-range-text", edit("init_range = [-0.5, 0.5]", "init_range = 'wide'"), "params.init_range"),
    ("init-range-three", edit("init_range = [-0.5, 0.5]", "init_range = [1, 2, 3]"), "params.init_range"),
    ("n-text", edit('kind = "site_potential"\ninit_range = [-0.5, 0.5]', 'kind = "gaussian_defects"\nn = "ten"'),
     "params.n"),
    ("learning-rate-text", edit("learning_rate = 0.02", "learning_rate = 'fast'"), "optimizer.learning_rate"),
    ("smoothness-text", edit('kind = "mse"', 'kind = "mse"\nsmoothness = "a"'), "loss.smoothness"),
    ("initial-number", edit("seed = 1", "seed = 1\ninitial = 5"), "run.initial"),
    # negative, zero and non-finite numbers
    ("steps-negative", edit("steps = 2", "steps = -5"), "run.steps: expected a positive integer"),
    ("steps-zero", edit("steps = 2", "steps = 0"), "run.steps: expected a positive integer"),
    ("seed-negative", edit("seed = 1", "seed = -1"), "run.seed"),
    ("snapshot-negative", edit("seed = 1", "seed = 1\nsnapshot_every = -5"), "run.snapshot_every"),
    ("checkpoint-every-negative", edit("seed = 1", "seed = 1\ncheckpoint_every = -1"), "run.checkpoint_every"),
    ("checkpoint-seconds-zero", edit("seed = 1", "seed = 1\ncheckpoint_seconds = 0"), "run.checkpoint_seconds"),
    ("n-starts-zero", edit("seed = 1", "seed = 1\nn_starts = 0"), "run.n_starts"),
    ("min-delta-negative", edit("seed = 1", "seed = 1\nmin_delta = -1.0"), "run.min_delta"),
    ("num-negative", edit("num = 3", "num = -3"), "grid.flux.num"),
    ("num-zero", edit("num = 3", "num = 0"), "grid.flux.num"),
    ("flux-nan", edit("stop = 0.1", "stop = nan"), "grid.flux"),
    ("scale-inf", edit("num = 3}", "num = 3, scale = inf}"), "grid.flux.scale"),
    ("energy-inf", edit("energy = 0.5", "energy = -inf"), "energy"),
    ("noise-negative", edit('file = "TARGET"', 'file = "TARGET"\nnoise = -0.1'), "target.noise"),
    ("noise-nan", edit('file = "TARGET"', 'file = "TARGET"\nnoise = nan'), "target.noise"),
    ("learning-rate-negative", edit("learning_rate = 0.02", "learning_rate = -1"), "optimizer.learning_rate"),
    ("learning-rate-nan", edit("learning_rate = 0.02", "learning_rate = nan"), "optimizer.learning_rate"),
    ("smoothness-negative", edit('kind = "mse"', 'kind = "mse"\nsmoothness = -1.0'), "loss.smoothness"),
    ("width-zero", edit("width = 2", "width = 0"), "Wire width"),
    ("hopping-negative", edit("width = 2", "width = 2\nhopping = -1.0"), "Wire hopping"),
    ("fixed-outside", edit("init_range = [-0.5, 0.5]", "init_range = [-0.5, 0.5]\nfixed = [[10, 0, 1.0]]"),
     "outside the 3 x 2 wire"),
    ("fixed-nan", edit("init_range = [-0.5, 0.5]", "init_range = [-0.5, 0.5]\nfixed = [[0, 0, nan]]"), "params.fixed"),
    ("n-negative", edit('kind = "site_potential"\ninit_range = [-0.5, 0.5]', 'kind = "gaussian_defects"\nn = -1'),
     "params.n"),
    # the target: wrong length, NaN, unreadable
    ("target-too-short", edit("TARGET", "SHORT"), "target.values: target has shape (2,)"),
    ("target-too-long", edit("TARGET", "LONG"), "target.values: target has shape (4,)"),
    ("target-nan", edit("TARGET", "NAN"), "target.values: target contains NaN"),
    ("target-inf", edit("TARGET", "INF"), "target.values: target contains NaN or inf"),
    ("target-text", edit("TARGET", "JUNK"), "target.file: cannot read"),
    ("target-binary", edit("TARGET", "BINARY"), "target.file: cannot read"),
    ("target-corrupt-npz", edit("TARGET", "CORRUPT"), "target.file: cannot read"),
    ("target-npz-without-conductance", edit("TARGET", "NOKEY"), "has no array named 'conductance'"),
    ("target-npz-nan-weights", edit("TARGET", "BADWEIGHTS"), "target weights must be finite"),
    ("target-kind-unknown", edit('file = "TARGET"', 'kind = "banana"'), "target.kind"),
    ("target-amplitude-nan", edit('file = "TARGET"', 'kind = "random_potential"\namplitude = nan'),
     "target.amplitude"),
    ("target-amplitude-huge", edit('file = "TARGET"', 'kind = "random_potential"\namplitude = 1e308'),
     "target: a number is too large"),
    ("target-shape-unknown", edit('file = "TARGET"', 'kind = "curve"\nshape = "cat"'), "target.shape"),
    ("magnetisation-without-spin", edit('file = "TARGET"', 'kind = "random_magnetisation"'), "needs wire.spin"),
    ("angle-range-reversed", edit('file = "TARGET"', 'kind = "random_magnetisation"\nangle_range = [1.0, 0.0]'),
     "target.angle_range"),
    # missing files and paths that are folders
    ("target-missing", edit("TARGET", "MISSING"), "target.file: cannot read"),
    ("target-is-a-folder", edit("TARGET", "FOLDER"), "target.file: cannot read"),
    ("initial-missing", edit("seed = 1", 'seed = 1\ninitial = "MISSING"'), "run.initial: cannot read"),
    ("initial-is-a-folder", edit("seed = 1", 'seed = 1\ninitial = "FOLDER"'), "run.initial: cannot read"),
    ("output-is-a-folder", edit('output = "OUTPUT"', 'output = "FOLDER"'), "run.output: "),
    ("output-below-a-file", edit('output = "OUTPUT"', 'output = "SHORT/run.npz"'), "is a file, not a folder"),
    # the Fourier task
    ("fourier-text", lambda text: "[fourier]\ncolumns = 'x'\n[run]\nsteps = 2\noutput = 'OUTPUT'\n",
     "fourier.columns"),
    ("fourier-negative", lambda text: "[fourier]\nrows = -4\n[run]\nsteps = 2\noutput = 'OUTPUT'\n", "fourier.rows"),
    ("fourier-sigma-zero", lambda text: "[fourier]\nsigma = 0.0\n[run]\nsteps = 2\noutput = 'OUTPUT'\n",
     "fourier.sigma"),
    ("fourier-unknown-key", lambda text: "[fourier]\ncolumnz = 4\n[run]\nsteps = 2\noutput = 'OUTPUT'\n",
     "fourier: unknown key(s) ['columnz']"),
]


@pytest.fixture
def files(tmp_path):
    """Targets for the 3-point grid, good and bad, a folder, and where the output would go."""
    paths = {name: str(tmp_path / name) for name in ("run.npz", "folder")}
    os.mkdir(paths["folder"])
    for name, values in [("target.csv", [1.0, 1.5, 2.0]), ("short.csv", [1.0, 2.0]), ("long.csv", [1.0] * 4),
                         ("nan.csv", [1.0, np.nan, 2.0]), ("inf.csv", [1.0, np.inf, 2.0])]:
        paths[name] = str(tmp_path / name)
        np.savetxt(paths[name], values, delimiter=",")
    for name, data in [("junk.csv", b"flux,G\n=cmd|' /C calc'!A0\n"), ("binary.csv", bytes(range(256)) * 4),
                       ("corrupt.npz", b"PK\x03\x04 not a zip archive")]:
        paths[name] = str(tmp_path / name)
        open(paths[name], "wb").write(data)
    paths["nokey.npz"] = str(tmp_path / "nokey.npz")
    np.savez(paths["nokey.npz"], G=np.ones(3))
    paths["badweights.npz"] = str(tmp_path / "badweights.npz")
    np.savez(paths["badweights.npz"], conductance=np.ones(3), weights=np.array([1.0, np.nan, 1.0]))
    return paths


def write_config(tmp_path, files, change) -> str:
    path = tmp_path / "run.toml"
    if change is None:
        path.write_bytes(b"\xff\xfe\x00[wire]\x00 binary \x89PNG")
        return str(path)
    text = change(BASE)
    for key, name in [("TARGET", "target.csv"), ("SHORT", "short.csv"), ("LONG", "long.csv"), ("NAN", "nan.csv"),
                      ("INF", "inf.csv"), ("JUNK", "junk.csv"), ("BINARY", "binary.csv"), ("CORRUPT", "corrupt.npz"),
                      ("NOKEY", "nokey.npz"), ("BADWEIGHTS", "badweights.npz"), ("OUTPUT", "run.npz"),
                      ("FOLDER", "folder")]:
        text = text.replace(f'"{key}', f'"{files[name]}').replace(f"'{key}'", f"'{files[name]}'")
    text = text.replace('"MISSING"', f'"{tmp_path / "missing.npz"}"')
    path.write_text(text)
    return str(path)


def assert_refused(capsys, code, hint, files):
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("magwidgets design: ") and err.count("\n") == 1, err  # one line
    assert hint in err, (hint, err)
    assert "Traceback" not in err
    assert not os.path.exists(files["run.npz"]) and not os.path.exists(files["run.npz"] + ".checkpoint.npz")


@pytest.mark.parametrize("change, hint", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_a_malformed_config_exits_2_with_one_line_naming_the_field(tmp_path, capsys, files, change, hint):
    config = write_config(tmp_path, files, change)
    assert_refused(capsys, main(["design", config]), hint, files)


def test_the_base_config_runs(tmp_path, capsys, files):
    """The cases above fail because of their one change: the config they change is good."""
    config = write_config(tmp_path, files, lambda text: text)
    assert main(["design", config]) == 0
    assert os.path.exists(files["run.npz"])


@pytest.mark.parametrize("arguments, hint", [
    (["--steps", "0"], "--steps: expected a positive integer, got 0"),
    (["--steps", "-3"], "--steps: expected a positive integer, got -3"),
    (["--output", "FOLDER"], "--output: "),
    (["--output", "TARGET/run.npz"], "is a file, not a folder"),
    (["--output", ""], "--output: expected the results archive's file name"),
])
def test_malformed_arguments_exit_2_with_one_line(tmp_path, capsys, files, arguments, hint):
    config = write_config(tmp_path, files, lambda text: text)
    arguments = [files["folder"] if value == "FOLDER" else value.replace("TARGET", files["target.csv"])
                 for value in arguments]
    assert_refused(capsys, main(["design", config, *arguments]), hint, files)


@pytest.mark.parametrize("path, hint", [("missing.toml", "No such file"), ("folder", "Is a directory")])
def test_a_config_path_that_is_missing_or_a_folder(tmp_path, capsys, files, path, hint):
    assert_refused(capsys, main(["design", str(tmp_path / path)]), hint, files)


def test_the_command_itself_prints_one_line_and_no_traceback(tmp_path, files):
    """The real process, as a user runs it: exit status 2 and one line on stderr, for a config and an argument."""
    config = write_config(tmp_path, files, edit("TARGET", "NAN"))
    for extra, hint in [([], "target.values"), (["--steps", "abc"], "argument --steps: invalid int value")]:
        done = subprocess.run([sys.executable, "-m", "magwidgets.cli", "design", config, *extra],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert hint in done.stderr.strip().splitlines()[-1]
        assert done.stdout == "" and not os.path.exists(files["run.npz"])
