"""The package's imports go down its layers, never back up (read from the code, so that it stays true).

    core                      pure transport physics
    io, run                   files; the run loop every iterative method shares
    design, vmc               the models: inverse design, variational Monte Carlo (neither imports the other)
    session                   serving runs: live runners, compute slots, autosaves, the dashboard server
    widgets                   panels that render
    cli                       the command line
"""
import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "magwidgets"
LAYERS = {"core": 0, "io": 1, "run": 1, "_version": 0, "design": 2, "vmc": 2, "session": 3, "widgets": 4, "cli": 5}


def _part(module: str) -> str:
    """The layer a module of the package belongs to: its first component below ``magwidgets``."""
    return module.split(".")[1] if "." in module else ""


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import of the package in ``path``."""
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    package = parts if path.name == "__init__.py" else parts[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module == "magwidgets":  # `from .. import x`: a submodule x, or a name defined in the root
                found += [(node.lineno, f"magwidgets.{alias.name}" if (PACKAGE / alias.name).is_dir()
                           or (PACKAGE / f"{alias.name}.py").exists() else "magwidgets") for alias in node.names]
            elif module.startswith("magwidgets."):
                found.append((node.lineno, module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "magwidgets"]
    return found


def _violations() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        layer = _part(here)
        if layer in ("", "__init__"):
            continue  # the package root gathers the public API from below
        for line, module in _imports(path):
            target = _part(module)
            where = f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}"
            if target in ("", "__init__"):
                problems.append(f"{where}: the package root (import the module that defines the name)")
            elif LAYERS[target] > LAYERS[layer]:
                problems.append(f"{where}: up from {layer} to {target}")
            elif {layer, target} == {"design", "vmc"}:
                problems.append(f"{where}: the two models are independent")
    return problems


def test_every_module_belongs_to_a_layer():
    parts = {_part(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)) for path in PACKAGE.rglob("*.py")}
    assert parts - {"__init__"} <= set(LAYERS), parts - set(LAYERS)


def test_imports_go_down_the_layers():
    assert _violations() == []


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    """The checker itself: an import from core up to widgets is reported."""
    fake = tmp_path / "magwidgets"
    (fake / "core").mkdir(parents=True)
    (fake / "widgets").mkdir()
    (fake / "core" / "leads.py").write_text("from ..widgets.studio import DesignStudio\n")
    (fake / "vmc").mkdir()
    (fake / "vmc" / "driver.py").write_text("from ..design.driver import Design\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    problems = _violations()
    assert any("up from core to widgets" in problem for problem in problems)
    assert any("independent" in problem for problem in problems)
