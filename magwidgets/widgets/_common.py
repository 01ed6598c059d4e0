"""Pieces every panel shares: the message line, uploads treated as untrusted bytes, download links, and a
background thread for one-off computations."""
from __future__ import annotations

import base64
import html
import threading
import time
from typing import Callable, Optional, Sequence

import ipywidgets as widgets

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


def tagged(widget: widgets.Widget, css_class: str) -> widgets.Widget:
    """``widget`` with the CSS class ``css_class`` added (how tests and the browser find controls)."""
    widget.add_class(css_class)
    return widget


class RunButtons:
    """Run / Pause / Stop / Reset and the status line of a panel whose run is a
    :class:`~magwidgets.session.live.LiveRun`.

    Pause and Stop only set the runner's flags; Run and Reset call the panel's ``on_run`` and ``on_reset``.
    ``runner`` returns the panel's current LiveRun (or None). :meth:`show` reflects a run state in the buttons,
    the status line and the panel's setting ``inputs`` (locked while a run is under way). While a run is being
    built and compiled (seconds the first time on a grid), ``progress`` says so with the elapsed time, refreshed
    every second; the panel's build can name its stages with ``progress.step(text)``.
    """

    def __init__(self, on_run: Callable, on_reset: Callable, runner: Callable) -> None:
        self.run = tagged(widgets.Button(description="Run", button_style="success", icon="play"), "mw-run")
        self.pause = tagged(widgets.Button(description="Pause", icon="pause"), "mw-pause")
        self.stop = tagged(widgets.Button(description="Stop", button_style="danger", icon="stop"), "mw-stop")
        self.reset = tagged(widgets.Button(description="Reset", icon="undo"), "mw-reset")
        self.status = tagged(widgets.HTML("idle"), "mw-status")
        self.progress = ProgressLine("mw-run-progress", interval=0.5)
        self._runner = runner
        self.run.on_click(on_run)
        self.reset.on_click(on_reset)
        self.pause.on_click(lambda _button: self._runner() and self._runner().pause())
        self.stop.on_click(lambda _button: self._runner() and self._runner().stop())

    @property
    def buttons(self) -> tuple[widgets.Button, ...]:
        return self.run, self.pause, self.stop, self.reset

    def show(self, state: str, inputs: Sequence[widgets.Widget] = (), message: Optional[str] = None) -> None:
        """Reflect ``state`` (and its ``message``: the place in the queue when "queued", "at step N" once a paused
        run holds)."""
        runner = self._runner()
        under_way = state in ("running", "paused") or (state == "queued" and runner is not None
                                                          and runner.driver is not None)
        status = {"failed": "failed (last good state kept)",
                  "queued": f"queued for a compute slot ({message or 'waiting'})",
                  "paused": f"paused {message}" if message else "paused"}.get(state, state)
        if runner is not None and runner.run_requested:
            status += " · runs when ready"
        self.status.value = status
        if state != "compiling":
            self.progress.stop()
        elif not self.progress.active:
            self.progress.start("preparing the run: building it and compiling its steps")
        self.run.disabled = state == "running" or (state == "queued" and under_way)
        self.pause.disabled = state not in ("running", "compiling", "queued")
        self.stop.disabled = not under_way
        for control in inputs:
            control.disabled = under_way


def section(title: str, *children: widgets.Widget) -> widgets.VBox:
    """A titled group of a panel's controls or figures (what they are about: problem, optimiser, run, ...)."""
    heading = widgets.HTML(f'<div style="font-family: sans-serif; font-size: 13px; font-weight: 600; '
                           f'color: #444444; border-bottom: 1px solid #dddddd; margin: 6px 0 2px 0">'
                           f'{html.escape(title)}</div>')
    box = widgets.VBox([heading, *children])
    box.add_class("mw-section")
    return box


def message_line() -> widgets.HTML:
    """An empty message line (CSS class ``mw-message``) under a panel's controls."""
    line = widgets.HTML("")
    line.add_class("mw-message")
    return line


def show_message(line: widgets.HTML, text: str, kind: str = "error") -> None:
    """Show ``text`` in ``line``: red for "error", grey for "info", empty text clears it."""
    colour = {"error": "#b00020", "info": "#555555"}[kind]
    line.value = f'<span class="mw-{kind}" style="color: {colour}">{html.escape(text)}</span>' if text else ""


def read_upload(upload: widgets.FileUpload, max_bytes: int = MAX_UPLOAD_BYTES) -> Optional[tuple[str, bytes]]:
    """The (name, bytes) of the last file given to ``upload``, or None when there is none.

    Raises ValueError for a file larger than ``max_bytes``: uploads come from anyone on a class server. The size
    is checked before a byte is copied, on both the size the browser states and the content actually sent (a
    forged message can state 10 bytes and send 100 MB).
    """
    if not upload.value:
        return None
    entry = upload.value[-1]
    name = str(entry.get("name", "the file"))
    try:
        content = memoryview(entry["content"])
    except (KeyError, TypeError):
        raise ValueError(f"{name}: the upload carried no file content") from None
    stated = entry.get("size")
    stated = stated if isinstance(stated, (int, float)) and not isinstance(stated, bool) and stated == stated else 0
    size = max(float(stated), content.nbytes)
    if size > max_bytes:
        raise ValueError(f"{name} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB")
    return name, content.tobytes()


