"""The dashboard in front of a class: nothing from the internet, a clean console, legible figures, Play.

Every request the page makes is routed: anything not on this machine is refused and recorded. The console (and
any uncaught exception) is collected from the first byte; the only messages allowed are the third-party ones listed
in ``THIRD_PARTY`` below.
"""
import re
import time
from urllib.parse import urlparse

import pytest

from polling import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGE_TIMEOUT_MS = 240_000
SIZES = {"projector": (1366, 768), "full-hd": (1920, 1080)}

#: Console warnings that come from the dashboard's third-party front end, not from magwidgets. Voila 0.5.13 ships
#: its own JupyterLab 4.2.5 core (the "_JUPYTERLAB.CORE_OUTPUT" scope); webpack's module federation warns once per
#: shared @jupyterlab module that an extension was built against a newer one, then hands it Voila's copy:
#: - the installed @jupyter-widgets/jupyterlab-manager 5.0 (jupyterlab_widgets 3.0.17) asks for ^4.6.2 / ^7.6.2
#:   (nine warnings). It cannot be left out: with --VoilaConfiguration.extension_denylist naming it, no widget
#:   renders ("No version of module @jupyter-widgets/base is registered"), since it registers the widget modules
#:   Voila's own manager loads;
#: - Voila's own @voila-dashboards/widgets-manager8 asks for ^4.5.10 / ^6.5.10 / ^7.5.10 (four warnings).
#: Both are version notices only: every browser test drives the widgets through that same core.
THIRD_PARTY = [
    re.compile(r"^Unsatisfied version \S+ from _JUPYTERLAB\.CORE_OUTPUT of shared singleton module @jupyterlab/"),
    re.compile(r"^No satisfying version \(\S+\) of shared module @jupyterlab/\S+ found in shared scope default\."),
]


def _console_problems(console: list) -> list[str]:
    """The console's errors and warnings, less the third-party ones listed in ``THIRD_PARTY``."""
    return [f"console {kind}: {text}" for kind, text in console if kind in ("error", "warning")
            and not any(pattern.search(text) for pattern in THIRD_PARTY)]


#: What says that the dashboard's page has rendered.
DASHBOARD_READY = (".mw-design-studio .mw-run", ".mw-potential-figure svg")


def _open(browser, url: str, size: tuple[int, int], ready: tuple[str, ...] = DASHBOARD_READY):
    """A page at ``size`` that refuses every request off this machine, once every ``ready`` selector shows;
    returns (context, page, refused, console)."""
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
    # an uncaught exception reaches the console of a person's browser, but not Playwright's "console" event
    page.on("pageerror", lambda error: console.append(("error", f"uncaught: {error}")))
    page.goto(url, timeout=PAGE_TIMEOUT_MS)
    for selector in ready:
        page.wait_for_selector(selector, state="visible")
    return context, page, refused, console


def _open_explorer(page) -> None:
    page.locator(".lm-TabBar-tab", has_text="Fingerprint explorer").first.click()
    # the map is drawn and Play's frames are ready once the explorer's progress line has gone
    page.wait_for_selector(".mw-explorer-player .mw-play button:not([disabled])", state="attached")


def _step(page, panel: str = ".mw-design-studio") -> int:
    numbers = re.findall(r"\d+", page.locator(f"{panel} .mw-step").first.inner_text())
    return int(numbers[-1]) if numbers else 0


#: What says that a tab has finished drawing, beyond its figures having a size (every tab is visited, listed or not).
TAB_READY = {"Fingerprint explorer": ".mw-explorer-player .mw-play button:not([disabled])"}

#: True once the page shows at least one figure and every figure on show has been laid out with a size.
FIGURES_DRAWN = """() => {
    const shown = [...document.querySelectorAll('.bqplot.figure')].filter(f => f.offsetParent !== null);
    return shown.length > 0 && shown.every(f => {
        const svg = f.querySelector('svg');
        return svg && svg.getBoundingClientRect().width > 0 && svg.getBoundingClientRect().height > 0;
    });
}"""

#: The Run button's icon: its font, its glyph, and whether that font face has been downloaded and can draw.
RUN_ICON = """() => {
    const icon = document.querySelector('.mw-design-studio .mw-run i.fa');
    const style = getComputedStyle(icon);
    const family = style.fontFamily.split(',')[0].trim().replace(/^["']|["']$/g, '');
    return {family, glyph: getComputedStyle(icon, '::before').content,
            usable: document.fonts.check(`${style.fontWeight} 16px "${family}"`),
            loaded: [...document.fonts].filter(f => f.status === 'loaded').map(f => f.family.replace(/"/g, ''))};
}"""


