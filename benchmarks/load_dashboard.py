"""A class on one server: N dashboard sessions in headless Chromium against one ``magwidgets dashboard``.

    python benchmarks/load_dashboard.py --sessions 30 --minutes 2          # the issue's test (loopback only)
    python benchmarks/load_dashboard.py --sessions 10 --minutes 1 --slots 1

Students arrive over ``--ramp`` seconds, each opens the dashboard, presses Run on the default task (seed 000's
hidden antidot), and keeps it running. The measured window of ``--minutes`` opens when everyone has pressed Run;
halfway through it each presses Pause and then Run again, and at its end Pause. Measured: sessions that rendered, sessions whose step counter advanced during the window,
kernels that died, click-to-response latency (the time until the status line changes; median and 95th
percentile), memory per kernel and in total. Everything stays on 127.0.0.1; the server is stopped at the end.
A JSON record goes to ``--output``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from magwidgets.cli import free_port

CHROMIUM = "/usr/bin/chromium"


def _rss_mb(pid: int) -> float:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _processes(marker: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker in open(f"/proc/{entry}/cmdline", "rb").read().decode(errors="replace"):
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def memory() -> dict:
    """RSS of every kernel, of the server and of Chromium (MB), and the machine's available memory."""
    kernels = [_rss_mb(pid) for pid in _processes("ipykernel_launcher")]
    available = next(int(line.split()[1]) / 1024 for line in open("/proc/meminfo") if line.startswith("MemAvailable"))
    return dict(kernels=kernels, kernel_total=sum(kernels),
                server=sum(_rss_mb(pid) for pid in _processes("-m\x00voila")),
                chromium=sum(_rss_mb(pid) for pid in _processes("/chromium")), available=available)


def _step(text: str) -> int:
    numbers = re.findall(r"\d+", text)
    return int(numbers[-1]) if numbers else 0


async def _click(page, selector: str, timeout: float) -> float:
    """Click and return the seconds until the status line changes (inf if it never does within ``timeout``)."""
    status = page.locator(".mw-status").first
    before = await status.inner_text()
    started = time.monotonic()
    await page.locator(selector).first.click()
    try:
        await page.wait_for_function("([before]) => document.querySelector('.mw-status').innerText !== before",
                                     arg=[before], timeout=timeout * 1000, polling=50)
    except Exception:
        return float("inf")
    return time.monotonic() - started


