"""The studio's "Class challenge" row: a teacher turns a hidden sample into a code, a student plays it.

Teacher: sketch (or keep) the sample of a "truth" task and press **Make a challenge code**; the code is shown
large, to copy or write on the board. The studio's sample becomes exactly what the code carries (quantised), so
the target on the teacher's screen is the one every student gets.

Student: type the code and press **Start challenge**. The studio switches to the code's task and fits the hidden
sample's G; the sample itself is not sent to the browser until **Reveal**. On the potential tasks the sample
sketcher holds the student's guess: with a per-site parametrisation (the 12 x 12 potential) the first start of
the run begins at the guess and the other starts at the usual random guesses; the defect task fits Gaussian
defects, which a sketch cannot seed, so there the guess is for the student's eyes only. Reveal shows the hidden
sample next to the best design and the largest difference between them on any site.

Everything lives in the code: nothing is stored on the server, and any kernel can decode it.
"""
from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Optional

import ipywidgets as widgets
import jax
import numpy as np

from ..design.challenge import CHALLENGE_TASKS, Challenge, Recipe, challenge_of, decode, encode, format_code
from ..design.params import SitePotential
from ..design.tasks import TASKS
from ._common import message_line, show_message, tagged
from .maps import SiteMap

if TYPE_CHECKING:  # the studio imports this module: only the type checker may look back
    from .studio import DesignStudio

HIDDEN = "hidden sample — press Reveal to compare"


