"""The ``magwidgets`` command.

    magwidgets dashboard [--port N] [--ip 0.0.0.0] [--pool K] [--slots S] [--token T] [--no-browser]
                                                            # the Voila dashboard (seed 000 defect example)
    magwidgets notebooks DEST                               # copy the teaching notebooks into DEST
    magwidgets example [--output seed000_fingerprint.png]   # the seed 000 fingerprint: printed and plotted
    magwidgets design CONFIG.toml [--resume | --restart] [--output results.npz] [--steps N]
                                                            # a headless design run with a progress bar
    magwidgets design CONFIG.toml --coordinator HOST:PORT --num-processes N --process-id I
                                                            # the same, as process I of N under jax.distributed
    magwidgets --version

``example`` and ``design`` apply :func:`magwidgets.configure` (allocator and OpenBLAS settings for repeated XLA
calls) to their own process; the dashboard's kernels apply it from the dashboard notebook.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np


def seed000_example(output: str) -> np.ndarray:
    """Compute, print and plot G(B) of the seed 000 wire with a Gaussian antidot (A = 10 at (15, 10), r = 2).

    The flux axis is Φ/Φ0, the flux per plaquette in units of h/e, as on the dashboard; the plot goes to ``output``.
    """
    from .core.potentials import preset_potential
    from .design.problem import SEED000

    print(f"computing the seed 000 fingerprint; the plot will be written to {os.path.abspath(output)}")
    potential = preset_potential("antidot", SEED000.wire)  # A = 10 t, r = 2 at (15, 10)
    flux = SEED000.flux
    start = time.perf_counter()
    conductance = SEED000.conductance(SEED000.onsite(potential))
    elapsed = time.perf_counter() - start
    print(f"Seed 000 fingerprint: 30 x 30 wire, E = 1.2 t, antidot A = 10 t at (15, 10); {elapsed:.2f} s "
          "including compilation")
    print(f"{'Phi/Phi_0':>10} {'G [e^2/h]':>10}")
    for index in range(0, 101, 10):
        print(f"{flux[index]:>10.4f} {conductance[index]:>10.4f}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (curve, landscape) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw=dict(width_ratios=(3, 2)))
    curve.plot(flux, conductance, color="tab:blue")
    curve.set(xlabel=r"$\Phi/\Phi_0 = B a^2/(h/e)$", ylabel=r"$G$ [$e^2/h$]", title="magneto-conductance fingerprint")
    image = landscape.imshow(potential.T, origin="lower", cmap="magma")
    landscape.set(xlabel="x (transport)", ylabel="y", title="defect potential [t]")
    figure.colorbar(image, ax=landscape)
    figure.tight_layout()
    figure.savefig(output, dpi=120)
    print(f"plot written to {output}")
    return conductance


def _progress(total: int, stream=sys.stderr):
    """A one-line progress bar for design snapshots (step, cost, steps/s)."""

    def show(snapshot) -> None:
        filled = int(30 * snapshot.step / total)
        stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {snapshot.step:>7}/{total}  cost {snapshot.loss:+.4e}"
                     f"  {snapshot.steps_per_second:6.1f} steps/s")
        stream.flush()

    return show


CHECKPOINT_SECONDS = 30.0  # a killed run loses at most this much work when its config sets no interval


def run_design(config_path: str, resume: bool = False, output: str | None = None, steps: int | None = None,
               restart: bool = False) -> int:
    """Run (or resume) the design described by a TOML config and write its results archive.

    The run checkpoints to ``OUTPUT.checkpoint.npz`` (every :data:`CHECKPOINT_SECONDS` unless the config says
    otherwise). Started again after being killed, it offers to resume: a question on a terminal, else exit code 2
    asking for ``--resume`` (continue) or ``--restart`` (start over). A ``jax.distributed`` run makes no offer
    (its hosts may not share a filesystem) and starts over unless given ``--resume``.
    """
    from .design.config import load_config
    from .design.driver import Design, checkpoint_step
    from .io.archives import save_design_result

    try:
        config = load_config(config_path)
    except (ValueError, OSError) as error:
        print(f"magwidgets design: {config_path}: {error}", file=sys.stderr)
        return 2
    try:  # the command line's overrides, checked as the config's own fields are
        from .design.config import check_output, check_steps

        output = config.output if output is None else check_output(output, "--output")
        total = config.steps if steps is None else check_steps(steps, "--steps")
    except ValueError as error:
        print(f"magwidgets design: {error}", file=sys.stderr)
        return 2
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)  # checkpoints are written there as it runs
    checkpoint = output + ".checkpoint.npz"
    if not (config.driver.get("checkpoint_every") or config.driver.get("checkpoint_seconds")):
        config.driver["checkpoint_seconds"] = CHECKPOINT_SECONDS
    import jax

    # under jax.distributed each host may see a different filesystem, so the hosts could answer differently:
    # there, --resume or --restart must be given
    offer = not (resume or restart) and jax.process_count() == 1
    saved = checkpoint_step(checkpoint) if offer and os.path.exists(checkpoint) else None
    if saved is not None and saved < total:
        question = f"{checkpoint} holds an unfinished run at step {saved} of {total}"
        if not sys.stdin.isatty():
            print(f"magwidgets design: {question}; pass --resume to continue it or --restart to start over",
                  file=sys.stderr)
            return 2
        resume = input(f"{question}. Resume it? [Y/n] ").strip().lower() in ("", "y", "yes")
    try:
        design = Design(config.objective, config.data, config.optimizer, seed=config.seed, checkpoint=checkpoint,
                        resume=resume, callbacks=[_progress(total)], **config.driver)
    except (ValueError, FileNotFoundError) as error:
        print(f"magwidgets design: {error}", file=sys.stderr)
        return 2
    if resume:
        print(f"resuming {checkpoint} at step {design.step}", file=sys.stderr)
    try:
        result = design.run(total)
    except KeyboardInterrupt:
        design.save(checkpoint)
        print(f"\ninterrupted at step {design.step}; continue with --resume (checkpoint {checkpoint})",
              file=sys.stderr)
        return 130
    save_design_result(output, result, config_text=config.text, seed=config.seed, target=config.target,
                       truth=config.truth)
    print(f"\n{result.reason}: {result.steps} steps, best cost {result.loss:.6g}, {result.wall_time:.1f} s; "
          f"results in {output}", file=sys.stderr)
    return 0


#: The notebooks shipped inside the package: the teaching notebooks and the one the dashboard serves.
NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
DASHBOARD_NOTEBOOK = NOTEBOOKS / "dashboard.ipynb"
SHARE = Path(__file__).resolve().parent / "share" / "jupyter"
TEMPLATE = "magwidgets"  # SHARE/voila/templates/magwidgets


def copy_notebooks(destination: str | os.PathLike) -> list[Path]:
    """Copy the package's notebooks into ``destination`` (created if missing) and return the copies' paths.

    Nothing is copied when any of the copies would replace an existing file: the student's edited notebooks are
    never overwritten.

    Raises
    ------
    FileExistsError
        Some of the notebooks already exist in ``destination`` (all of them are named).
    NotADirectoryError
        ``destination`` exists and is not a folder.
    """
    destination = Path(destination)
    if destination.exists() and not destination.is_dir():
        raise NotADirectoryError(f"{destination} exists and is not a folder")
    sources = sorted(NOTEBOOKS.glob("*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no notebooks in {NOTEBOOKS}; reinstall magwidgets")
    existing = [destination / source.name for source in sources if (destination / source.name).exists()]
    if existing:
        names = ", ".join(path.name for path in existing)
        raise FileExistsError(f"{destination} already holds {names}; nothing was copied (remove them or choose "
                              "another folder)")
    destination.mkdir(parents=True, exist_ok=True)
    copies = []
    for source in sources:
        copies.append(destination / source.name)
        shutil.copyfile(source, copies[-1])
    return copies


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def dashboard_command(port: int | None = None, pool: int = 0, ip: str = "127.0.0.1", open_browser: bool = True,
                      idle_minutes: float = 30.0, token: str | None = None,
                      run_folder: str | None = None, notebook: str | os.PathLike | None = None) -> list[str]:
    """The Voila command line that serves ``notebook`` (default :data:`DASHBOARD_NOTEBOOK`, shipped inside the
    package) with the dashboard's template and timeouts.

    ``pool`` > 0 keeps that many kernels that already ran the notebook (imports done, default run compiled), so a
    class of students gets pages that respond at once; kernels idle for ``idle_minutes`` are shut down. Voila keeps
    its kernels' connection files in ``run_folder`` (the server's private folder) when given.
    """
    notebook = Path(notebook) if notebook is not None else DASHBOARD_NOTEBOOK
    if not notebook.exists():
        raise FileNotFoundError(f"{notebook} is missing" + ("; reinstall magwidgets" if notebook == DASHBOARD_NOTEBOOK
                                                              else ""))
    if pool < 0:
        raise ValueError(f"--pool must be >= 0, got {pool}")
    command = [sys.executable, "-m", "voila", str(notebook), f"--port={port or free_port()}",
               f"--Voila.ip={ip}", "--Voila.port_retries=0", "--show_tracebacks=False", "--strip_sources=True",
               f"--MappingKernelManager.cull_idle_timeout={int(idle_minutes * 60)}",
               "--MappingKernelManager.cull_interval=60",
               # a kernel busy under a class's load may be silent for seconds; the default 4 s drops its output
               "--VoilaExecutor.iopub_timeout=120", "--VoilaExecutor.startup_timeout=300",
               # the package's template (found through JUPYTER_PATH, see dashboard_environment): Voila's lab
               # template without its links to a CDN (Voila's own bundle has the icon font)
               f"--template={TEMPLATE}"]
    if pool:
        command += ["--preheat_kernel=True", f"--pool_size={pool}"]
    if run_folder:
        command.append(f"--Voila.connection_dir_root={run_folder}")
    if token:
        command.append(f"--token={token}")
    if not open_browser:
        command.append("--no-browser")
    return command


#: How much lower the served kernels' priority is than the server's: at 10, Linux gives a kernel's scheduling group
#: about a tenth of a normal one's share of a busy core, so against 30 starting kernels the server keeps about a
#: fifth of the processor instead of a thirty-first (at 19 the kernels, starved by 30 browsers on the same two
#: cores, took twice as long to show their pages). When the server is idle the kernels get every core.
KERNEL_NICENESS = 10


def dashboard_environment(run_folder: str, slots: Optional[int] = None) -> dict:
    """The kernels' environment.

    One JAX process per visitor must not grab 75 % of a GPU's memory each; the kernels share ``slots`` compute
    slots (default: one per CPU core) through ``run_folder``/slots (:mod:`magwidgets.session.slots`); visitors see
    autosaves by code only (:mod:`magwidgets.session.autosave`); compiled programs are shared through
    :func:`compile_cache_environment`; the kernels run at niceness :data:`KERNEL_NICENESS`
    (:func:`magwidgets.core.process.lower_priority`), so that the server, which sends every page its files and
    relays every click, is not starved by a class's kernels starting at once. Variables the server was started
    with take precedence (``MAGWIDGETS_NICENESS=0`` keeps the kernels at normal priority). Each kernel gets
    cores / ``slots`` JAX CPU devices (at least one): a run holds one slot, and so uses its share of the cores.
    """
    from .core.process import CPU_DEVICES_ENVIRONMENT, NICENESS_ENVIRONMENT
    from .session.autosave import SERVED_ENVIRONMENT
    from .session.slots import SLOTS_ENVIRONMENT

    slots = (os.cpu_count() or 1) if slots is None else slots
    if slots < 1:
        raise ValueError(f"--slots must be >= 1, got {slots}")
    folder = os.path.join(run_folder, "slots")  # inside the private (0700) run folder: only this server's kernels
    environment = dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE="false", **{SLOTS_ENVIRONMENT: f"{slots}:{folder}",
                                                                             SERVED_ENVIRONMENT: "1"})
    for name, value in compile_cache_environment().items():
        environment.setdefault(name, value)
    environment.setdefault(NICENESS_ENVIRONMENT, str(KERNEL_NICENESS))
    environment.setdefault(CPU_DEVICES_ENVIRONMENT, str(max(1, (os.cpu_count() or 1) // slots)))
    environment["TF_CPP_MIN_LOG_LEVEL"] = "3"  # jax sets 1 in this process on import; see compile_cache_environment
    # Voila finds templates (and serves their static files) in the Jupyter data folders: add the package's own
    environment["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(SHARE), os.environ.get("JUPYTER_PATH")]))
    return environment


#: Upper bound of the dashboard's compilation cache; the least recently used programs go first.
COMPILE_CACHE_BYTES = 2 * 1024**3


def compile_cache_environment() -> dict:
    """JAX's persistent compilation cache, shared by every kernel of every dashboard this user serves.

    Each visitor's kernel compiles the same programs (the default run, the forward sweep, the wavefunction solve):
    ~8 of its ~12 CPU seconds of start-up on two cores. With the cache only the first kernel compiles; the others
    load the executables (start-up ~4.5 CPU seconds), and so does the next class. Entries are keyed by program,
    JAX version and backend. XLA:CPU logs an error-level line per loaded entry because two of its own tuning flags
    are missing from the host feature list (openxla/xla#44565; harmless, the entries were compiled here), thousands
    of lines for a class, so the kernels' C++ logging is limited to fatal errors (:func:`dashboard_environment`);
    Python errors are unaffected.
    """
    from importlib.metadata import version

    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "magwidgets" / f"jax-{version('jax')}"
    cache.mkdir(parents=True, exist_ok=True, mode=0o700)
    # A size limit turns on JAX's eviction, which also takes a file lock around every read and write: thirty
    # kernels starting together then never read an entry another one is still writing.
    return dict(JAX_COMPILATION_CACHE_DIR=str(cache), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                JAX_COMPILATION_CACHE_MAX_SIZE=str(COMPILE_CACHE_BYTES))


def main(argv: list[str] | None = None) -> int:
    from ._version import __version__

    parser = argparse.ArgumentParser(prog="magwidgets", description="Quantum fingerprints of tight-binding wires.")
    parser.add_argument("--version", action="version", version=f"magwidgets {__version__}")
    commands = parser.add_subparsers(dest="command")
    example = commands.add_parser("example", help="print and plot the seed 000 fingerprint (the default)")
    example.add_argument("--output", default="seed000_fingerprint.png", help="PNG file for the plot")
    notebooks = commands.add_parser("notebooks", help="copy the teaching notebooks into a folder for JupyterLab")
    notebooks.add_argument("destination", metavar="DEST", help="folder to copy them into (created if missing)")
    design = commands.add_parser("design", help="run an inverse design from a TOML config (see examples/)")
    design.add_argument("config", help="the run's TOML config")
    restarting = design.add_mutually_exclusive_group()
    restarting.add_argument("--resume", action="store_true", help="continue from the run's checkpoint")
    restarting.add_argument("--restart", action="store_true", help="start over, replacing an unfinished run")
    design.add_argument("--output", help="results archive (default: run.output in the config)")
    design.add_argument("--steps", type=int, help="total steps (default: run.steps in the config)")
    design.add_argument("--coordinator", metavar="HOST:PORT",
                        help="join a jax.distributed run whose process 0 listens here (every process: same config)")
    design.add_argument("--num-processes", type=int, metavar="N", help="processes in the jax.distributed run")
    design.add_argument("--process-id", type=int, metavar="I", help="this process's rank, 0..N-1 (0 writes files)")
    dashboard = commands.add_parser("dashboard", help="serve the Voila dashboard (the seed 000 defect example)")
    dashboard.add_argument("--port", type=int, help="port (default: a free one)")
    dashboard.add_argument("--ip", default="127.0.0.1", help="address to listen on (0.0.0.0 to serve a class)")
    dashboard.add_argument("--pool", type=int, default=0, help="preheated kernels kept ready for new visitors")
    dashboard.add_argument("--slots", type=int, help="design runs computing at once; the rest queue (default: "
                                                     "one per CPU core)")
    dashboard.add_argument("--token", help="require this secret: visitors open http://HOST:PORT/?token=SECRET")
    dashboard.add_argument("--no-browser", action="store_true", help="do not open a browser")
    args = parser.parse_args(argv)
    if args.command == "notebooks":
        try:
            copies = copy_notebooks(args.destination)
        except (FileExistsError, NotADirectoryError, FileNotFoundError) as error:
            print(f"magwidgets notebooks: {error}", file=sys.stderr)
            return 2
        print(f"copied {len(copies)} notebooks into {args.destination}; open them with: jupyter lab "
              f"{args.destination}", file=sys.stderr)
        return 0
    if args.command == "dashboard":
        from .session import server

        for folder in server.remove_stale_run_folders():
            print(f"removed {folder}, left by a dashboard that is no longer running", file=sys.stderr)
        run_folder = server.make_run_folder()
        try:
            command = dashboard_command(args.port, args.pool, args.ip, not args.no_browser, token=args.token,
                                        run_folder=run_folder)
            environment = dashboard_environment(run_folder, args.slots)
        except (ValueError, FileNotFoundError) as error:
            shutil.rmtree(run_folder, ignore_errors=True)
            parser.error(str(error))
        shown = [part if not part.startswith("--token=") else "--token=..." for part in command[2:]]
        print("serving the magwidgets dashboard:", " ".join(shown), file=sys.stderr)
        print(f"stop it with Ctrl-C or `kill {os.getpid()}`: Voila, its kernels and {run_folder} go with it",
              file=sys.stderr)
        return server.serve(command, environment, run_folder)
    from .core.process import configure

    configure()
    if args.command == "design":
        distributed = (args.coordinator, args.num_processes, args.process_id)
        if any(value is not None for value in distributed):
            if None in distributed:
                parser.error("--coordinator, --num-processes and --process-id go together")
            from .core.sharding import initialize_distributed  # before anything touches a device

            try:
                initialize_distributed(*distributed)
            except ValueError as error:
                parser.error(str(error))
            import jax

            print(f"jax.distributed: process {args.process_id} of {args.num_processes}, {jax.device_count()} devices "
                  f"in all ({jax.local_device_count()} here); process 0 writes the files", file=sys.stderr)
        return run_design(args.config, args.resume, args.output, args.steps, args.restart)
    if args.command in (None, "example"):
        seed000_example(getattr(args, "output", "seed000_fingerprint.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
