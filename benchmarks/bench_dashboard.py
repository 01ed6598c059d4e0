"""The live studio against a headless run: redraws per second and the optimiser's throughput kept.

    python benchmarks/bench_dashboard.py [--steps 150] [--task identify_defect]

Runs the same design (default: seed 000's 30 x 30 x 101 defect task) once headless (the driver alone, compiled
chunks of 50 steps) and once through the design studio (worker thread, a snapshot per step, redraws throttled to
10 per second, each redraw rendering the loss curve, G against the target, the potential map and a fresh
wavefunction-intensity map). Prints the redraw rate, the time one redraw takes, and the studio's steps/s as a
fraction of the headless steps/s (the issue asks for >= 5 redraws/s and >= 70 %). Widgets here have no browser
attached, so the cost measured is the kernel side: computing and serialising the frames.
"""
from __future__ import annotations

import argparse
import time

import magwidgets
from magwidgets.design.tasks import TASKS
from magwidgets.widgets import DesignStudio


def headless_steps_per_second(task_name: str, steps: int) -> float:
    task = TASKS[task_name]
    truth = task.default_truth()
    target = task.truth_conductance(truth["potential"], truth.get("theta"))
    design = task.design(target, snapshot_every=50)
    design.run(50)  # compile and warm up
    started = time.perf_counter()
    design.run(50 + steps)
    return steps / (time.perf_counter() - started)


def studio_rates(task_name: str, steps: int) -> tuple[float, float, float]:
    """(steps/s, redraws/s, seconds per redraw) of the studio running ``steps`` steps after a warm-up."""
    studio = DesignStudio(task_name, prepare=False)
    render = studio._render
    frames: list[float] = []

    def timed_render(snapshot, design):
        started = time.perf_counter()
        render(snapshot, design)
        frames.append(time.perf_counter() - started)

    studio._render = timed_render  # the runner is built at the first click, so it renders through this
    studio.steps_box.value = 20
    studio.run_button.click()  # compile and warm up
    studio.runner.join()
    frames.clear()
    studio.steps_box.value = steps
    started = time.perf_counter()
    first_step = studio.runner.driver.step
    studio.run_button.click()
    studio.runner.join()
    elapsed = time.perf_counter() - started
    studio.runner.cancel()
    return (studio.runner.driver.step - first_step) / elapsed, len(frames) / elapsed, sum(frames) / len(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--task", default="identify_defect", choices=sorted(TASKS))
    args = parser.parse_args()
    magwidgets.configure()  # as the dashboard's kernels are
    headless = headless_steps_per_second(args.task, args.steps)
    live, redraws, per_redraw = studio_rates(args.task, args.steps)
    print(f"task {args.task}, {args.steps} steps")
    print(f"{'headless (driver alone)':<34} {headless:8.2f} steps/s")
    print(f"{'design studio (live redraws)':<34} {live:8.2f} steps/s   {live / headless:6.1%} of headless")
    print(f"{'redraws':<34} {redraws:8.2f} per s   {per_redraw * 1e3:6.1f} ms each")


if __name__ == "__main__":
    main()