class ClassChallenge(widgets.VBox):
    """The challenge row of a :class:`~magwidgets.widgets.studio.DesignStudio`.

    Parameters
    ----------
    studio : DesignStudio
        The studio whose task, sample, target and run it drives.

    Attributes
    ----------
    challenge : Challenge or None
        The challenge being played (None when none is).
    code : str
        The code it came from, in blocks.
    revealed : bool
        Whether the hidden sample is shown.
    """

    def __init__(self, studio: "DesignStudio") -> None:
        super().__init__()
        self.add_class("mw-challenge")
        self.studio = studio
        self.challenge: Optional[Challenge] = None
        self.code = ""
        self.revealed = False
        self.make_button = tagged(widgets.Button(description="Make a challenge code", icon="lock",
                                                 layout=dict(width="210px")), "mw-challenge-make")
        self.code_display = tagged(widgets.HTML(""), "mw-challenge-code")
        self.code_box = tagged(widgets.Text(placeholder="challenge code, e.g. 1K3Q-7ZP0-M4",
                                            description="challenge", layout=dict(width="330px")),
                               "mw-challenge-input")
        self.start_button = tagged(widgets.Button(description="Start challenge", icon="flag-checkered"),
                                   "mw-challenge-start")
        self.reveal_button = tagged(widgets.Button(description="Reveal", icon="eye", disabled=True),
                                    "mw-challenge-reveal")
        self.best_readout = tagged(widgets.HTML("–", description="best loss"), "mw-challenge-best")
        self.error_readout = tagged(widgets.HTML(""), "mw-challenge-error")
        self.message = tagged(message_line(), "mw-challenge-message")
        # The target a student fits, for a script or a browser test to compare with the decoded code. The target is
        # no secret (it is plotted); the hidden sample itself never enters a widget before Reveal.
        self.target_values = tagged(widgets.HTML("", layout=dict(display="none")), "mw-challenge-target")
        self.placeholder = tagged(widgets.HTML(f'<div style="width: 360px; padding: 60px 10px; text-align: center; '
                                               f'border: 2px dashed #999999; color: #555555; font-size: 15px">'
                                               f'{html.escape(HIDDEN)}</div>'), "mw-challenge-hidden")
        self.truth_map = SiteMap("hidden sample (revealed)", (30, 30), "mw-challenge-truth-figure", symmetric=True,
                                 label="V (t)")
        self.make_button.on_click(lambda _button: self.make())
        self.start_button.on_click(lambda _button: self.start(self.code_box.value))
        self.reveal_button.on_click(lambda _button: self.reveal())
        self.children = [
            widgets.HBox([self.make_button, self.code_display], layout=dict(align_items="center")),
            widgets.HBox([self.code_box, self.start_button, self.best_readout, self.reveal_button],
                         layout=dict(align_items="center", flex_flow="row wrap")),
            self.message, self.error_readout, self.target_values]

    @property
    def active(self) -> bool:
        """True while a challenge is played (its sample's G is the target and the sketcher holds the guess)."""
        return self.challenge is not None

    @property
    def hidden(self) -> bool:
        """True while the sample must stay out of sight (in the browser and in downloads)."""
        return self.active and not self.revealed

    # -- teacher ----------------------------------------------------------------------------------------------
    def make(self) -> Optional[str]:
        """Encode the current task's sample; show the code and make the studio's sample the one it carries.

        Returns
        -------
        str or None
            The code, or None (with a message saying why) when the task has no sample to hide.
        """
        studio, task = self.studio, self.studio.task
        if self.hidden:
            show_message(self.message, "This sample is hidden: press Reveal (or pick a task) before making a code.")
            return None
        if task.name not in CHALLENGE_TASKS:
            names = ", ".join(repr(TASKS[name].label) for name in CHALLENGE_TASKS)
            show_message(self.message, f"{task.label!r} fits a drawn curve, not a hidden sample: pick one of {names}.")
            return None
        sketcher = studio.potential_sketcher
        candidates = [Recipe("default_truth", dict(seed=int(studio.seed_box.value))),
                      Recipe("disorder", dict(strength=float(sketcher.disorder_strength.value),
                                              seed=int(sketcher.disorder_seed.value)))]
        truth = studio._truth
        challenge = challenge_of(task.name, truth.get("potential"), truth.get("theta"), candidates=candidates)
        code = encode(challenge)
        # what the students decode, to the last bit: the teacher's target is then theirs
        if task.solves_magnetisation:
            studio._truth = dict(challenge.sample)
            studio.truth_map.show(np.cos(challenge.theta))
            studio._set_truth_target()
        else:
            sketcher.set_potential(challenge.potential, record=False)  # the sketch observer sets the target
        size = 30 if len(code) <= 40 else 16
        self.code_display.value = (f'<span style="font: 600 {size}px monospace; user-select: all; '
                                   f'word-break: break-all; letter-spacing: 1px">{html.escape(code)}</span>')
        kind = "a ready-made sample" if challenge.recipe is not None else "the sketched sample itself"
        show_message(self.message, f"Challenge code for {task.label!r} ({len(code.replace('-', ''))} characters, "
                                   f"{kind}): students type it into 'challenge' and press Start challenge.", "info")
        return code

    # -- student ----------------------------------------------------------------------------------------------
    def start(self, code: str) -> bool:
        """Play the challenge ``code``: switch to its task, fit its hidden sample's G, hide the sample.

        A malformed code leaves everything as it was and says under the box what was expected.

        Returns
        -------
        bool
            Whether the challenge started.
        """
        studio = self.studio
        try:
            challenge = decode(code)
        except ValueError as error:
            show_message(self.message, str(error))
            return False
        if studio.runner is not None and studio.runner.driver is not None and studio.runner.state in (
                "running", "paused", "queued"):
            show_message(self.message, "Stop the current run before starting a challenge (your run is kept).")
            return False
        studio.set_task(challenge.task, prepare=False)  # leaves any challenge being played
        self.enter(challenge, code)
        studio._discard_runner()
        studio._new_runner().prepare()
        return True

    def enter(self, challenge: Challenge, code: str) -> None:
        """Make ``challenge`` the studio's hidden target (the studio is on its task already)."""
        studio, task = self.studio, TASKS[challenge.task]
        self.challenge, self.code, self.revealed = challenge, format_code(code), False
        studio._truth = dict(challenge.sample)
        studio._set_truth_target()
        # the target is the hidden sample's G: no drawing over it
        studio.target_sketcher.figure.interaction = None
        if task.solves_magnetisation:
            studio.sample_area.children = [self.placeholder]
            guess = "The hidden magnetisation's m_z is what the fit looks for."
        else:
            studio.potential_sketcher.set_wire(task.wire)  # an empty guess; `active` keeps it off the target
            studio.sample_area.children = [self.placeholder, studio.potential_sketcher]
            guess = ("Sketch a guess below: the run's first start begins at it." if self._seeds_the_run() else
                     "Sketch a guess below to think with (this task fits Gaussian defects, which a sketch "
                     "cannot seed).")
        self.target_values.value = json.dumps(np.asarray(studio._target()[0], float).tolist())
        self.best_readout.value = "–"
        self.error_readout.value = ""
        self.reveal_button.disabled = False
        name = f"Challenge {self.code}" if len(self.code) <= 24 else "Challenge started"  # a long code is noise
        show_message(self.message, f"{name}: {task.label}. The target is the hidden sample's G. "
                                   f"{guess} Press Run, then Reveal to compare.", "info")

    def leave(self) -> None:
        """Stop playing (the studio is switching task): forget the challenge, clear its readouts."""
        if not self.active:
            return
        self.challenge, self.code, self.revealed = None, "", False
        self.best_readout.value, self.error_readout.value, self.target_values.value = "–", "", ""
        self.reveal_button.disabled = True

    def _seeds_the_run(self) -> bool:
        return isinstance(self.studio.task.parametrisation(), SitePotential)

    def initial_params(self, n_starts: int, seed: int):
        """Where the run starts while a challenge is played: the first start at the student's sketch, the others
        where the run would start anyway (None: no sketch, or a parametrisation a sketch cannot seed)."""
        guess = np.asarray(self.studio.potential_sketcher.potential, float)
        if not self.active or not self._seeds_the_run() or not np.any(guess):
            return None
        task = self.studio.task
        parametrisation = task.parametrisation()
        first = task.measurement.onsite(guess) - parametrisation.offset  # onsite = offset + params
        if n_starts == 1:
            return first
        # the same random starts as a run without a guess (the driver's keys), the first replaced by the guess
        others = jax.vmap(parametrisation.init)(jax.random.split(jax.random.PRNGKey(seed), n_starts))
        return _with_first(np.asarray(others), first)

    def show_loss(self, best: float) -> None:
        """The best loss so far (called with each frame while a challenge is played)."""
        if self.active:
            self.best_readout.value = f"<b>{best:.4g}</b>"

    # -- reveal -----------------------------------------------------------------------------------------------
    def reveal(self) -> None:
        """Show the hidden sample next to the best design, and their largest difference on any site."""
        if not self.active:
            show_message(self.message, "No challenge to reveal: start one with its code.")
            return
        studio, task = self.studio, TASKS[self.challenge.task]
        potential, theta = task.problem().known_sites(self.challenge.potential, self.challenge.theta)
        truth = np.cos(theta) if task.solves_magnetisation else potential
        quantity, unit = ("m_z", "") if task.solves_magnetisation else ("V", " t")
        self.truth_map.colour_bar.relabel(quantity + (" (t)" if unit else ""))
        self.truth_map.show(truth, f"hidden sample (revealed): {quantity}")
        self.revealed = True
        children = [self.truth_map.widget]
        if not task.solves_magnetisation:
            children.append(studio.potential_sketcher)
        studio.sample_area.children = children
        design = studio.runner.driver if studio.runner is not None else None
        if design is None or design.step == 0:
            self.error_readout.value = "No design yet: press Run to fit the target, then compare."
            return
        best = design.best_point()
        onsite, theta_design = task.parametrisation().fields(best.params)
        field = np.cos(np.asarray(theta_design)) if task.solves_magnetisation else task.measurement.potential(onsite)
        with studio._frame_lock:
            studio.design_map.show(field, f"best design: {quantity} (loss {float(best.loss):.4g})")
        error = float(np.max(np.abs(field - truth)))
        self.error_readout.value = (f"best design (loss {float(best.loss):.4g}) against the hidden sample: "
                                    f"max |{quantity}<sub>design</sub> − {quantity}<sub>hidden</sub>| over the "
                                    f"sites = <b>{error:.3g}{unit}</b>")


def _with_first(stack: np.ndarray, first: np.ndarray) -> np.ndarray:
    stack = stack.copy()
    stack[0] = first
    return stack
