"""What an installation needs: declared dependencies that cover every import, Binder's environment, the version,
and the notebooks shipped inside the package (``magwidgets notebooks DEST``)."""
import ast
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import magwidgets
from magwidgets.cli import DASHBOARD_NOTEBOOK, NOTEBOOKS, main

ROOT = Path(__file__).parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
#: Import names that differ from their distribution's name.
DISTRIBUTIONS = {"PIL": "pillow"}
#: Imported only on request, with an error that says how to get them; not part of any install.
OPTIONAL = {"kwant": "to_kwant and the live Kwant comparisons (Kwant 1.5 is built from source)"}


def _name(requirement: str) -> str:
    """The normalised distribution name of a requirement string ("jax[cuda12]>=0.9" -> "jax")."""
    return re.sub(r"[-_.]+", "-", re.match(r"\s*([A-Za-z0-9._-]+)", requirement).group(1)).lower()


def _imports(source: str) -> set[str]:
    """Top-level names of the absolute imports in Python source."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.partition(".")[0])
    return names


def _third_party(names: set[str]) -> set[str]:
    return {DISTRIBUTIONS.get(name, name).lower() for name in names
            if name not in sys.stdlib_module_names and name != "magwidgets"}


def package_imports() -> set[str]:
    return _third_party(set().union(*(_imports(path.read_text()) for path in (ROOT / "magwidgets").rglob("*.py"))))


def notebook_imports(path: Path) -> set[str]:
    cells = json.loads(path.read_text())["cells"]
    lines = [line for cell in cells if cell["cell_type"] == "code" for line in "".join(cell["source"]).splitlines()
             if not line.lstrip().startswith(("%", "!"))]  # IPython magics and shell lines are not Python
    return _third_party(_imports("\n".join(lines)))


def test_every_import_of_the_package_is_a_declared_dependency():
    declared = {_name(requirement) for requirement in PYPROJECT["project"]["dependencies"]}
    declared |= {_name(requirement) for requirement in PYPROJECT["project"]["optional-dependencies"]["vmc"]}
    assert package_imports() - declared - set(OPTIONAL) == set()


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda path: path.stem)
def test_binder_requirements_cover_every_import(path):
    binder = {_name(line) for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    missing = (package_imports() | notebook_imports(path)) - binder - set(OPTIONAL)
    assert not missing, f"binder/requirements.txt lacks {sorted(missing)} ({path.name} or the package imports them)"


def test_binder_installs_what_pyproject_declares():
    """The same requirement strings, so Binder gets the dependencies pip would (the VMC extra included)."""
    lines = {line.strip() for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")}
    project = PYPROJECT["project"]
    assert lines == set(project["dependencies"]) | set(project["optional-dependencies"]["vmc"])
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert "--no-deps" not in post_build and '".[vmc]"' in post_build


def test_the_test_extra_installs_the_vmc_extra():
    """The README's first command (``pip install -e ".[test]"``) must give every notebook what it imports."""
    assert "magwidgets[vmc]" in PYPROJECT["project"]["optional-dependencies"]["test"]


def test_version_is_written_once(capsys):
    from magwidgets._version import __version__

    assert "version" not in PYPROJECT["project"] and "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "magwidgets._version.__version__"}
    assert magwidgets.__version__ == __version__
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"magwidgets {__version__}"


def test_the_notebooks_ship_inside_the_package():
    assert DASHBOARD_NOTEBOOK.is_file() and DASHBOARD_NOTEBOOK.parent == Path(magwidgets.__file__).parent / "notebooks"
    assert "notebooks/*.ipynb" in PYPROJECT["tool"]["setuptools"]["package-data"]["magwidgets"]
    assert len(list(NOTEBOOKS.glob("*.ipynb"))) >= 12


def test_notebooks_command_copies_them_and_never_overwrites(tmp_path, capsys):
    destination = tmp_path / "class" / "notebooks"
    assert main(["notebooks", str(destination)]) == 0
    shipped = sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))
    assert sorted(path.name for path in destination.iterdir()) == shipped
    assert (destination / "00_quickstart.ipynb").read_bytes() == (NOTEBOOKS / "00_quickstart.ipynb").read_bytes()

    edited = destination / "09_classroom.ipynb"
    edited.write_text("a student's answers")
    (destination / "00_quickstart.ipynb").unlink()
    capsys.readouterr()
    assert main(["notebooks", str(destination)]) == 2
    message = capsys.readouterr().err
    assert "09_classroom.ipynb" in message and "nothing was copied" in message
    assert edited.read_text() == "a student's answers"
    assert not (destination / "00_quickstart.ipynb").exists()  # all or nothing

    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    assert main(["notebooks", str(not_a_folder)]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_notebooks_command_from_the_console_script(tmp_path):
    completed = subprocess.run([sys.executable, "-m", "magwidgets.cli", "notebooks", str(tmp_path / "copy")],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert "jupyter lab" in completed.stderr
    assert (tmp_path / "copy" / "dashboard.ipynb").is_file()


def test_the_dashboard_template_ships_and_is_the_one_voila_is_told_to_use(tmp_path):
    """Voila finds the package's template through JUPYTER_PATH; a file left out of package-data would be missing
    from a wheel, and Voila would stop with "template not found"."""
    from fnmatch import fnmatch

    from magwidgets.cli import SHARE, TEMPLATE, dashboard_command, dashboard_environment

    folder = SHARE / "voila" / "templates" / TEMPLATE
    files = [path.relative_to(Path(magwidgets.__file__).parent).as_posix() for path in folder.rglob("*")
             if path.is_file()]
    assert {"conf.json", "index.html.j2"} <= {Path(name).name for name in files}
    globs = PYPROJECT["tool"]["setuptools"]["package-data"]["magwidgets"]
    assert [name for name in files if not any(fnmatch(name, glob) for glob in globs)] == []
    # the template itself names no host: whatever it adds to the page is served by this machine
    assert "://" not in (folder / "index.html.j2").read_text().replace("'://'", "")
    assert f"--template={TEMPLATE}" in dashboard_command(port=1, open_browser=False)
    assert str(SHARE) in dashboard_environment(str(tmp_path)).get("JUPYTER_PATH", "").split(os.pathsep)
