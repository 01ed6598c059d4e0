"""Class challenge codes: a hidden sample survives the code, typos and malformed codes are caught and explained."""
import numpy as np
import pytest

from magwidgets.core.potentials import gaussian_antidot, preset_potential
from magwidgets.design import challenge as codes
from magwidgets.design.challenge import (ALPHABET, ANGLE_STEP, POTENTIAL_STEP, Challenge, Recipe, challenge_of,
                                         decode, encode)
from magwidgets.design.tasks import TASKS

DEFECT, POTENTIAL, MAGNET = "identify_defect", "reconstruct_potential", "reconstruct_magnetisation"


def _sketch() -> np.ndarray:
    """A few brush strokes on the 30 x 30 wire: a raised diagonal, a dug trench and one stamped antidot."""
    wire = TASKS[DEFECT].wire
    sketch = sum(gaussian_antidot(wire, x, x, 2.0, 2.0) for x in range(8, 13))
    sketch = sketch - sum(gaussian_antidot(wire, x, 20, 2.0, 2.0) for x in range(20, 23))
    return np.maximum(sketch, gaussian_antidot(wire, 15, 25, 2.0, 2.0))


def _round_trip(challenge: Challenge) -> Challenge:
    decoded = decode(encode(challenge))
    assert decoded.task == challenge.task
    np.testing.assert_array_equal(decoded.potential, challenge.potential)
    if challenge.theta is None:
        assert decoded.theta is None
    else:
        np.testing.assert_array_equal(decoded.theta, challenge.theta)
    return decoded


@pytest.mark.parametrize("options, longest", [({}, 11), (dict(x=20, y=5), 17),
                                              (dict(x=20, y=5, amplitude=2.0, radius=1.5), 26)])
def test_an_antidot_is_a_short_recipe(options, longest):
    wire = TASKS[DEFECT].wire
    sample = preset_potential("antidot", wire, **options)
    challenge = challenge_of(DEFECT, sample)
    # seed 000's own antidot is also the defect task's default truth: either recipe is as short
    assert challenge.recipe is not None and challenge.recipe.name in ("antidot", "default_truth")
    assert len(encode(challenge)) <= longest
    np.testing.assert_allclose(_round_trip(challenge).potential, sample, atol=POTENTIAL_STEP / 2)


def test_presets_and_default_truths_round_trip_as_recipes():
    wire = TASKS[DEFECT].wire
    disorder = preset_potential("disorder", wire, strength=1.5, seed=7)
    hinted = challenge_of(DEFECT, disorder, candidates=[Recipe("disorder", dict(strength=1.5, seed=7))])
    assert hinted.recipe == Recipe("disorder", dict(strength=1.5, seed=7)) and len(encode(hinted)) <= 20
    np.testing.assert_array_equal(_round_trip(hinted).potential, disorder)
    for task, seed in ((POTENTIAL, 3), (MAGNET, 0), (MAGNET, 5)):
        truth = TASKS[task].default_truth(seed)
        challenge = challenge_of(task, truth["potential"], truth.get("theta"),
                                 candidates=[Recipe("default_truth", dict(seed=seed))])
        assert challenge.recipe.name == "default_truth" and challenge.recipe.options.get("seed", 0) == seed
        assert len(encode(challenge)) <= 11
        decoded = _round_trip(challenge)
        np.testing.assert_array_equal(decoded.potential, truth["potential"])
        if "theta" in truth:
            np.testing.assert_array_equal(decoded.theta, truth["theta"])
    for name in ("clean", "ring"):
        sample = preset_potential(name, wire)
        assert challenge_of(DEFECT, sample).recipe == Recipe(name)


def test_free_samples_round_trip_within_the_quantisation():
    rng = np.random.default_rng(11)
    sketch = _sketch()
    cases = [(DEFECT, sketch, None), (POTENTIAL, rng.uniform(-0.3, 0.3, (12, 12)), None),
             (MAGNET, None, rng.uniform(0.0, 1.0, (12, 12))),
             (MAGNET, rng.uniform(-0.5, 0.5, (12, 12)), rng.uniform(-3.0, 3.0, (12, 12))),
             (DEFECT, np.full((30, 30), 40.0) * (rng.random((30, 30)) > 0.9), None)]  # beyond int16 steps
    for task, potential, theta in cases:
        challenge = challenge_of(task, potential, theta)
        assert challenge.recipe is None
        decoded = _round_trip(challenge)
        np.testing.assert_allclose(decoded.potential, 0 if potential is None else potential, atol=POTENTIAL_STEP / 2)
        if theta is not None:
            np.testing.assert_allclose(decoded.theta, theta, atol=ANGLE_STEP / 2)
    assert len(encode(challenge_of(DEFECT, sketch))) < 1000  # a few strokes stay below a page of blocks


