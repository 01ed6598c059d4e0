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


# What a panel may take from the core: the wire (a type) and the sample landscapes with the V <-> on-site conversion.
# Transport (conductance, wavefunctions, leads) reaches the panels through the model (magwidgets.design.problem).
PANEL_CORE_MODULES = {"magwidgets.core.wire", "magwidgets.core.potentials"}


def _core_names_used_by_panels() -> dict[str, str]:
    """{file:name: the core module that defines it} for every name that widgets/ imports from the core."""
    import importlib

    used = {}
    for path in sorted((PACKAGE / "widgets").rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("").parts
        package = list(relative[:-1])
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else [])) if node.level else node.module or ""
            if module == "magwidgets.core" or module.startswith("magwidgets.core."):
                source = importlib.import_module(module)
                for alias in node.names:
                    value = getattr(source, alias.name)
                    used[f"{path.name}:{alias.name}"] = getattr(value, "__module__", module) or module
    return used


def test_panels_compute_no_transport():
    used = _core_names_used_by_panels()
    assert used, "the check found no core import at all: it would pass vacuously"
    assert {name: module for name, module in used.items() if module not in PANEL_CORE_MODULES} == {}


def test_the_check_sees_a_panel_computing_transport(tmp_path, monkeypatch):
    fake = tmp_path / "magwidgets" / "widgets"
    fake.mkdir(parents=True)
    (fake / "panel.py").write_text("from ..core import Wire, conductance\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "magwidgets")
    assert _core_names_used_by_panels() == {"panel.py:Wire": "magwidgets.core.wire",
                                            "panel.py:conductance": "magwidgets.core.observables"}
