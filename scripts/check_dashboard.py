"""Open a served magwidgets dashboard in Chromium and check that it renders and that Run advances the design.

    python scripts/check_dashboard.py http://127.0.0.1:PORT/ [--timeout 300] [--steps 1] [--screenshot page.png]

Exits 0 when the page showed the studio's figures without an error and the step counter reached ``--steps`` after
Run, 1 otherwise
(with the reason). Drives Debian's Chromium (``/usr/bin/chromium``, or ``$CHROMIUM``) through Playwright's Python
package; it never downloads a browser.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def step_count(page) -> int:
    """The studio's step readout as a number (it shows "0" before the first step)."""
    numbers = re.findall(r"\d+", page.locator(".mw-design-studio .mw-step").first.inner_text())
    return int(numbers[-1]) if numbers else 0


def check(url: str, timeout: float, screenshot: str | None, steps: int = 1) -> str | None:
    """Return None when the dashboard at ``url`` renders and Run advances it by ``steps``, else what went wrong."""
    from playwright.sync_api import sync_playwright

    deadline = time.monotonic() + timeout
    remaining_ms = lambda: max(1.0, deadline - time.monotonic()) * 1000  # noqa: E731
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                                             headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=dict(width=1400, height=1500))
        try:
            page.goto(url, timeout=remaining_ms())
            page.wait_for_selector(".mw-design-studio .mw-run", state="visible", timeout=remaining_ms())
            page.wait_for_selector(".mw-potential-figure svg", state="visible", timeout=remaining_ms())
            for problem in (".voila-error", "text=Error displaying widget"):
                if page.locator(problem).count():
                    return f"the page shows {problem}"
            before = step_count(page)
            page.locator(".mw-design-studio .mw-run").first.click()
            while step_count(page) < before + steps:
                if time.monotonic() > deadline:
                    status = page.locator(".mw-design-studio .mw-status").first.inner_text()
                    return (f"Run did not advance the step counter by {steps} within {timeout:.0f} s "
                            f"(status: {status!r})")
                page.wait_for_timeout(250)
            print(f"dashboard rendered; Run advanced it to step {step_count(page)}", file=sys.stderr)
            page.locator(".mw-design-studio .mw-pause").first.click()
            return None
        except Exception as error:  # a selector that never appeared: report it, not a traceback
            return f"{type(error).__name__}: {str(error).splitlines()[0]}"
        finally:
            if screenshot:
                page.screenshot(path=screenshot, full_page=True)
            browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds for the whole check")
    parser.add_argument("--steps", type=int, default=1, help="steps Run must advance (default 1)")
    parser.add_argument("--screenshot", help="PNG of the page at the end")
    args = parser.parse_args()
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    problem = check(args.url, args.timeout, args.screenshot, args.steps)
    if problem:
        print(f"check_dashboard: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