def download_link(data: bytes, filename: str, label: str, mime: str = "application/octet-stream") -> str:
    """HTML for a link that saves ``data`` as ``filename`` in the browser (a data URI; no server round trip)."""
    encoded = base64.b64encode(data).decode()
    return (f'<a download="{html.escape(filename)}" href="data:{mime};base64,{encoded}" '
            f'class="mw-download">{html.escape(label)}</a>')


class LatestOnly:
    """Run requested computations in one background thread, skipping any superseded before it started.

    A slider dragged across ten values asks for ten forward sweeps; only the last one matters, and none of them
    may block the kernel's message loop. A request replaces a pending one with the same ``key``; requests with
    different keys all run, in order. Exceptions go to ``on_error``.
    """

    def __init__(self, on_error) -> None:
        self._on_error = on_error
        self._pending: dict = {}
        self._condition = threading.Condition()
        self._idle = threading.Event()
        self._idle.set()
        threading.Thread(target=self._work, name="magwidgets-compute", daemon=True).start()

    def submit(self, job, key=None) -> None:
        with self._condition:
            self._pending.pop(key, None)
            self._pending[key] = job
            self._idle.clear()
            self._condition.notify()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until every submitted job has run (for tests and scripts); False on timeout."""
        return self._idle.wait(timeout)

    def _work(self) -> None:
        while True:
            with self._condition:
                while not self._pending:
                    self._idle.set()
                    self._condition.wait()
                job = self._pending.pop(next(iter(self._pending)))
            try:
                job()
            except Exception as error:  # shown in the panel; the thread lives on for the next request
                self._on_error(error)


class ProgressLine:
    """A line of text that says what a long computation is doing, refreshed at least every ``interval`` seconds.

    :meth:`start` shows a task; :meth:`report` (the ``progress(done, total)`` callback of the core's lead
    computation, called from the computing thread) updates its count of points, redrawn at most every
    ``interval`` s apart from the first and last report; a daemon thread redraws the latest count and the elapsed
    time in between, so the line moves even while one step (a compilation, the sweep itself) runs without
    reports; :meth:`stop` clears it. Only text changes: the computation stays in the core.
    """

    def __init__(self, css_class: str, interval: float = 0.25) -> None:
        self.line = tagged(widgets.HTML(""), css_class)
        self.interval = interval
        self._lock = threading.Lock()
        self._task: Optional[str] = None
        self._count = ""
        self._started = self._shown = 0.0
        self._generation = 0

    def start(self, task: str, delay: float = 0.0) -> None:
        """Show ``task``; with ``delay`` > 0, only once it has run that long (quick updates then never flash)."""
        with self._lock:
            now = time.monotonic()
            # the ticker draws once ``interval`` has passed since ``_shown``: pretend a drawing that makes it ``delay``
            self._task, self._count, self._started = task, "", now
            self._shown = now + delay - self.interval if delay > 0 else 0.0
            self._generation += 1
            generation = self._generation
        if delay <= 0:
            self._render()
        threading.Thread(target=self._tick, args=(generation,), name="magwidgets-progress", daemon=True).start()

    @property
    def active(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._task is not None

    def step(self, task: str) -> None:
        """Go on with another task of the same computation (the elapsed time keeps counting)."""
        with self._lock:
            self._task, self._count = task, ""
        self._render()

    def report(self, done: int, total: int) -> None:
        now = time.monotonic()
        with self._lock:
            if self._task is None:
                return
            self._count = (f"leads of {total} points ready" if done >= total else
                           f"leads {done} of {total} points ({100 * done // max(total, 1)}%)")
            due = not 0 < done < total or now - self._shown >= self.interval
        if due:  # otherwise the ticker shows the latest count within ``interval``
            self._render()

    def stop(self) -> None:
        with self._lock:
            self._task = None
            self._generation += 1
        self.line.value = ""

    def _render(self) -> None:
        with self._lock:
            if self._task is None:
                return
            self._shown = time.monotonic()
            elapsed = self._shown - self._started
            text = f"{self._task}{': ' + self._count if self._count else ''} · {elapsed:.0f} s"
        # Font Awesome's spinner (Voila and JupyterLab both serve the font): an emoji hourglass is an empty box on
        # machines without an emoji font, as many classroom installations are
        self.line.value = (f'<span class="mw-progress" style="color: #555555"><i class="fa fa-spinner fa-spin"></i> '
                           f'{html.escape(text)}</span>')

    def _tick(self, generation: int) -> None:
        while True:
            time.sleep(max(self.interval, 0.05))
            with self._lock:
                if generation != self._generation:
                    return
                due = time.monotonic() - self._shown >= self.interval
            if due:
                self._render()
