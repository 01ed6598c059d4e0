"""What visitors of a served dashboard type or upload is data: never evaluated, never a path on the server."""
import ast
from pathlib import Path

import numpy as np
import pytest

from magwidgets.widgets.studio import DesignStudio

PACKAGE = Path(__file__).parents[2] / "magwidgets"


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


@pytest.mark.parametrize("source", sorted(PACKAGE.rglob("*.py")), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_the_package_evaluates_no_text_and_unpickles_nothing(source):
    tree = ast.parse(source.read_text())
    for call in _calls(tree):
        if isinstance(call.func, ast.Name):
            assert call.func.id not in ("eval", "exec", "compile", "__import__"), (
                f"{source.name}:{call.lineno} calls {call.func.id}")
        assert not any(isinstance(node, ast.Name) and node.id in ("pickle", "marshal", "dill", "shelve")
                       for node in ast.walk(call.func)), f"{source.name}:{call.lineno} unpickles"
        for keyword in call.keywords:
            assert not (keyword.arg == "allow_pickle" and getattr(keyword.value, "value", False) is True), (
                f"{source.name}:{call.lineno} loads pickles")
            assert not (keyword.arg == "shell" and getattr(keyword.value, "value", False) is True), (
                f"{source.name}:{call.lineno} runs a shell")


def test_code_typed_or_uploaded_is_never_run(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    studio = DesignStudio("design_curve", prepare=False)
    target = np.array(studio.target_sketcher.target)
    studio.resume_box.value = payload
    studio.resume_button.click()
    assert "not a run code" in studio.message.value
    with pytest.raises(ValueError, match="expected numbers"):
        studio.target_sketcher.load_csv(f"flux,conductance\n0,{payload}\n".encode())
    with pytest.raises(ValueError):
        studio.potential_sketcher.load("potential.csv", f"{payload}\n".encode())
    assert not marker.exists()
    np.testing.assert_array_equal(studio.target_sketcher.target, target)