async def session(index: int, browser, url: str, arrival: float, window: dict, args) -> dict:
    record = dict(session=index, rendered=False, latencies=[], error=None, arrival=arrival, page_errors=[],
                  console_errors=[], failed_requests=[])
    await asyncio.sleep(arrival)
    context = await browser.new_context(viewport=dict(width=1300, height=1000))
    page = await context.new_page()
    opened = time.monotonic()

    def note(key: str, text: str) -> None:  # the first few, with the seconds since the page was opened
        if len(record[key]) < 8:
            record[key].append(f"{time.monotonic() - opened:.1f} s: {text[:300]}")

    # Voila's app loads its extensions after the load event with Promise.allSettled: a failed one (e.g. a webpack
    # ChunkLoadError after its 120 s timeout) is only a console error, and without the widget manager the page
    # never opens the kernel's websocket; these say which page got how far
    page.on("pageerror", lambda error: note("page_errors", str(error)))
    page.on("console", lambda message: message.type == "error" and note("console_errors", message.text))
    page.on("requestfailed", lambda request: note("failed_requests", f"{request.url} {request.failure}"))
    # every request's issue and finish times: a page that never rendered shows whether its files were asked for
    # late (a starved browser) or asked for early and answered late (a busy server)
    issued: dict = {}

    def finished(request) -> None:
        start = issued.pop(request.url, None)
        if start is not None and time.monotonic() - opened - start > 10 and len(record["slow_requests"]) < 8:
            record["slow_requests"].append(f"{request.url.split('/')[-1][:60]}: issued {start:.1f} s, "
                                           f"done {time.monotonic() - opened:.1f} s")

    record.update(slow_requests=[], pending_requests=issued)
    page.on("request", lambda request: issued.setdefault(request.url, time.monotonic() - opened))
    page.on("requestfinished", finished)
    page.on("requestfailed", lambda request: issued.pop(request.url, None))
    # the kernel messages each way by type: a page that connected and never rendered shows whether its widget
    # manager asked for the widgets' state and whether the answer came back
    messages = dict(sent={}, received={})

    def frame(direction: str, payload) -> None:
        text = payload.decode("latin-1") if isinstance(payload, bytes) else payload
        found = re.search(r'"msg_type":\s*"(\w+)"', text)
        data = re.search(r'"method":\s*"(\w+)"', text)
        kind = (found.group(1) if found else "?") + (f":{data.group(1)}" if data else "")
        counts = messages[direction]
        counts[kind] = counts.get(kind, 0) + 1
        record["last_message_seconds"] = time.monotonic() - opened

    def websocket(socket) -> None:
        if "/channels" not in socket.url:
            return
        record.setdefault("websocket_seconds", time.monotonic() - opened)
        socket.on("framesent", lambda payload: frame("sent", payload))
        socket.on("framereceived", lambda payload: frame("received", payload))
        socket.on("close", lambda _: record.setdefault("websocket_closed_seconds", time.monotonic() - opened))

    record["kernel_messages"] = messages
    page.on("websocket", websocket)
    try:
        await page.goto(url, timeout=args.render_timeout * 1000)
        record["loaded_seconds"] = time.monotonic() - opened  # the notebook ran and the whole page arrived
        await page.wait_for_selector(".mw-run", state="visible", timeout=args.render_timeout * 1000)
        record.update(rendered=True, render_seconds=time.monotonic() - opened)
        record["latencies"].append(await _click(page, ".mw-run", args.click_timeout))
        window["pressed"].add(index)
        await window["started"].wait()
        readout = page.locator(".mw-step").first
        record["step_at_start"] = _step(await readout.inner_text())
        await asyncio.sleep(max(0.0, window["middle"] - time.monotonic()))
        record["latencies"].append(await _click(page, ".mw-pause", args.click_timeout))
        await asyncio.sleep(2.0)
        record["latencies"].append(await _click(page, ".mw-run", args.click_timeout))
        await asyncio.sleep(max(0.0, window["end"] - time.monotonic()))
        record["step_at_end"] = _step(await readout.inner_text())
        record["status_at_end"] = await page.locator(".mw-status").first.inner_text()
        record["latencies"].append(await _click(page, ".mw-pause", args.click_timeout))
        record["advanced_in_window"] = record["step_at_end"] > record["step_at_start"]
    except Exception as error:  # a session that failed is counted, not fatal to the test
        record["error"] = f"{type(error).__name__}: {str(error)[:200]}"
        if not record["rendered"]:  # what the student saw instead
            try:
                record["page_text"] = (await page.locator("body").inner_text(timeout=10_000))[:600]
                record["widget_views"] = await page.locator(".jupyter-widgets").count()
                await page.screenshot(path=str(Path(args.output).with_suffix(f".unrendered{index}.png")),
                                      full_page=True, timeout=30_000)
            except Exception as detail:
                record["page_text"] = f"(unreadable: {type(detail).__name__})"
    finally:
        window["pressed"].add(index)
        if args.screenshots and index == 0:
            await page.screenshot(path=str(Path(args.output).with_suffix(".png")), full_page=False)
        await context.close()
    return record


