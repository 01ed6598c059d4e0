"""Sphinx configuration of the magwidgets documentation (``bash scripts/build_docs.sh`` builds it)."""
import os
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document this checkout, whatever magwidgets is installed

# The notebook kernels inherit this: every notebook runs its short version, as the tests run them.
os.environ["MAGWIDGETS_FAST"] = "1"

from magwidgets._version import __version__  # noqa: E402

project = "magwidgets"
author = "magwidgets developers"
copyright = "2026, magwidgets developers"
version = release = __version__

# The pages load nothing from a CDN for their maths: MathJax 3 is copied into the site (sphinx-mathjax-offline).
extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax", "sphinx-mathjax-offline"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
napoleon_google_docstring = False
napoleon_numpy_docstring = True
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}

# The notebooks live in the package (magwidgets/notebooks, what `magwidgets notebooks DEST` copies); they are copied
# here for the build only (docs/notebooks is not in git). The dashboard notebook is a served page, not a tutorial.
NOTEBOOKS = DOCS / "notebooks"
NOTEBOOKS.mkdir(exist_ok=True)
for source in sorted((ROOT / "magwidgets" / "notebooks").glob("*.ipynb")):
    target = NOTEBOOKS / source.name
    if source.stem != "dashboard" and (not target.exists() or target.read_bytes() != source.read_bytes()):
        shutil.copyfile(source, target)

# MAGWIDGETS_DOCS_EXECUTE=off renders the notebooks without running them (their committed form has no outputs).
nb_execution_mode = os.environ.get("MAGWIDGETS_DOCS_EXECUTE", "cache")
nb_execution_cache_path = str(DOCS / "_build" / "jupyter_cache")
nb_execution_timeout = 1200
nb_execution_raise_on_error = True
nb_execution_in_temp = True  # whatever a notebook writes goes to a temporary folder
nb_merge_streams = True

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
html_theme = "furo"
html_title = f"magwidgets {release}"
html_static_path = []
