"""Median redraw time of every explorer at its defaults: ``python -m mini_vllm.bench_widgets``.

A redraw is what a slider move costs in the notebook: run the calculators, draw the figure,
render it to PNG and update the readout. Measurements that a widget caches (this machine's
timings) are warm, as they are after the first draw. Target: < 100 ms each on a 2-core machine.

References:
    ipywidgets Output widget:
    https://ipywidgets.readthedocs.io/en/stable/examples/Output%20Widget.html
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time

import matplotlib

from . import widgets

TARGET_S = 0.100
EXPLORERS = {
    "roofline": widgets.explore_roofline,
    "kv_growth": widgets.explore_kv_growth,
    "attention": widgets.explore_attention,
    "sampling": widgets.explore_sampling,
    "kv_cache_work": widgets.explore_kv_cache_work,
    "prefill_decode": widgets.explore_prefill_decode,
    "littles_law": widgets.explore_littles_law,
}


def time_redraws(explorer: widgets.Explorer, repeats: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``repeats`` redraws (figure + PNG + readout), current settings.

    CPU time is reported too because on a shared machine wall time includes waiting for a core.
    """
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(io.StringIO()):  # outside a kernel display() prints
            explorer.redraw()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def _plain_figure() -> None:
    fig, _ = widgets._figure()
    widgets.figure_png(fig)


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Print first-draw and median redraw time per explorer; return the medians in seconds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="redraws per explorer")
    args = parser.parse_args(argv)
    matplotlib.use("Agg")
    medians = {}
    print(f"{'explorer':<16}{'first draw':>12}{'median redraw':>15}{'median CPU':>13}"
          f"  (target < {TARGET_S * 1e3:.0f} ms)")
    for name, make in EXPLORERS.items():
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            explorer = make(show=False)
        first = time.perf_counter() - t0
        wall, cpu = time_redraws(explorer, args.repeats)
        medians[name] = statistics.median(wall)
        flag = "ok" if medians[name] < TARGET_S else "SLOW"
        print(f"{name:<16}{first * 1e3:>9.0f} ms{medians[name] * 1e3:>12.1f} ms"
              f"{statistics.median(cpu) * 1e3:>10.1f} ms  {flag}")
    # Calibration: an empty Axes rendered to PNG. If this alone is slow, the machine is busy.
    wall, cpu = [], []
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        _plain_figure()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print(f"{'(empty axes)':<16}{'':>12}{statistics.median(wall) * 1e3:>12.1f} ms"
          f"{statistics.median(cpu) * 1e3:>10.1f} ms  baseline: the machine's floor")
    return medians


if __name__ == "__main__":
    main()
