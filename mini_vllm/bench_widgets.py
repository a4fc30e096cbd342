"""Median redraw time of every explorer against 100 ms: ``python -m mini_vllm.bench_widgets``.

A redraw is what a slider move costs in the notebook: run the calculators, draw the figure,
render it (PNG at 2x, the explorers' own format; ``--formats png1x png2x svg`` compares them)
and update the readout. Two medians per explorer and format: redrawing the current settings
(measurements a widget caches are warm, as they are after the first draw), and moving the
controls through settings not drawn before, as a reader's first moves (text caches emptied,
the explorer drawn once), so that new titles and tick labels are rasterised. An explorer PASSes
when both are under 100 ms on this machine. A benchmark, not a test: it reports, it does not
fail; a busy machine shows as a slow empty-axes line and a high load average.

References:
    ipywidgets Output widget:
    https://ipywidgets.readthedocs.io/en/stable/examples/Output%20Widget.html
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import time

import matplotlib

from . import widgets

TARGET_S = 0.100
BUSY = 1.1  # wall time over CPU time above which the machine was busy during the run
EXPLORERS = {
    "roofline": widgets.explore_roofline,
    "kv_growth": widgets.explore_kv_growth,
    "attention": widgets.explore_attention,
    "sampling": widgets.explore_sampling,
    "kv_cache_work": widgets.explore_kv_cache_work,
    "prefill_decode": widgets.explore_prefill_decode,
    "littles_law": widgets.explore_littles_law,
}
# Settings a reader moves to, none of them an explorer's default: the "new settings" median.
SWEEPS = {
    "roofline": [{"batch_size": b} for b in (2, 4, 8, 16, 32, 64, 128, 256)],
    "kv_growth": [{"batch_size": b} for b in (2, 3, 5, 13, 21, 34, 55, 89)],
    "attention": [{"layer": layer, "head": head}
                  for layer, head in ((1, 1), (2, 2), (3, 3), (1, 3), (2, 0), (3, 1))],
    "sampling": [{"temperature": t} for t in (0.2, 0.4, 0.6, 0.8, 1.2, 1.4, 1.6, 1.8)],
    "kv_cache_work": [{"max_new_tokens": n} for n in (16, 24, 32, 40, 56, 64)],
    "prefill_decode": [{"max_tokens": n} for n in (8, 16, 32, 128)],
    "littles_law": [{"throughput_per_s": x} for x in (2.5, 5.0, 20.0, 40.0, 60.0, 80.0)],
}


def _quietly(call, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()):  # outside a kernel display() prints
        return call(*args, **kwargs)


def time_redraws(explorer: widgets.Explorer, repeats: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``repeats`` redraws (figure + PNG + readout), current settings.

    CPU time is reported too because on a shared machine wall time includes waiting for a core.
    """
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        _quietly(explorer.redraw)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def time_new_settings(explorer: widgets.Explorer, settings: list[dict], passes: int = 1
                      ) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``explorer.update(**s)`` for each of ``settings``, ``passes``
    times, each pass as a reader's first moves after the explorer appeared: text caches
    emptied, then the current settings drawn.

    Each setting's measurements (this machine's timings) are taken first, untimed: the first
    visit to a setting shows "measuring ..." anyway. The controls are put back afterwards.
    """
    before = {name: explorer.values[name] for s in settings for name in s}
    for s in settings:
        _quietly(explorer.render, **s)
    wall, cpu = [], []
    for _ in range(passes):
        widgets.clear_text_caches()
        _quietly(explorer.update, **before)  # the explorer as it first appears
        for s in settings:
            t0, c0 = time.perf_counter(), time.process_time()
            _quietly(explorer.update, **s)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    _quietly(explorer.update, **before)
    return wall, cpu


def _empty_axes(image_format: str, repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of an empty Axes, drawn and rendered: the machine's floor."""
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fig, _ = widgets._figure()
        widgets.figure_image(fig, image_format)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def _verdict(medians: dict[str, float], image_format: str) -> str:
    slow = {name: s for name, s in medians.items() if s >= TARGET_S}
    worst = max(medians, key=medians.get)
    if not slow:
        return (f"{image_format}: PASS - every explorer redraws in under "
                f"{TARGET_S * 1e3:.0f} ms (slowest: {worst}, {medians[worst] * 1e3:.0f} ms)")
    listed = ", ".join(f"{name} {s * 1e3:.0f} ms" for name, s in slow.items())
    return f"{image_format}: FAIL - {len(slow)} of {len(medians)} at or over " \
           f"{TARGET_S * 1e3:.0f} ms: {listed}"


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Print first-draw and median redraw times per explorer and image format, with a PASS or
    FAIL against 100 ms; return the medians of the current-settings redraws in seconds,
    {format: {explorer: seconds}}."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="redraws per explorer")
    parser.add_argument("--formats", nargs="+", default=["png2x"], choices=widgets.IMAGE_FORMATS,
                        help="image formats to time (the explorers draw png2x)")
    parser.add_argument("--new-settings", type=int, default=None, metavar="N",
                        help="new settings per explorer (default: all of SWEEPS, 4 to 8; "
                             "0: skip them)")
    args = parser.parse_args(argv)
    matplotlib.use("Agg")
    medians: dict[str, dict[str, float]] = {f: {} for f in args.formats}
    worst: dict[str, dict[str, float]] = {f: {} for f in args.formats}
    waited = [0.0, 0.0]  # summed median wall and CPU seconds: wall > CPU means a busy machine
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"Target: median redraw < {TARGET_S * 1e3:.0f} ms per explorer, at the current "
          f"settings and at new ones. {os.cpu_count()} cores, load average {load:.2f}.")
    print(f"{'':<35}{'-- current settings --':>27}{'---- new settings ----':>27}")
    print(f"{'explorer':<16}{'format':>7}{'first draw':>12}"
          + f"{'median redraw':>15}{'median CPU':>12}" * 2 + "  verdict")
    for name, make in EXPLORERS.items():
        t0 = time.perf_counter()
        explorer = _quietly(make, show=False)
        first = f"{(time.perf_counter() - t0) * 1e3:9.0f} ms"
        for image_format in args.formats:
            explorer.image_format = image_format
            wall, cpu = time_redraws(explorer, args.repeats)
            settings = SWEEPS[name][:args.new_settings]
            passes = -(-args.repeats // max(len(settings), 1))  # about as many moves as redraws
            new_wall, new_cpu = time_new_settings(explorer, settings, passes)
            new = statistics.median(new_wall) if settings else 0.0
            medians[image_format][name] = statistics.median(wall)
            waited[0] += medians[image_format][name]
            waited[1] += statistics.median(cpu)
            worst[image_format][name] = max(medians[image_format][name], new)
            verdict = "PASS" if worst[image_format][name] < TARGET_S else "FAIL"
            shown = f"{new * 1e3:>12.1f} ms{statistics.median(new_cpu) * 1e3:>9.1f} ms" \
                if settings else f"{'-':>15}{'-':>12}"
            print(f"{name:<16}{image_format:>7}{first:>12}"
                  f"{medians[image_format][name] * 1e3:>12.1f} ms"
                  f"{statistics.median(cpu) * 1e3:>9.1f} ms{shown}  {verdict}")
            first = ""
    # Calibration: if an empty Axes alone is slow, the machine is busy.
    for image_format in args.formats:
        wall, cpu = _empty_axes(image_format, args.repeats)
        print(f"{'(empty axes)':<16}{image_format:>7}{'':>12}{wall * 1e3:>12.1f} ms"
              f"{cpu * 1e3:>9.1f} ms{'':>27}  the machine's floor")
    print("Verdict, each explorer's slower median of the two:")
    for image_format in args.formats:
        own = " (the explorers' format)" if image_format == widgets.IMAGE_FORMATS[0] else ""
        print("  " + _verdict(worst[image_format], image_format + own))
    if waited[0] > BUSY * waited[1]:
        print(f"  Busy machine: the redraws waited for a core ({waited[0] / waited[1] - 1:.0%} "
              f"of wall time over CPU time); rerun when it is quiet.")
    return medians


if __name__ == "__main__":
    main()