async def class_of(args, url: str) -> tuple[list[dict], list[dict]]:
    from playwright.async_api import async_playwright

    samples = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                   args=["--disable-gpu", "--disable-dev-shm-usage"])
        window = dict(started=asyncio.Event(), pressed=set())
        began = time.monotonic()
        tasks = [asyncio.create_task(session(index, browser, url, args.ramp * index / max(1, args.sessions - 1),
                                             window, args)) for index in range(args.sessions)]

        async def sample_memory():
            while True:
                samples.append(dict(time=time.monotonic(), **memory()))
                await asyncio.sleep(5)

        sampler = asyncio.create_task(sample_memory())
        # the measured window opens once every student has pressed Run (or given up)
        deadline = time.monotonic() + args.ramp + args.render_timeout
        while len(window["pressed"]) < args.sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        window["all_pressed_after"] = time.monotonic() - began
        now = time.monotonic()
        window.update(begin=now, middle=now + 30 * args.minutes, end=now + 60 * args.minutes)
        window["started"].set()
        records = await asyncio.gather(*tasks)
        sampler.cancel()
        await browser.close()
    return records, samples, window["all_pressed_after"]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--minutes", type=float, default=2.0, help="the measured window, after everyone arrived")
    parser.add_argument("--ramp", type=float, default=60.0, help="seconds over which students arrive")
    parser.add_argument("--slots", type=int, help="the server's compute slots (default: one per core)")
    parser.add_argument("--pool", type=int, default=0, help="preheated kernels")
    parser.add_argument("--render-timeout", type=float, default=600.0)
    parser.add_argument("--click-timeout", type=float, default=30.0)
    parser.add_argument("--output", default="results/load_dashboard.json")
    parser.add_argument("--screenshots", action="store_true")
    args = parser.parse_args()

    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    slots = args.slots or os.cpu_count() or 1
    log_path = Path(args.output).with_suffix(".voila.log")
    with open(log_path, "w") as log:
        command = [sys.executable, "-m", "magwidgets.cli", "dashboard", "--no-browser", f"--port={port}",
                   f"--pool={args.pool}", f"--slots={slots}"]
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            import socket

            for _ in range(600):
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.2)
            started = time.monotonic()
            records, samples, arrival_seconds = asyncio.run(class_of(args, f"http://127.0.0.1:{port}/"))
            elapsed = time.monotonic() - started
        finally:
            server.terminate()
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
    log_text = log_path.read_text(errors="replace")
    died = len(re.findall(r"(?i)kernel .*(died|restarting)|KernelRestarter", log_text))
    latencies = [value for record in records for value in record["latencies"]]
    answered = [value for value in latencies if value != float("inf")]
    peak = max(samples, key=lambda sample: sample["kernel_total"]) if samples else memory()
    summary = dict(
        sessions=args.sessions, slots=slots, minutes=args.minutes,
        rendered=sum(record["rendered"] for record in records),
        advanced_in_window=sum(bool(record.get("advanced_in_window")) for record in records),
        errors=[record["error"] for record in records if record["error"]],
        kernel_websockets=sum("websocket_seconds" in record for record in records),
        unrendered=[{key: record.get(key) for key in ("session", "arrival", "loaded_seconds", "websocket_seconds",
                                                       "console_errors", "page_errors", "failed_requests", "slow_requests",
                                                       "pending_requests", "kernel_messages", "last_message_seconds",
                                                       "websocket_closed_seconds", "page_text", "widget_views")}
                    for record in records if not record["rendered"]],
        kernels_died=died, clicks=len(latencies), clicks_unanswered=len(latencies) - len(answered),
        latency_median=statistics.median(answered) if answered else float("nan"),
        latency_p95=percentile(answered, 0.95), latency_max=max(answered, default=float("nan")),
        clicks_within_2s=sum(value <= 2.0 for value in answered),
        render_median=statistics.median([r["render_seconds"] for r in records if r["rendered"]] or [float("nan")]),
        render_max=max([r["render_seconds"] for r in records if r["rendered"]], default=float("nan")),
        kernel_mb_median=statistics.median(peak["kernels"]) if peak["kernels"] else float("nan"),
        kernels_total_mb=peak["kernel_total"], server_mb=peak["server"], chromium_mb=peak["chromium"],
        min_available_mb=min((sample["available"] for sample in samples), default=float("nan")),
        all_pressed_run_after=arrival_seconds, wall_seconds=elapsed, load_average=os.getloadavg(),
    )
    json.dump(dict(summary=summary, sessions=records), open(args.output, "w"), indent=1, default=str)
    width = max(len(name) for name in summary)
    for name, value in summary.items():
        shown = f"{value:.2f}" if isinstance(value, float) else value
        print(f"{name:<{width}}  {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
