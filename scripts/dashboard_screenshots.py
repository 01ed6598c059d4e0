"""Screenshots of a served dashboard, as a class sees it on a projector and on a full-HD screen.

    magwidgets dashboard --no-browser --port 8866 &
    python scripts/dashboard_screenshots.py http://127.0.0.1:8866/ docs/screenshots [--steps 40]

For each size (1366 x 768 and 1920 x 1080) it writes ``studio-<size>.png`` (the design studio after Run has taken
``--steps`` steps on the default task, paused) and ``explorer-<size>.png`` (the fingerprint explorer once its map and
Play's frames are ready, playing), each the whole panel from the top of the page. Drives Debian's Chromium
(``/usr/bin/chromium``, or ``$CHROMIUM``) through Playwright; it never downloads a browser.
"""
from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]
SIZES = {"1366x768": (1366, 768), "1920x1080": (1920, 1080)}


def step_count(page) -> int:
    numbers = re.findall(r"\d+", page.locator(".mw-design-studio .mw-step").first.inner_text())
    return int(numbers[-1]) if numbers else 0


def whole_panel(page, path: Path, size: tuple[int, int]) -> None:
    """The page at the screen's width, as tall as its content (Voila scrolls inside the page, not the window)."""
    page.mouse.move(1, 1)  # no figure toolbar shown by hovering
    page.evaluate("""() => {  // back to the top of whichever element scrolls (Voila scrolls inside the page)
        for (let el = document.querySelector('.mw-dashboard'); el; el = el.parentElement) el.scrollTop = 0;
        window.scrollTo(0, 0); }""")
    height = page.evaluate("document.querySelector('.mw-dashboard').getBoundingClientRect().bottom")
    page.set_viewport_size(dict(width=size[0], height=max(size[1], int(height) + 40)))
    page.wait_for_timeout(500)
    page.screenshot(path=str(path))
    page.set_viewport_size(dict(width=size[0], height=size[1]))


def shoot(url: str, folder: Path, steps: int, timeout: float) -> None:
    from playwright.sync_api import sync_playwright

    folder.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                                             headless=True, args=CHROMIUM_ARGS)
        for name, size in SIZES.items():
            page = browser.new_page(viewport=dict(width=size[0], height=size[1]))
            page.set_default_timeout(timeout * 1000)
            page.goto(url)
            page.wait_for_selector(".mw-design-studio .mw-run", state="visible")
            page.locator(".mw-design-studio .mw-run").first.click()
            deadline = time.monotonic() + timeout
            while step_count(page) < steps and time.monotonic() < deadline:
                page.wait_for_timeout(250)
            page.locator(".mw-design-studio .mw-pause").first.click()
            page.wait_for_timeout(1500)
            whole_panel(page, folder / f"studio-{name}.png", size)
            page.locator(".lm-TabBar-tab", has_text="Fingerprint explorer").first.click()
            page.wait_for_selector(".mw-explorer-player .mw-play button:not([disabled])", state="attached")
            page.locator(".mw-explorer-player .mw-play button").first.click()
            page.wait_for_timeout(1200)
            whole_panel(page, folder / f"explorer-{name}.png", size)
            page.close()
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--steps", type=int, default=40, help="steps the studio's run takes first (default 40)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds each wait may take")
    args = parser.parse_args()
    shoot(args.url, args.folder, args.steps, args.timeout)


if __name__ == "__main__":
    main()