@pytest.mark.parametrize("task", [POTENTIAL, MAGNET])
def test_the_student_target_is_the_hidden_samples_g(task):
    rng = np.random.default_rng(2)
    sample = dict(potential=rng.uniform(-0.3, 0.3, (12, 12)))
    if task == MAGNET:
        sample = dict(potential=None, theta=rng.uniform(0.0, 1.0, (12, 12)))
    teacher = challenge_of(task, **sample)
    student = decode(encode(teacher))
    target = student.target()
    np.testing.assert_allclose(target, TASKS[task].truth_conductance(student.potential, student.theta),
                               rtol=0, atol=1e-12)
    # the teacher's target comes from the same quantised sample: equal to the last bit
    np.testing.assert_array_equal(teacher.target(), target)
    # ... and the quantisation is invisible in G next to the fit's own accuracy
    exact = TASKS[task].truth_conductance(sample["potential"] if sample["potential"] is not None else np.zeros((12, 12)),
                                          sample.get("theta"))
    assert np.max(np.abs(exact - target)) < 1e-2


def test_the_defect_target_matches_the_task():
    wire = TASKS[DEFECT].wire
    student = decode(encode(challenge_of(DEFECT, preset_potential("antidot", wire, x=12, y=7))))
    np.testing.assert_allclose(student.target(), TASKS[DEFECT].truth_conductance(
        preset_potential("antidot", wire, x=12, y=7)), rtol=0, atol=1e-12)


def _codes() -> list[str]:
    rng = np.random.default_rng(4)
    return [encode(challenge_of(DEFECT, preset_potential("antidot", TASKS[DEFECT].wire, x=20, y=5))),
            encode(challenge_of(MAGNET, None, rng.uniform(0.0, 1.0, (12, 12)))),
            encode(challenge_of(DEFECT, _sketch()))]


def test_every_single_character_typo_is_detected():
    for code in _codes():
        plain = code.replace("-", "")
        for position, right in enumerate(plain):
            for wrong in ALPHABET:
                if wrong != right:
                    with pytest.raises(ValueError, match="typed exactly"):
                        decode(plain[:position] + wrong + plain[position + 1:])
        for position in range(len(plain) - 1):  # two neighbours swapped
            swapped = plain[:position] + plain[position + 1] + plain[position] + plain[position + 2:]
            if swapped != plain:
                with pytest.raises(ValueError):
                    decode(swapped)


def test_reading_forgives_case_dashes_and_look_alike_letters():
    code = _codes()[0]
    expected = decode(code).potential
    for variant in (code.lower(), code.replace("-", " "), code.replace("-", ""), code.replace("0", "O"),
                    code.replace("1", "l"), f"  {code}\n"):
        np.testing.assert_array_equal(decode(variant).potential, expected)


def test_truncated_codes_say_they_are_incomplete():
    for code in _codes():
        plain = code.replace("-", "")
        for cut in range(1, len(plain)):
            with pytest.raises(ValueError, match="cut off|missing|completely|version"):
                decode(plain[:cut])
    with pytest.raises(ValueError, match="no challenge code"):
        decode("  - ")


@pytest.mark.parametrize("code, message", [("1K3Q-7UP0", "'U' \\(character 6\\)"), ("1K3Q*7ZP0", "'\\*'"),
                                           ("1K3Q-7ZP0-MÄ", "'Ä'"), (None, "text")])
def test_wrong_characters_are_named(code, message):
    with pytest.raises(ValueError, match=message + ".*expected blocks like"):
        decode(code)


def _forged(body: bytes, version: int = codes.VERSION) -> str:
    """A code with valid check digits around any body: what a future or a broken encoder would write."""
    return codes.format_code(ALPHABET[version] + codes._to_base32(body + codes._check(version, body)))


def test_another_version_is_named():
    body = codes._body(challenge_of(DEFECT, preset_potential("antidot", TASKS[DEFECT].wire)))
    with pytest.raises(ValueError, match="version 2 code.*reads version 1"):
        decode(_forged(body, version=2))


@pytest.mark.parametrize("body, message", [
    (bytes([0x70, 0x02]), "task number 7"),
    (bytes([0x00, 0x0C]), "recipe 12"),
    (bytes([0x00, 0xF3]), "options it does not take"),
    (bytes([0x00, 0x12]), "ends too early"),
    (bytes([0x00, 0x12, 0x00, 0x00]), "bytes more"),
    (bytes([0x00, 0x82, 0x00]), "radius must be > 0"),
    (bytes([0x05, 0x00]), "unknown kind"),
    (bytes([0x01, 0x04]), "flags"),
    (bytes([0x11, 0x01, 0x11, 0x00]), "wrong size|cannot be unpacked"),
    (bytes([0x11, 0x01, 0x00, 0x00, 0x40]), "bits per value"),
    (bytes([0x21, 0x02, 0x07]), "unknown way"),
])
def test_malformed_samples_with_valid_check_digits_are_explained(body, message):
    with pytest.raises(ValueError, match=message):
        decode(_forged(body))


def test_a_sample_must_fit_its_task():
    with pytest.raises(ValueError, match="hidden sample"):
        Challenge("design_curve", np.zeros((30, 30)))
    with pytest.raises(ValueError, match=r"shape \(12, 12\)"):
        Challenge(POTENTIAL, np.zeros((30, 30)))
    with pytest.raises(ValueError, match="finite"):
        Challenge(POTENTIAL, np.full((12, 12), np.nan))
    with pytest.raises(ValueError, match="theta"):
        Challenge(MAGNET, np.zeros((12, 12)))
    with pytest.raises(ValueError, match="no magnetisation"):
        Challenge(POTENTIAL, np.zeros((12, 12)), np.zeros((12, 12)))