def test_nothing_from_outside_the_machine_and_a_clean_console(browser, voila_dashboard, artifacts):
    """Load, Run, then every tab in turn: no request leaves the machine, the icons draw with the package's own
    Font Awesome, and the console holds no error or warning but the listed third-party ones."""
    context, page, refused, console = _open(browser, voila_dashboard, SIZES["projector"])
    try:
        page.locator(".mw-design-studio .mw-run").first.click()
        wait_until(lambda: _step(page) >= 1, 240, "Run did not advance the design within 240 s")
        page.locator(".mw-design-studio .mw-pause").first.click()
        tabs = page.locator(".mw-dashboard .lm-TabBar-tab")
        titles = [title.strip() for title in tabs.all_inner_texts()]
        assert len(titles) >= 2, titles
        for title in titles[1:] + titles[:1]:  # the first tab is open at load: visit it again last
            tabs.filter(has_text=title).first.click()
            page.wait_for_selector(f".mw-dashboard .lm-TabBar-tab.lm-mod-current:has-text('{title}')")
            if title in TAB_READY:
                page.wait_for_selector(TAB_READY[title], state="attached")
            page.wait_for_function(FIGURES_DRAWN, timeout=PAGE_TIMEOUT_MS)
        icon = page.evaluate(RUN_ICON)
        page.screenshot(path=str(artifacts / "classroom-offline.png"), full_page=True)
    finally:
        context.close()
    # every kind of problem is reported together: a page that fetches a CDN's font also shows missing icons
    problems = [f"asked for a file off this machine: {url}" for url in refused]
    # without its font an icon falls back to the page's text font and draws an empty box
    if not (icon["family"].startswith("Font Awesome") and icon["glyph"] not in ("none", "normal", "")):
        problems.append(f"the Run button's icon is not drawn with Font Awesome: {icon}")
    elif not (icon["usable"] and icon["family"] in icon["loaded"]):
        problems.append(f"the icon font {icon['family']!r} was not loaded: {icon}")
    problems += _console_problems(console)
    assert problems == [], "\n".join(problems)


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
            for (const axisLabel of [...axis.querySelectorAll('.axislabel')].filter(visible)) {
                const r = axisLabel.getBoundingClientRect();
                for (const [text, tick] of ticks)
                    if (overlap(r, tick))
                        problems.push(`${name}: the axis label "${axisLabel.textContent}" covers the tick label ${text}`);
                if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1)
                    problems.push(`${name}: the axis label "${axisLabel.textContent}" is cut`);
            }
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
        # the starting design's wavefunction map is drawn once the default run is built
        page.wait_for_selector(".mw-wavefunction-figure image[href^='data:image']", state="attached")
        studio = page.evaluate(LEGIBILITY)
        page.screenshot(path=str(artifacts / f"classroom-studio-{size}.png"), full_page=True)
        _open_explorer(page)
        explorer = page.evaluate(LEGIBILITY)
        page.screenshot(path=str(artifacts / f"classroom-explorer-{size}.png"), full_page=True)
    finally:
        context.close()
    assert studio == [] and explorer == [], {"studio": studio, "explorer": explorer}


@pytest.mark.parametrize("size", SIZES)
def test_the_vmc_panel_is_legible_while_it_trains(browser, voila_vmc_panel, artifacts, size):
    context, page, refused, console = _open(browser, voila_vmc_panel, SIZES[size], ready=(".mw-vmc-panel .mw-run",))
    try:
        page.locator(".mw-vmc-panel .mw-run").first.click()
        # a few iterations drawn, so that the energy figure has data and the walkers have moved
        wait_until(lambda: _step(page, ".mw-vmc-panel") >= 20, 300, "the VMC run did not reach 20 iterations within 300 s")
        page.locator(".mw-vmc-panel .mw-pause").first.click()
        page.wait_for_function(FIGURES_DRAWN, timeout=PAGE_TIMEOUT_MS)
        problems = page.evaluate(LEGIBILITY)
        page.screenshot(path=str(artifacts / f"classroom-vmc-{size}.png"), full_page=True)
    finally:
        context.close()
    problems += [f"asked for a file off this machine: {url}" for url in refused]
    problems += _console_problems(console)
    assert problems == [], problems


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
        # Paused means the readout stops changing: poll until it has held for a second (a frame already on its
        # way from the kernel may still arrive just after the click), within a generous deadline
        held, since, deadline = readout.inner_text(), time.monotonic(), time.monotonic() + 60
        while time.monotonic() - since < 1.0 and time.monotonic() < deadline:
            page.wait_for_timeout(100)
            now = readout.inner_text()
            if now != held:
                held, since = now, time.monotonic()
        still = readout.inner_text()
        paused_within_deadline = time.monotonic() < deadline
    finally:
        context.close()
    rate = min(counted["pictures"], counted["readouts"]) / counted["seconds"]
    print(f"Play: {counted['pictures']} pictures and {counted['readouts']} readouts in {counted['seconds']:.1f} s "
          f"= {rate:.1f} frames per second")
    assert rate >= 10, counted
    assert paused_within_deadline and held == still, "Pause did not stop the frames"


#: A page whose kernel answers the widget manager's request for every widget's state 8 s late, as a kernel of a
#: busy class does (ipywidgets' own wait for it is 4 s).
LATE_ANSWER = """
import time
import ipywidgets
from ipywidgets.widgets.widget import Widget

answer = Widget._handle_control_comm_msg

def late(cls, msg):
    time.sleep(8)
    return answer(msg)

Widget._handle_control_comm_msg = classmethod(late)
ipywidgets.VBox([ipywidgets.Button(description=f"button {index}") for index in range(20)]).add_class("late-page")
"""


def test_a_kernel_that_answers_late_gets_its_page_from_one_answer(browser, artifacts, tmp_path):
    """The widgets' states come in the one answer the manager asked for, however late: no fallback that asks for
    each widget in turn (a minute for the dashboard's ~600 under a class's load, and a page left at "Loading
    widget..." if one of them closes meanwhile)."""
    from conftest import serving_notebook

    with serving_notebook(LATE_ANSWER, tmp_path, artifacts / "voila-late.log") as url:
        context = browser.new_context(viewport=dict(width=1366, height=768))
        page = context.new_page()
        sent = []
        page.on("websocket", lambda socket: socket.on(
            "framesent", lambda payload: sent.append(payload if isinstance(payload, str) else payload.decode("latin-1"))))
        try:
            page.goto(url, timeout=PAGE_TIMEOUT_MS)
            page.wait_for_selector(".late-page button", state="visible", timeout=PAGE_TIMEOUT_MS)
            assert page.locator(".late-page button").count() == 20
            asked = [found.group(1) for frame in sent if (found := re.search(r'"msg_type":\s*"(\w+)"', frame))]
            assert "comm_open" in asked and "comm_info_request" not in asked, asked
        finally:
            context.close()
