"""``python -m gui``: the fastrnn explorer window (also ``fastrnn-gui``).

    python -m gui [--corpus PATH] [--checkpoint PATH] [--sweep DIR]
    python -m gui --shots DIR [--steps N] [--sweep DIR]   # screenshots, then exit

With a display, the window opens (``--corpus`` preselects the training text,
``--checkpoint`` shows a saved language model without training, ``--sweep`` opens a
``fastrnn sweep`` results folder in the "Sweep" tab). Without one (no
``DISPLAY`` / ``WAYLAND_DISPLAY``, or ``QT_QPA_PLATFORM=offscreen``), or with
``--shots``, it runs offscreen: trains for ``--steps`` steps (or loads
``--checkpoint``), pauses, draws a fresh sample, saves one PNG per view (tab; the
sweep tab last, as ``NN_sweep.png``, when ``--sweep`` is given) and one of the whole
window into ``DIR`` (default: a new temporary folder) and prints where. A ``--sweep``
folder that cannot be read ends the screenshot mode with exit code 1.

This module must stay cheap to import: the spawned worker process imports it again
(as ``__mp_main__``) when the app was started with ``python -m gui``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

#: BLAS / OpenMP pools of the GUI process stay at one thread (the worker process
#: gets its own explicit settings, see gui.worker.worker_env).
GUI_THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def has_display() -> bool:
    """True when Qt can open a real window here."""
    if os.environ.get("QT_QPA_PLATFORM", "") == "offscreen":
        return False
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m gui", description="fastrnn explorer: train and look inside"
    )
    p.add_argument("--corpus", help="training text: a UTF-8 file or a folder")
    p.add_argument(
        "--checkpoint", help="a saved language model to inspect (no training)"
    )
    p.add_argument(
        "--sweep",
        metavar="DIR",
        help="a 'fastrnn sweep' results folder to show in the Sweep tab",
    )
    p.add_argument(
        "--shots",
        metavar="DIR",
        help="save screenshots of every view into DIR and exit (offscreen)",
    )
    p.add_argument(
        "--steps", type=int, default=30, help="training steps before the screenshots"
    )
    p.add_argument(
        "--timeout", type=float, default=600.0, help="give up screenshots after (s)"
    )
    return p


def take_screenshots(win, app, folder: Path, steps: int, timeout: float) -> list[Path]:
    """Run the window's worker until ``steps`` (or the inspect snapshot), then save PNGs.

    Returns the written paths (one per view, the sweep view when a sweep is open,
    then ``window.png``). Raises
    RuntimeError when the worker fails and TimeoutError after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout

    def wait(condition) -> None:
        while not condition():
            app.processEvents()
            if win.last_error is not None:
                raise RuntimeError(f"worker failed:\n{win.last_error}")
            if not win.is_running():
                raise RuntimeError("the worker ended before the screenshots")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no screenshots within {timeout} s")
            time.sleep(0.02)

    if win.handle is None:
        raise RuntimeError("start the worker before taking screenshots")
    inspect = win.handle.config.mode == "inspect"
    if inspect:
        wait(lambda: win.latest is not None and win.latest.status == "inspecting")
    else:
        wait(lambda: win.latest is not None and win.latest.step >= steps)
        win.pause()
        wait(lambda: win.latest.status == "paused")
    seen = win.n_snapshots
    win.send("sample")  # a sample of the current model, not of an older one
    wait(lambda: win.n_snapshots > seen and win.latest.sample_step >= win.latest.step)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    sweep = [] if win.sweep_view is None else [win.sweep_view]
    for i, view in enumerate([*win.views, *sweep]):
        win.tabs.setCurrentWidget(view)
        for _ in range(3):
            app.processEvents()
        name = view.title.lower().replace(" ", "_")
        path = folder / f"{i + 1:02d}_{name}.png"
        if not view.grab().save(str(path), "PNG"):
            raise OSError(f"could not write {path}")
        paths.append(path)
    win.tabs.setCurrentIndex(min(1, len(win.views) - 1))
    for _ in range(3):
        app.processEvents()
    path = folder / "window.png"
    if not win.grab().save(str(path), "PNG"):
        raise OSError(f"could not write {path}")
    paths.append(path)
    return paths


def _qt_message(mode, context, message: str) -> None:
    """Qt's log messages to stderr, minus the offscreen plugin's harmless one."""
    if "propagateSizeHints" not in message:
        print(message, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m gui`` and ``fastrnn-gui``."""
    args = _parser().parse_args(argv)
    if args.steps < 1:
        print(f"expected --steps >= 1, got {args.steps}", file=sys.stderr)
        return 2
    for var in GUI_THREAD_ENV:  # before numpy is imported in this process
        os.environ[var] = "1"
    shots = args.shots
    if not has_display():
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        if shots is None:
            shots = tempfile.mkdtemp(prefix="fastrnn-gui-shots-")
            print("no display: running offscreen and saving screenshots", flush=True)
    from PyQt6.QtCore import qInstallMessageHandler

    from gui.app import MainWindow, create_app, install_excepthook
    from gui.protocol import RunConfig

    qInstallMessageHandler(_qt_message)
    app = create_app()
    win = MainWindow(RunConfig(corpus=args.corpus))
    install_excepthook(win)
    win.show()
    if args.sweep and not win.open_sweep(args.sweep) and shots is not None:
        print(f"screenshots failed: {win.status_label.text()}", file=sys.stderr)
        win.close()
        return 1
    if shots is not None:
        try:
            if args.checkpoint:
                win.load_checkpoint(args.checkpoint)
            else:
                win.start()
            paths = take_screenshots(win, app, Path(shots), args.steps, args.timeout)
        except (RuntimeError, TimeoutError, OSError) as err:
            print(f"screenshots failed: {err}", file=sys.stderr)
            return 1
        finally:
            win.stop_worker()
            win.close()
        print(f"saved {len(paths)} screenshots in {Path(shots).resolve()}:")
        for p in paths:
            print(f"  {p.name}")
        return 0
    if args.checkpoint:
        win.load_checkpoint(args.checkpoint)
    rc = app.exec()
    win.stop_worker()
    return rc


if __name__ == "__main__":
    sys.exit(main())
