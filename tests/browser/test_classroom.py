"""The dashboard in front of a class: nothing from the internet, a clean console, legible figures, Play.

Every request the page makes is routed: anything not on this machine is refused and recorded. The console is
collected from the first byte; the only messages allowed are the third-party ones listed in ``THIRD_PARTY`` below.
"""
import re
import time
from urllib.parse import urlparse

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGE_TIMEOUT_MS = 240_000
SIZES = {"projector": (1366, 768), "full-hd": (1920, 1080)}

#: Console messages that come from the dashboard's third-party front end, not from magwidgets: Voila 0.5 ships its
#: own JupyterLab 4.2 core, and the installed widget extensions (ipywidgets, bqplot) were built against a newer
#: JupyterLab, so webpack's module federation reports the version mismatch of the shared @jupyterlab modules it
#: then resolves to Voila's copies (the widgets work: every other test drives them).
THIRD_PARTY = [
    re.compile(r"^Unsatisfied version \S+ from _JUPYTERLAB\.CORE_OUTPUT of shared singleton module @jupyterlab/"),
    re.compile(r"^No satisfying version \(\S+\) of shared module @jupyterlab/\S+ found in shared scope default\."),
]


def _wait_until(condition, timeout: float, message: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(message)


def _open(browser, url: str, size: tuple[int, int]):
    """A page at ``size`` that refuses every request off this machine; returns (context, page, refused, console)."""
    context = browser.new_context(viewport=dict(width=size[0], height=size[1]))
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    refused, console = [], []

    def route(request_route):
        url = request_route.request.url
        if url.startswith(("data:", "blob:")) or urlparse(url).hostname in ("127.0.0.1", "localhost"):
            request_route.continue_()
        else:
            refused.append(url)
            request_route.abort()

    page.route("**/*", route)
    page.on("console", lambda message: console.append((message.type, message.text)))
    page.goto(url, timeout=PAGE_TIMEOUT_MS)
    page.wait_for_selector(".mw-design-studio .mw-run", state="visible")
    page.wait_for_selector(".mw-potential-figure svg", state="visible")
    return context, page, refused, console


def _open_explorer(page) -> None:
    page.locator(".lm-TabBar-tab", has_text="Fingerprint explorer").first.click()
    # the map is drawn and Play's frames are ready once the explorer's progress line has gone
    page.wait_for_selector(".mw-explorer-player .mw-play button:not([disabled])", state="attached")


def _step(page) -> int:
    numbers = re.findall(r"\d+", page.locator(".mw-design-studio .mw-step").first.inner_text())
    return int(numbers[-1]) if numbers else 0


def test_nothing_from_outside_the_machine_and_a_clean_console(browser, voila_dashboard, artifacts):
    context, page, refused, console = _open(browser, voila_dashboard, SIZES["projector"])
    try:
        page.locator(".mw-design-studio .mw-run").first.click()
        _wait_until(lambda: _step(page) >= 1, 240, "Run did not advance the design within 240 s")
        page.locator(".mw-design-studio .mw-pause").first.click()
        _open_explorer(page)
        page.locator(".lm-TabBar-tab", has_text="Design studio").first.click()
        # the buttons' icons are drawn with the package's own Font Awesome
        icons = page.evaluate("""() => {
            const icon = document.querySelector('.mw-design-studio .mw-run i.fa');
            return {family: getComputedStyle(icon).fontFamily,
                    glyph: getComputedStyle(icon, '::before').content,
                    loaded: [...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)};
        }""")
        page.screenshot(path=str(artifacts / "classroom-offline.png"), full_page=True)
    finally:
        context.close()
    assert refused == [], f"the page asked for files off this machine: {refused}"
    assert "Font Awesome" in icons["family"] and icons["glyph"] not in ("none", "normal", "")
    assert any("Font Awesome" in family for family in icons["loaded"]), icons
    ours = [(kind, text) for kind, text in console if kind in ("error", "warning")
            and not any(pattern.search(text) for pattern in THIRD_PARTY)]
    assert ours == [], f"console errors or warnings: {ours}"


# --- legibility: measured on the page itself ---------------------------------------------------------------------

LEGIBILITY = """() => {
    const visible = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
    const overlap = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5
                              && b.top < a.bottom - 0.5;
    const problems = [];
    for (const figure of document.querySelectorAll('.bqplot.figure')) {
        if (!visible(figure)) continue;
        const name = [...figure.classList].find(c => c.startsWith('mw-')) || 'a figure';
        const title = [...figure.querySelectorAll('.mainheading')].map(t => t.textContent.trim()).join('');
        if (!title) problems.push(`${name}: no title`);
        const box = figure.getBoundingClientRect();
        for (const heading of figure.querySelectorAll('.mainheading')) {
            const r = heading.getBoundingClientRect();
            if (r.left < box.left - 1 || r.right > box.right + 1) problems.push(`${name}: the title is cut`);
        }
        for (const axis of figure.querySelectorAll('g.axis')) {
            const label = [...axis.querySelectorAll('.axislabel')].map(t => t.textContent.trim()).join('');
            if (!label) problems.push(`${name}: an axis without a label`);
            const ticks = [...axis.querySelectorAll('.tick text')].filter(t => t.textContent.trim() && visible(t))
                .map(t => [t.textContent, t.getBoundingClientRect()]);
            for (let i = 0; i < ticks.length; i++)
                for (let j = i + 1; j < ticks.length; j++)
                    if (overlap(ticks[i][1], ticks[j][1]))
                        problems.push(`${name}: tick labels ${ticks[i][0]} and ${ticks[j][0]} overlap`);
        }
        if (figure.querySelectorAll('.legend').length) problems.push(`${name}: a legend drawn over the plot`);
    }
    for (const bar of document.querySelectorAll('.mw-colour-bar')) {
        if (!visible(bar)) continue;
        const ticks = [...bar.querySelectorAll('.mw-colour-tick')].map(t => [t.textContent, t.getBoundingClientRect()]);
        for (let i = 0; i + 1 < ticks.length; i++)
            if (overlap(ticks[i][1], ticks[i + 1][1])) problems.push(`colour bar ticks ${ticks[i][0]} overlap`);
    }
    for (const legend of document.querySelectorAll('.mw-legend')) {
        if (!visible(legend)) continue;
        const r = legend.getBoundingClientRect();
        for (const text of document.querySelectorAll('.bqplot.figure text')) {
            if (visible(text) && overlap(r, text.getBoundingClientRect()))
                problems.push(`a legend covers "${text.textContent}"`);
        }
    }
    for (const readout of document.querySelectorAll('.widget-readout, .mw-flux-range-readout, .mw-play-readout')) {
        if (visible(readout) && readout.scrollWidth > readout.clientWidth + 1)
            problems.push(`the readout "${readout.textContent}" is cut`);
    }
    if (document.documentElement.scrollWidth > window.innerWidth + 1)
        problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} px wide`);
    return problems;
}"""


@pytest.mark.parametrize("size", SIZES)
def test_every_figure_is_legible(browser, voila_dashboard, artifacts, size):
    context, page, _, _ = _open(browser, voila_dashboard, SIZES[size])
    try:
        page.wait_for_timeout(2000)  # the first frame of the wavefunction map
        studio = page.evaluate(LEGIBILITY)
        page.screenshot(path=str(artifacts / f"classroom-studio-{size}.png"), full_page=True)
        _open_explorer(page)
        explorer = page.evaluate(LEGIBILITY)
        page.screenshot(path=str(artifacts / f"classroom-explorer-{size}.png"), full_page=True)
    finally:
        context.close()
    assert studio == [] and explorer == [], {"studio": studio, "explorer": explorer}


def test_play_animates_the_wavefunction_at_ten_frames_per_second(browser, voila_dashboard, artifacts):
    context, page, _, _ = _open(browser, voila_dashboard, SIZES["projector"])
    try:
        _open_explorer(page)
        speed = page.locator(".mw-explorer-player .mw-play-speed input").first
        speed.fill("20")
        speed.press("Enter")
        page.locator(".mw-explorer-player .mw-play button").first.click()
        # count in the browser how often the map's picture and the frame readout change over 3 s
        counted = page.evaluate("""() => new Promise(resolve => {
            const picture = () => { const image = document.querySelector('.mw-explorer-wavefunction image');
                                    return image ? image.getAttribute('href') : ''; };
            const readout = () => document.querySelector('.mw-explorer-player .mw-play-readout').textContent;
            let last = [picture(), readout()], pictures = 0, readouts = 0;
            const start = performance.now();
            const tick = () => {
                const now = [picture(), readout()];
                if (now[0] !== last[0]) pictures++;
                if (now[1] !== last[1]) readouts++;
                last = now;
                if (performance.now() - start < 3000) requestAnimationFrame(tick);
                else resolve({pictures, readouts, seconds: (performance.now() - start) / 1000});
            };
            requestAnimationFrame(tick);
        })""")
        page.screenshot(path=str(artifacts / "classroom-play.png"), full_page=True)
        page.locator(".mw-explorer-player .mw-play button").first.click()  # pause
        readout = page.locator(".mw-explorer-player .mw-play-readout").first
        page.wait_for_timeout(1000)  # a frame already on its way from the kernel may still arrive
        held = readout.inner_text()
        page.wait_for_timeout(1500)
        still = readout.inner_text()
    finally:
        context.close()
    rate = min(counted["pictures"], counted["readouts"]) / counted["seconds"]
    print(f"Play: {counted['pictures']} pictures and {counted['readouts']} readouts in {counted['seconds']:.1f} s "
          f"= {rate:.1f} frames per second")
    assert rate >= 10, counted
    assert held == still, "Pause did not stop the frames"
