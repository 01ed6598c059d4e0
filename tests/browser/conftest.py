"""Real-browser tests: Voila (or JupyterLab) serves the notebooks on localhost, Playwright drives Debian's Chromium.

They skip when Chromium or the playwright package is missing; CI installs both. Screenshots go to
``tests/browser/artifacts/`` (or ``$MW_ARTIFACTS``) for a person to look at.
"""
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from magwidgets.cli import free_port
from optional_tools import missing

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("MW_ARTIFACTS", Path(__file__).parent / "artifacts"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float) -> None:
    """Wait until the server listens (Voila renders the notebook itself only when the page is requested)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"nothing listened on port {port} within {timeout} s")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright import sync_api
    except ImportError:
        missing("the playwright package is not installed (pip install playwright)")
    if not os.path.exists(CHROMIUM):
        missing("Debian's chromium is not installed (apt-get install -y chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextlib.contextmanager
def serving(command: list[str], port: int, log_path: Path, env: dict):
    """Run a server in its own session, yield its URL once it listens, and stop it afterwards."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            wait_for_port(port, process, timeout=120)
            yield f"http://127.0.0.1:{port}/"
        finally:
            process.terminate()  # `magwidgets dashboard` stops Voila and its kernels and removes its folder
            try:
                process.wait(90)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def dashboard_cli(port: int, *options: str) -> list[str]:
    """``magwidgets dashboard`` itself, as a user starts it."""
    return [sys.executable, "-m", "magwidgets.cli", "dashboard", "--no-browser", f"--port={port}", *options]


@pytest.fixture(scope="module")
def voila_dashboard(artifacts):
    """The dashboard served by ``magwidgets dashboard``, on a free port."""
    port = free_port()
    with serving(dashboard_cli(port), port, artifacts / "voila.log", dict(os.environ)) as url:
        yield url


@contextlib.contextmanager
def serving_notebook(source: str, folder: Path, log_path: Path):
    """A one-cell notebook of ``source``, served exactly as the dashboard is (template, timeouts, environment)."""
    import nbformat

    from magwidgets.cli import dashboard_command, dashboard_environment

    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)]), folder / "page.ipynb")
    port = free_port()
    command = dashboard_command(port, open_browser=False, notebook=folder / "page.ipynb")
    with serving(command, port, log_path, dashboard_environment(str(folder))) as url:
        yield url


@pytest.fixture(scope="module")
def voila_vmc_panel(artifacts, tmp_path_factory):
    """The VMC panel (helium, few walkers) alone on a page, served with the dashboard's Voila template."""
    source = "from magwidgets.widgets import VMCPanel\nVMCPanel('He', walkers=64)"
    with serving_notebook(source, tmp_path_factory.mktemp("vmc-page"), artifacts / "voila-vmc.log") as url:
        yield url


@pytest.fixture(scope="module")
def voila_with_token(artifacts):
    """``magwidgets dashboard --token``: (url without the token, the token)."""
    port, token = free_port(), "s3cret-for-class"
    with serving(dashboard_cli(port, f"--token={token}"), port, artifacts / "voila-token.log",
                 dict(os.environ)) as url:
        yield url, token


@pytest.fixture(scope="module")
def jupyter_lab(artifacts, tmp_path_factory):
    port = free_port()
    root = Path(__file__).parents[2]
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.token=",
               "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}",
               "--LabApp.news_url=", "--ServerApp.ip=127.0.0.1", "--allow-root"]
    env = dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE="false",
               JUPYTER_CONFIG_DIR=str(tmp_path_factory.mktemp("jupyter-config")))
    with serving(command, port, artifacts / "jupyterlab.log", env) as url:
        yield url
