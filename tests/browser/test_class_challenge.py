"""A class challenge across two browser contexts (two kernels): the teacher's code gives the student the hidden
sample's G(B) as the target, not the sample; Run lowers the student's best loss; Reveal shows the sample."""
import json

import numpy as np
import pytest

from magwidgets.design.challenge import decode

from polling import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGE_TIMEOUT_MS = 240_000


def _open(browser, url):
    context = browser.new_context(viewport=dict(width=1400, height=1700))
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.goto(url, timeout=PAGE_TIMEOUT_MS)
    page.wait_for_selector(".mw-challenge-make", state="visible")
    page.wait_for_selector(".mw-potential-figure svg", state="visible")
    return context, page


def _best_loss(page):
    text = page.locator(".mw-challenge-best").first.inner_text()
    try:
        return float(text.split()[-1])
    except (ValueError, IndexError):
        return None


def test_a_code_carries_the_hidden_sample_to_another_kernel(browser, voila_dashboard, artifacts):
    teacher_context, teacher = _open(browser, voila_dashboard)
    student_context, student = _open(browser, voila_dashboard)
    try:
        # the teacher adds a bump to the default antidot: a free sketch, carried as an array
        undo = teacher.locator(".mw-design-studio .mw-potential-sketcher .mw-undo")
        box = teacher.locator(".mw-design-studio .mw-potential-figure").first.bounding_box()
        teacher.mouse.click(box["x"] + 0.3 * box["width"], box["y"] + 0.5 * box["height"])
        wait_until(lambda: undo.is_enabled(), 30, "the teacher's click did not change the sample")
        teacher.locator(".mw-challenge-make").first.click()
        code = wait_until(lambda: teacher.locator(".mw-challenge-code").first.inner_text().strip(), 120,
                           "no challenge code appeared")
        teacher.screenshot(path=str(artifacts / "challenge-teacher.png"), full_page=True)
        challenge = decode(code)
        assert challenge.recipe is None and challenge.task == "identify_defect"

        # the student: a malformed code first, which changes nothing and says what was expected
        box = student.locator(".mw-challenge-input input").first
        box.fill(code[:-1] + ("0" if code[-1] != "0" else "1"))
        student.locator(".mw-challenge-start").first.click()
        wait_until(lambda: "expected blocks like" in student.locator(".mw-challenge-message").first.inner_text(),
                    60, "a mistyped code gave no message")
        assert student.locator(".mw-challenge-hidden").count() == 0
        box.fill(code)
        student.locator(".mw-challenge-start").first.click()
        student.wait_for_selector(".mw-challenge-hidden", state="visible")
        readout = student.locator(".mw-challenge-target").first
        values = wait_until(lambda: readout.text_content(), 120, "the target readout stayed empty")
        np.testing.assert_allclose(np.array(json.loads(values)), challenge.target(), rtol=0, atol=1e-12)
        # before Reveal the sample is not on the page: a placeholder, no truth map
        assert "press Reveal" in student.locator(".mw-challenge-hidden").first.inner_text()
        assert student.locator(".mw-challenge-truth-figure").count() == 0
        student.screenshot(path=str(artifacts / "challenge-student.png"), full_page=True)

        student.locator(".mw-run").first.click()
        first = wait_until(lambda: _best_loss(student), 240, "the best-loss readout never showed a number")
        wait_until(lambda: (_best_loss(student) or first) < first - 0.05, 240,
                    f"the best loss did not fall below {first} within 240 s")
        student.locator(".mw-stop").first.click()
        wait_until(lambda: "stopped" in student.locator(".mw-status").first.inner_text(), 120,
                    "Stop did not stop the run")

        student.locator(".mw-challenge-reveal").first.click()
        student.wait_for_selector(".mw-challenge-truth-figure", state="visible")
        wait_until(lambda: "max |V" in student.locator(".mw-challenge-error").first.inner_text(), 60,
                    "Reveal did not compare the design with the hidden sample")
        assert student.locator(".mw-challenge-hidden").count() == 0
        student.screenshot(path=str(artifacts / "challenge-revealed.png"), full_page=True)
    finally:
        teacher_context.close()
        student_context.close()
