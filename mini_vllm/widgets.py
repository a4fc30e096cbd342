"""Interactive explorers: sliders wired to the calculators and the toy engine, drawn by plots.py.

Each ``explore_<thing>(**defaults)`` displays and returns an :class:`Explorer` (an ipywidgets
``VBox`` of controls, an ``HTML`` readout and an ``Output`` holding the figure); a notebook cell
is just ``_ = explore_kv_growth()``, and ``show=False`` only builds it. Needs no ipympl: on every
change the figure (a matplotlib ``Figure`` outside pyplot, so nothing leaks) is rendered to a PNG
with twice its pixels, shown at its own size so that it stays sharp on high-DPI screens, in the
Output, which works in JupyterLab, Colab and Binder. ``Explorer.update(**values)``
(moves controls, redraws) and ``Explorer.render(**values)`` (pure) are the paths the tests sweep;
a bad combination of controls shows a readable message in the readout, never a traceback.
Measurements on this machine run once per widget and setting (the median of repeated runs), so
a setting always redraws the same figure. On a static page (the book) an explorer is a ``div``
with the figure, a real alt text, the settings, the readout and a note; the notebook cell's
figure metadata numbers and captions it.

References:
    ipywidgets Output widget:
    https://ipywidgets.readthedocs.io/en/stable/examples/Output%20Widget.html
"""

from __future__ import annotations

import base64
import functools
import html
import io
import itertools
import math
import struct
import time
import warnings
import zlib
from collections.abc import Callable

import ipywidgets as widgets
import numpy as np
from IPython.display import SVG, Image, display
import matplotlib as mpl
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, fontManager, get_font

from . import memory, plots, roofline, site_data
from .catalog import get_model, list_models
from .config import TOY, TOY_MHA, TOY_MQA
from .engine import LLMEngine, count_work
from .hardware import (H100_CONTEXTS, blas_threads, get_gpu, list_gpus,
                       load_h100_measurements, measure_host)
from .model import ToyModel, causal_mask
from .pretrained import load_pretrained
from .sampler import Sampler, SamplingParams
from .style import CYCLE, FIGSIZE, OKABE_ITO, figure_dpi
from .tokenizer import ByteTokenizer
from .units import format_bytes, format_duration, format_flops_per_s

__all__ = ["Explorer", "lookup_site", "flop_split_site", "bpe_tradeoff_site", "explore_roofline", "explore_kv_growth", "explore_attention",
           "explore_sampling", "explore_kv_cache_work", "explore_prefill_decode",
           "explore_prefill_decode_bound",
           "explore_littles_law"]

THIS_MACHINE = "this machine (CPU)"
# What a static page (the book's site) says under an explorer's figure instead of its controls.
STATIC_NOTE = ("In a live notebook (Binder or Colab: the rocket icon at the top; or JupyterLab) "
               "controls redraw this.")
NONE = "(none)"
POWERS_OF_TWO = [2 ** i for i in range(0, 11)]  # 1 .. 1024
CONTEXTS = [2 ** i for i in range(8, 18)]  # 256 .. 131072 tokens
TRAINED = "trained on Shakespeare (GQA 4q/2kv)"
RANDOM_CHOICES = {"random toy (GQA 4q/2kv)": TOY, "random toy-mha (MHA 4q/4kv)": TOY_MHA,
                  "random toy-mqa (MQA 4q/1kv)": TOY_MQA}
# The model dropdowns: the trained model first (patterns mean something), the random ones after.
MODEL_CHOICES = [TRAINED, *RANDOM_CHOICES]
MAX_ATTENTION_TOKENS = 48  # more tokens than this make unreadable labels
ATTENTION_PROMPT = "To be, or not to be, that is the question:"  # Hamlet, in training
SAMPLING_PROMPT = "I pray you, tell me th"  # the next byte is a real choice: e, a, i, o, ...


# ---- the widget shell -----------------------------------------------------------------------
class Explorer(widgets.VBox):
    """Controls + figure + readout; ``render`` is pure, ``update`` sets controls and redraws."""

    def __init__(self, title: str, controls: dict[str, widgets.Widget],
                 render: Callable[..., tuple[Figure | None, str]],
                 on_change: Callable[[Explorer, str], None] | None = None,
                 pending: Callable[[dict], str | None] | None = None,
                 alt: Callable[..., str] | None = None,
                 site: Callable[[dict], tuple[str, dict]] | None = None):
        self.title = title
        self.controls = controls
        self._render = render
        self._on_change_hook = on_change
        self._pending = pending  # values -> a message when the next render must measure first
        self._alt = alt  # values -> what the figure shows, in words (the image's alt text)
        self._site = site  # values -> (kind, spec): the page's own explorer (site_data.py)
        self._busy = False
        self.figure: Figure | None = None
        self.image_format = "png2x"  # one of IMAGE_FORMATS; bench_widgets compares them
        self._image: tuple[str, bytes, int] | None = None  # (MIME, data, display width px)
        self.readout_text = ""
        self.output = widgets.Output()
        self.readout = widgets.HTML()
        box = widgets.Box(list(controls.values()),
                          layout=widgets.Layout(display="flex", flex_flow="row wrap"))
        super().__init__([widgets.HTML(f"<b>{html.escape(title)}</b>"), box, self.readout,
                          self.output])
        # Same CSS class as ``interact``'s box (look and browser-test selectors), plus our own.
        self.add_class("widget-interact")
        self.add_class("mini-vllm-explorer")
        for name, control in controls.items():
            control.observe(lambda change, name=name: self._changed(name), names="value")
        self.redraw()

    @property
    def values(self) -> dict:
        """Current value of every control, by name."""
        return {name: c.value for name, c in self.controls.items()}

    def render(self, **values) -> tuple[Figure, str]:
        """(figure, readout text) for the current values overridden by ``values``.

        Pure (the controls do not move) and strict: a bad combination raises ValueError.
        """
        return self._render(**{**self.values, **values})

    def update(self, **values) -> str:
        """Set controls, redraw once, return the readout text.

        Values are applied in the order of ``controls`` (a model before its num_kv_heads), so
        the keyword order does not matter.
        """
        unknown = set(values) - set(self.controls)
        if unknown:
            raise ValueError(f"unknown control(s) {sorted(unknown)}; "
                             f"known: {sorted(self.controls)}")
        notes = []
        self._busy = True
        try:
            for name in [n for n in self.controls if n in values]:
                value, note = _allowed_value(self.controls[name], values[name])
                notes += [note] if note else []
                self.controls[name].value = value
                if self._on_change_hook:
                    self._on_change_hook(self, name)
        finally:
            self._busy = False
        text = self.redraw()
        if notes:  # say what was snapped or refused, under the readout
            self.readout_text = "\n".join([text] + notes)
            self.readout.value = _readout_html(self.readout_text)
        return self.readout_text

    def _repr_mimebundle_(self, **kwargs) -> dict:
        """The live widget for a kernel's front end, and for a static page (the book's site,
        where no kernel moves the controls) the current figure with a caption instead: the site
        prefers text/html, JupyterLab and Colab the widget view."""
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/html"] = self.static_html()
        return bundle

    def static_html(self) -> str:
        """The explorer for a static page. With a site version (``site``), a ``div.mv-live``
        that book/_static/explorers/*.js turns into controls and a figure that redraw in the
        page, holding the spec they read and the figure drawn here (shown if scripts do not
        run); otherwise the figure drawn here with its settings (``fixed_html``)."""
        fixed = self.fixed_html()
        if self._site is None:
            return fixed
        kind, spec = self.site_spec()
        return (f"<div class='mini-vllm-live-explorer mv-live' data-mv-kind='{kind}'>"
                f"<script type='application/json' class='mv-spec'>{site_data.spec_json(spec)}"
                f"</script><div class='mv-fallback'>{fixed}</div></div>")

    def site_spec(self) -> tuple[str, dict]:
        """(kind, spec) of the page's own explorer: its title, the controls' current values
        and what ``site`` adds (site_data.py). ValueError for an explorer without one."""
        if self._site is None:
            raise ValueError(f"the explorer {self.title!r} has no site version")
        kind, spec = self._site(self.values)
        return kind, {"title": self.title, "values": self.values, **spec}

    def fixed_html(self) -> str:
        """The explorer at its current settings for a static page: the figure (or, for an
        explorer without one, its readout), the settings it was drawn at, the readout, and where
        to go to move the controls. No controls: on a static page they could not move. The
        numbered caption comes from the notebook cell (myst-nb figure metadata) around this."""
        settings = html.escape(self.settings_text())
        readout = "<br>".join(html.escape(line) for line in self.readout_text.splitlines())
        title = f"<b>{html.escape(self.title)}</b>"
        note = f"<p class='note'><i>{STATIC_NOTE}</i></p>"
        if self._image is None:  # a readout-only explorer: the text is the figure
            return (f"<div class='mini-vllm-static-explorer'>"
                    f"<div class='readout' style='border:1px solid #ccc;border-radius:4px;"
                    f"padding:0.6em 0.9em;text-align:left'>{readout}</div>"
                    f"<p class='settings'>{title}, at {settings}.</p>{note}</div>")
        mime, data, width = self._image
        src = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        alt = html.escape(self.alt_text(), quote=True)
        return (f"<div class='mini-vllm-static-explorer'>"
                f"<img src='{src}' alt='{alt}' width='{width}' "
                "style='max-width:100%;height:auto'>"
                f"<p class='settings'>{title}, drawn at {settings}.</p>"
                f"<p class='readout'>{readout}</p>{note}</div>")

    def settings_text(self) -> str:
        """Every control as the reader sees it: 'GPU A100 SXM4 80GB; decode batch 256; ...'."""
        return "; ".join(f"{_label(control)} {_setting(control.value)}"
                         for control in self.controls.values())

    def alt_text(self) -> str:
        """The figure described for someone who cannot see it, then the settings drawn at."""
        what = self._alt(**self.values) if self._alt else self.title
        return f"{what} Drawn at: {self.settings_text()}."

    def snapshot(self) -> Image:
        """The current figure as a 2x PNG ``Image`` shown at 1x: any notebook, the book."""
        if self.figure is None:
            raise ValueError(f"no figure at these settings: {self.readout_text}")
        png = figure_png(self.figure)
        return Image(data=png, format="png", width=png_size(png)[0] // PNG_SCALE)

    def _changed(self, name: str) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            if self._on_change_hook:
                self._on_change_hook(self, name)
        finally:
            self._busy = False
        self.redraw()

    def redraw(self) -> str:
        """Render the current values into the Output and the readout; return the readout text."""
        message = self._pending(self.values) if self._pending else None
        if message:  # a measurement takes a second or more: say so while it runs
            self.readout.value = _readout_html(f"⏳ {message}")
        fig, text = safe_render(self._render, self.values)
        self.figure, self.readout_text = fig, text
        self.readout.value = _readout_html(text)
        self._image = figure_image(fig, self.image_format) if fig is not None else None
        with self.output:
            self.output.clear_output(wait=True)
            if self._image is not None:
                mime, data, width = self._image
                display(SVG(data) if mime == "image/svg+xml" else
                        Image(data=data, format="png", width=width))
        return text


def _setting(value) -> str:
    """A control's value as a caption shows it: 1,024 rather than 1024, text in quotes."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, str):
        return f"“{value}”" if " " in value.strip() or not value.strip() else value
    return str(value)


def _label(control: widgets.Widget) -> str:
    """A control's label as the reader sees it next to the control ('top-k (0 = off)')."""
    return getattr(control, "description", "") or "value"


def _allowed_value(control: widgets.Widget, value):
    """(value to set, note): a number between the steps of a SelectionSlider snaps to the
    nearest step (powers of two: nearest on a log scale); anything else keeps the current value.
    A slider's readout is not a text box, so this only matters for values set from code."""
    if not isinstance(control, widgets.SelectionSlider) or value in control.options:
        return value, None
    label = control.description
    numbers = [o for o in control.options if isinstance(o, (int, float))]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not numbers:
        return control.value, (f"⚠ {label}={value!r} is not one of the slider's steps "
                               f"({control.options[0]} ... {control.options[-1]}); "
                               f"kept {control.value}")
    log = lambda v: np.log2(max(v, 0.5))  # noqa: E731 - 0 (no context) sits next to 1
    nearest = min(numbers, key=lambda o: (abs(log(o) - log(value)), o))
    return nearest, f"⚠ {label}={value:,} is not one of the slider's steps; using {nearest:,}"


def safe_render(render: Callable, values: dict) -> tuple[Figure | None, str]:
    """Call ``render(**values)``; an exception or warning becomes a readable readout line.

    A ValueError is the calculators' way of saying "this combination is impossible" (weights
    that do not fit, ...): its message is shown as is. Anything else is a bug, still shown
    as one line (the tests fail on 'internal error' and 'warning:').
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fig, text = render(**values)
        except ValueError as exc:
            return None, f"⚠ {exc}"
        except Exception as exc:  # never a traceback under a slider
            return None, f"⚠ internal error ({type(exc).__name__}): {exc}"
    notes = [f"⚠ warning: {w.message}" for w in caught]
    return fig, "\n".join([text] + notes)


# ---- rendering: each text rasterised once, then copied ------------------------------------
# Matplotlib 3.11 renders text glyph by glyph through FreeType on every draw, and measures it
# again for every new figure: on a 2-core machine that was half of a redraw. The strings of
# an explorer (tick labels, axis labels, most titles) repeat from one redraw to the next, so
# their pixels and sizes are cached. The caches memoise pure functions of their arguments
# (string, font, dpi, angle, the rcParams that shape glyphs): a figure draws the same pixels
# whatever was drawn before it.
TEXT_RC = ("text.hinting", "text.hinting_factor", "text.kerning_factor", "text.language")


def _glyph_rc() -> tuple:
    """The rcParams that change how a string's glyphs look (part of the caches' keys)."""
    return tuple(mpl.rcParams[k] for k in TEXT_RC if k in mpl.rcParams)


@functools.lru_cache(maxsize=1024)  # a few MB of small images
def _text_coverage(text: str, prop: FontProperties, dpi: float, angle: float,
                   antialiased: bool, glyph_rc: tuple) -> tuple[np.ndarray, int, int] | None:
    """(coverage (h, w) uint8, dx, dy): ``text`` drawn by matplotlib itself with its origin on
    a whole pixel; the image's top-left pixel lies (dx, dy) pixels from the origin (y down).
    None for a string with no ink (a space)."""
    w, h, d = _text_size(text, prop, dpi, glyph_rc)
    pad = 2 + prop.get_size_in_points() * dpi / 72  # room for bearings and accents
    box = np.array([[-pad, -d - pad], [w + pad, -d - pad], [w + pad, h - d + pad],
                    [-pad, h - d + pad]])  # (4, 2) corners around the text, y up
    cos, sin = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    corners = box @ np.array([[cos, sin], [-sin, cos]])  # (4, 2) rotated like the text
    (x0, y0), (x1, y1) = np.floor(corners.min(0)).astype(int), np.ceil(corners.max(0)).astype(int)
    scratch = RendererAgg(x1 - x0, y1 - y0, dpi)
    gc = scratch.new_gc()
    gc.set_antialiased(antialiased)
    scratch.draw_text(gc, -x0, y1, text, prop, angle)  # origin at (-x0, y1), y down
    gc.restore()
    alpha = np.asarray(scratch.buffer_rgba())[..., 3]  # (rows, cols): black ink, its coverage
    rows, cols = np.flatnonzero(alpha.any(1)), np.flatnonzero(alpha.any(0))
    if not len(rows):
        return None
    ink = np.array(alpha[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])  # (h, w) a copy
    return ink, int(cols[0] + x0), int(rows[0] - y1)


@functools.lru_cache(maxsize=4096)
def _text_size(text: str, prop: FontProperties, dpi: float, glyph_rc: tuple
               ) -> tuple[float, float, float]:
    """(width, height, descent) in pixels of a plain (not math) string, as Agg measures it."""
    return RendererAgg(1, 1, dpi).get_text_width_height_descent(text, prop, False)


@functools.lru_cache(maxsize=256)
def _font_heights(prop: FontProperties, dpi: float) -> tuple:
    """(ascent, descent, line gap) in pixels of ``prop``'s font, computed as matplotlib 3.11's
    Text._get_layout computes them for Agg (from the font's OS/2 or hhea table); Nones, and
    matplotlib computes them itself, where that is not possible."""
    find = getattr(fontManager, "_find_fonts_by_props", None)
    if find is None:
        return None, None, None
    font = get_font(find(prop))
    for name, gap, ascent, descent in (("OS/2", "sTypoLineGap", "sTypoAscender",
                                        "sTypoDescender"), ("hhea", "lineGap", "ascent",
                                                            "descent")):
        table = font.get_sfnt_table(name)
        if table is not None:  # the same arithmetic, in the same order: the same floats
            scale = 1 / font.get_sfnt_table("head")["unitsPerEm"] * prop.get_size_in_points() \
                * dpi / 72
            return table[ascent] * scale, -table[descent] * scale, table[gap] * scale
    return None, None, None


def _plain_text(ismath, mtext) -> bool:
    """True for text whose pixels depend only on string, font and angle: no math, and no
    OpenType features or language (matplotlib 3.11) set on it."""
    return not ismath and not (mtext is not None and any(
        getattr(mtext, f"get_{what}", lambda: None)() for what in ("fontfeatures", "language")))


def clear_text_caches() -> None:
    """Forget every cached text image and size (bench_widgets times redraws without them)."""
    for cache in (_text_coverage, _text_size, _font_heights):
        cache.cache_clear()


class TextCachingRenderer(RendererAgg):
    """Agg, drawing each plain string from a cache of its rasterised pixels.

    A string starts on a whole pixel, as matplotlib before 3.11 drew it (3.11 places each
    glyph to 1/64 pixel): at most half a pixel from where Agg would draw it, same glyphs.
    """

    def get_text_width_height_descent(self, s, prop, ismath):
        if not _plain_text(ismath, None):
            return super().get_text_width_height_descent(s, prop, ismath)
        return _text_size(s, prop.copy(), self.dpi, _glyph_rc())

    def _get_font_height_metrics(self, prop):
        # matplotlib 3.11 asks a backend for these (a private hook, used by PDF/PS); without
        # it every text looks its font up and reads four font tables on every draw
        return _font_heights(prop.copy(), self.dpi)

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if not _plain_text(ismath, mtext):
            return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
        drawn = _text_coverage(s, prop.copy(), self.dpi, float(angle), gc.get_antialiased(),
                               _glyph_rc())
        if drawn is not None:
            ink, dx, dy = drawn
            # as Agg's own glyphs: y counts down and names the image's bottom row
            self._renderer.draw_text_image(ink, round(x) + dx, round(y) + dy + len(ink), 0, gc)


class TextCachingCanvas(FigureCanvasAgg):
    """An Agg canvas whose renderer is a TextCachingRenderer (the explorers' figures)."""

    def get_renderer(self):
        w, h = self.get_width_height(physical=True)
        key = w, h, self.figure.dpi
        if self._lastKey != key:
            self.renderer = TextCachingRenderer(w, h, self.figure.dpi)
            self._lastKey = key
        return self.renderer


PNG_SCALE = 2  # PNG pixels per displayed pixel: sharp on high-DPI screens and projectors
IMAGE_FORMATS = ("png2x", "png1x", "svg")  # the explorer's choice first (see bench_widgets)


def figure_png(fig: Figure, scale: int = PNG_SCALE) -> bytes:
    """PNG bytes of ``fig`` at ``scale`` x its pixel size (shown at 1x: sharp, same size)."""
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else TextCachingCanvas(fig)
    dpi = fig.dpi
    fig.dpi = scale * dpi  # what savefig(dpi=...) does, without its PNG encoder (below)
    try:
        canvas.draw()
        rgba = np.asarray(canvas.buffer_rgba())  # (height, width, 4) uint8
    finally:
        fig.dpi = dpi
    return encode_png(rgba)


def encode_png(rgba: np.ndarray) -> bytes:
    """A PNG of an (height, width, 4) uint8 image: no row filter, zlib level 1.

    Pillow tries every row filter on every row; at 2x that doubled the time of a redraw's
    encoding (about 20 ms against 10 ms here) for a file only 5% smaller.
    """
    height, width, _ = rgba.shape
    rows = np.zeros((height, 1 + 4 * width), np.uint8)  # each row: filter byte 0, then pixels
    rows[:, 1:] = rgba.reshape(height, -1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows.data, 1)) + chunk(b"IEND", b""))


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels, read from a PNG's header (the IHDR chunk)."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def figure_image(fig: Figure, image_format: str = "png2x") -> tuple[str, bytes, int]:
    """(MIME type, bytes, width to display in CSS pixels) of ``fig`` in one of IMAGE_FORMATS."""
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image_format must be one of {IMAGE_FORMATS}; got {image_format!r}")
    width = round(fig.get_size_inches()[0] * fig.dpi)  # the figure's size at 1x
    if image_format == "svg":
        buf = io.BytesIO()
        fig.savefig(buf, format="svg")
        return "image/svg+xml", buf.getvalue(), width
    scale = PNG_SCALE if image_format == "png2x" else 1
    png = figure_png(fig, scale)
    return "image/png", png, png_size(png)[0] // scale


def _readout_html(text: str) -> str:
    lines = []
    for line in text.splitlines():
        escaped = html.escape(line)
        lines.append(f"<span style='color:#D55E00'>{escaped}</span>" if line.startswith("⚠")
                     else escaped)
    return ("<div style='font-size:15px;line-height:1.45;font-family:sans-serif'>"
            + "<br>".join(lines) + "</div>")


def _figure(ncols: int = 1, width: float | None = None, bottom: float = 0.16,
            left: float | None = None, height: float | None = None, right: float = 0.97
            ) -> tuple[Figure, list]:
    """A figure outside pyplot (nothing to close, nothing leaks) with fixed margins."""
    w, h = FIGSIZE
    fig = Figure(figsize=(width or w * ncols, height or h), dpi=figure_dpi())
    TextCachingCanvas(fig)  # sizes measured while plotting come from the cache too
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    fig.subplots_adjust(left=left or 0.12 / ncols ** 0.5, right=right, bottom=bottom, top=0.83,
                        wspace=0.3)
    return fig, list(axes)


def _displayed(factory):
    """Let ``explore_x(show=True)`` display its widget, as ``interact`` does, so that a notebook
    cell ``_ = explore_x()`` shows it (and nbval sees no stray repr). show=False only builds it."""
    @functools.wraps(factory)
    def wrapper(*args, show: bool = True, **defaults):
        explorer = factory(*args, **defaults)
        if show:
            display(explorer)
        return explorer
    return wrapper


def _control_options(controls: dict[str, widgets.Widget]) -> dict:
    """Each control's choices for the page's copy of it: [[label, value], ...] for a dropdown or
    a slider of steps, {min, max, step} for a number slider (site_data specs)."""
    out = {}
    for name, control in controls.items():
        if isinstance(control, (widgets.Dropdown, widgets.SelectionSlider)):
            out[name] = [[f"{value:,}" if isinstance(value, int) and not isinstance(value, bool)
                          and isinstance(control, widgets.SelectionSlider) else str(label), value]
                         for label, value in zip(control._options_labels, control._options_values)]
        elif isinstance(control, (widgets.IntSlider, widgets.FloatSlider)):
            out[name] = {"min": control.min, "max": control.max, "step": control.step}
    return out


def _site_controls(controls: dict[str, widgets.Widget], options: dict,
                   skip: tuple[str, ...] = ()) -> list[dict]:
    """The page's copies of the controls, in the widget's order and with its labels: dropdown
    (select), slider of steps (steps), number slider (range) or checkbox, each with its choices
    from ``options``. A text box and the names in ``skip`` need a kernel: not on the page."""
    kinds = ((widgets.Dropdown, "select"), (widgets.SelectionSlider, "steps"),
             ((widgets.IntSlider, widgets.FloatSlider), "range"), (widgets.Checkbox, "checkbox"))
    out = []
    for name, control in controls.items():
        kind = next((k for cls, k in kinds if isinstance(control, cls)), None)
        if kind is None or name in skip:
            continue
        choices = options.get(name)
        out.append({"name": name, "label": _label(control), "type": kind,
                    **(choices if isinstance(choices, dict) else
                       {"options": choices} if choices is not None else {})})
    return out


def _calculator_site(kind: str, controls: dict[str, widgets.Widget]):
    """The ``site`` of a calculator explorer: the catalog and the controls' choices."""
    def site(values: dict) -> tuple[str, dict]:
        options = _control_options(controls)
        return kind, {"catalog": site_data.catalog(), "options": options,
                      "controls": _site_controls(controls, options)}
    return site


# ---- control factories ----------------------------------------------------------------------
_STYLE = {"description_width": "initial"}


def _dropdown(description: str, options, value) -> widgets.Dropdown:
    return widgets.Dropdown(description=description, options=options, value=value, style=_STYLE,
                            layout=widgets.Layout(width="300px"))


def _slider(description: str, value, lo, hi, step=1) -> widgets.Widget:
    cls = widgets.IntSlider if all(isinstance(v, int) for v in (value, lo, hi, step)) \
        else widgets.FloatSlider
    return cls(description=description, value=value, min=lo, max=hi, step=step,
               continuous_update=False, style=_STYLE, layout=widgets.Layout(width="320px"))


def _choice_slider(description: str, options, value) -> widgets.SelectionSlider:
    if value not in options:  # a preset between the steps (batch 3) becomes a step of its own
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{description}={value!r}; choose a number such as {options[0]}")
        options = sorted({*options, value})
    # The readout of a SelectionSlider is a label, not a text box (unlike IntSlider's): say so.
    return widgets.SelectionSlider(description=description, options=options, value=value,
                                   continuous_update=False, style=_STYLE,
                                   tooltip="drag, or click the handle and use the arrow keys",
                                   layout=widgets.Layout(width="320px"))


def _checkbox(description: str, value: bool) -> widgets.Checkbox:
    return widgets.Checkbox(description=description, value=value, indent=False, style=_STYLE)


def _pick(defaults: dict, name: str, fallback):
    return defaults.pop(name, fallback)


def _no_leftovers(defaults: dict, function: str) -> None:
    if defaults:
        raise ValueError(f"{function}() got unknown default(s) {sorted(defaults)}")


def _gpu_spec(name: str, state: dict):
    """A catalog GPU, or this machine measured once per widget (cached in ``state``)."""
    if name != THIS_MACHINE:
        return get_gpu(name)
    if "host" not in state:
        state["host"] = measure_host(seconds=state.get("host_seconds", 0.4), progress=False)
    return state["host"]


# ---- 1. roofline ----------------------------------------------------------------------------
def _control_values(control: widgets.Widget) -> list:
    """Every value a control can take: a dropdown's or step slider's options, a number slider's
    steps from min to max (floats rounded to 10 digits, as a browser's range input reports them)."""
    if isinstance(control, (widgets.Dropdown, widgets.SelectionSlider)):
        return list(control._options_values)
    if isinstance(control, (widgets.IntSlider, widgets.FloatSlider)):
        count = round((control.max - control.min) / control.step)
        return [site_data.plain_number(control.min + i * control.step) for i in range(count + 1)]
    raise ValueError(f"a lookup explorer takes dropdowns and sliders; got {type(control).__name__}")


def lookup_site(controls: dict[str, widgets.Widget], render: Callable, max_rows: int = 5000):
    """The ``site`` of a readout-only explorer whose controls take few values: ``render``'s own
    readout for every combination of them, so the page shows exactly what the widget would
    (book/_static/explorers/lookup.js). ValueError past ``max_rows`` combinations."""
    def site(values: dict) -> tuple[str, dict]:
        axes = [_control_values(control) for control in controls.values()]
        if math.prod(map(len, axes)) > max_rows:
            raise ValueError(f"a lookup explorer holds at most {max_rows:,} settings; these "
                             f"controls make {math.prod(map(len, axes)):,}")
        rows = {}
        for combo in itertools.product(*axes):
            fig, text = safe_render(render, dict(zip(controls, combo)))
            if fig is not None:
                raise ValueError("lookup_site is for explorers without a figure")
            rows[site_data.lookup_key(combo)] = text.splitlines()
        options = _control_options(controls)
        return "lookup", {"options": options, "controls": _site_controls(controls, options),
                          "readouts": rows}
    return site


def flop_split_site(controls: dict[str, widgets.Widget]):
    """The ``site`` of section 0.7's explorer (FLOP of one token by part, model and context):
    each model's roofline.flops_per_token_breakdown with no context and what one more token of
    context adds; only the attention scores grow, linearly (book/_static/explorers/flop_split.js)."""
    def site(values: dict) -> tuple[str, dict]:
        rows = {}
        for name in list_models():
            cfg = get_model(name)
            base = roofline.flops_per_token_breakdown(cfg, context_len=0)
            one = roofline.flops_per_token_breakdown(cfg, context_len=1)
            rows[name] = {"base": base, "per_token": {k: one[k] - base[k] for k in base}}
        options = _control_options(controls)
        return "flop_split", {"options": options, "controls": _site_controls(controls, options),
                              "models": rows, "colour": OKABE_ITO["blue"]}
    return site


def bpe_tradeoff_site(num_merges_list, vocab_sizes, seq_lengths: dict):
    """The ``site`` of section 0.3's explorer (plots.plot_bpe_tradeoff with a merges slider):
    the texts' token counts after each number of merges, as the notebook computed them with its
    BPE (book/_static/explorers/bpe_tradeoff.js draws them)."""
    merges, sizes = list(num_merges_list), list(vocab_sizes)
    if not merges or merges != list(range(len(merges))) or len(sizes) != len(merges):
        raise ValueError("num_merges_list must be 0, 1, 2, ... with one vocab size each")
    series = [{"label": label, "lengths": [int(n) for n in lengths]}
              for label, lengths in seq_lengths.items()]
    if any(len(s["lengths"]) != len(merges) for s in series):
        raise ValueError("every entry of seq_lengths needs one count per number of merges")

    def site(values: dict) -> tuple[str, dict]:
        slider = {"name": "num_merges", "label": "merges", "type": "range", "min": 0,
                  "max": merges[-1], "step": 1}
        return "bpe_tradeoff", {"controls": [slider], "vocab_sizes": sizes, "series": series,
                                "colours": list(CYCLE)}
    return site


MEASURED_LABEL = "H100 measured (Llama-3-8B shape)"


def _decode_ladder(batch_size: int) -> list[int]:
    """Powers of two up to the chosen batch, and the batch itself: the walk toward the ridge."""
    return sorted({b for b in POWERS_OF_TWO if b <= batch_size} | {batch_size})


def _math_dtype(gpu, weight_dtype: str) -> str:
    """The tensor rate the math runs at: fp8 weights use fp8 math where the chip has it
    (W8A8), other weights are multiplied in bf16, or in fp16 on a chip without bf16 (the T4:
    vLLM runs bf16 models there in fp16); this machine's CPU computes in float32."""
    if gpu.name == THIS_MACHINE:
        return "float32"
    if weight_dtype in gpu.dense_flops:
        return weight_dtype
    return "bfloat16" if "bfloat16" in gpu.dense_flops else "float16"


def _measured_context(context_len: int) -> int:
    """The measured context (512, 2048 or 8192 tokens) nearest to the chosen one."""
    return min(H100_CONTEXTS, key=lambda c: abs(c - max(context_len, 1)))


def _measured_h100(cfg, context_len: int) -> list[tuple[float, float]]:
    """(intensity, achieved FLOP/s) of the measured H100 decode steps at the nearest context."""
    ctx = _measured_context(context_len)
    return [(roofline.decode_intensity(cfg, r["batch"], context_len=ctx),
             roofline.decode_flops(cfg, r["batch"]) / (r["graph_ms"] * 1e-3))
            for r in load_h100_measurements(ctx) if r["kind"] == "decode"]


def _render_roofline(state: dict, *, model: str, gpu: str, compare_gpu: str, weight_dtype: str,
                     batch_size: int, prompt_len: int, context_len: int, show_measured: bool):
    cfg = get_model(model)
    spec = _gpu_spec(gpu, state)
    gpus = [spec] + ([_gpu_spec(compare_gpu, state)] if compare_gpu not in (NONE, gpu) else [])
    dtype = _math_dtype(spec, weight_dtype)
    measured = _measured_h100(get_model("Llama-3-8B"), context_len) if show_measured else None
    fig, (ax,) = _figure()
    plots.plot_roofline(gpus, cfg, batch_sizes=_decode_ladder(batch_size), prompt_len=prompt_len,
                        dtype=[_math_dtype(g, weight_dtype) for g in gpus],
                        weight_dtype=weight_dtype, context_len=context_len,
                        measured=measured, measured_label=MEASURED_LABEL,
                        ax=ax)
    return fig, _roofline_readout(cfg, spec, dtype, weight_dtype, batch_size, context_len,
                                  show_measured)


def _roofline_readout(cfg, gpu, dtype, weight_dtype, batch_size, context_len, show_measured):
    kw = dict(context_len=context_len, weight_dtype=weight_dtype)
    intensity = roofline.decode_intensity(cfg, batch_size, **kw)
    ridge = roofline.ridge_point(gpu, dtype)
    regime = "memory-bound" if intensity < ridge else "compute-bound"
    util = roofline.utilization(cfg, gpu, batch_size, dtype=dtype, **kw)
    tok_s = roofline.decode_tokens_per_s_bound(cfg, gpu, batch_size, dtype=dtype, **kw)
    crit = roofline.critical_batch_size(cfg, gpu, dtype=dtype, **kw)
    lines = _memory_note(cfg, gpu, weight_dtype, batch_size, context_len) + [
             f"Decode at batch {batch_size:,}: intensity {intensity:,.1f} FLOP/byte vs ridge "
             f"{ridge:,.0f} FLOP/byte -> {regime}",
             f"Best-case compute utilisation: {util:.1%} of "
             f"{format_flops_per_s(gpu.peak_flops(dtype))}",
             f"Decode bound: {tok_s:,.0f} tokens/s in total "
             f"({tok_s / batch_size:,.1f} per sequence)",
             f"Critical batch (decode reaches the ridge): "
             + (f"{crit:,.0f}" if np.isfinite(crit) else
                "never (the KV reads grow as fast as the math)")]
    if show_measured:
        ctx = _measured_context(context_len)
        lines.append(f"Crosses: decode steps measured on one H100 80GB HBM3 (Llama-3-8B shape, "
                     f"context {ctx:,}, CUDA graphs; mini_vllm/data/h100_ctx{ctx}.csv): "
                     f"compare them with the H100 roofs")
    return "\n".join(lines)


@_displayed
def explore_roofline(**defaults) -> Explorer:
    """Roofline explorer: model, GPU (or this machine), weight dtype, batch, prompt, context."""
    state = {"host_seconds": _pick(defaults, "host_seconds", 0.4)}
    gpu_names = list_gpus() + [THIS_MACHINE]
    controls = {
        "model": _dropdown("model", list_models(), _pick(defaults, "model", "Llama-3-8B")),
        "gpu": _dropdown("GPU", gpu_names, _pick(defaults, "gpu", "A100 SXM4 80GB")),
        "compare_gpu": _dropdown("compare with", [NONE] + gpu_names,
                                 _pick(defaults, "compare_gpu", NONE)),
        "weight_dtype": _dropdown("weight dtype", ["bfloat16", "float16", "fp8", "int8", "int4"],
                                  _pick(defaults, "weight_dtype", "bfloat16")),
        "batch_size": _choice_slider("decode batch", POWERS_OF_TWO,
                                     _pick(defaults, "batch_size", 1)),
        "prompt_len": _choice_slider("prefill tokens", POWERS_OF_TWO[:1] + [2 ** i for i in
                                                                            range(4, 15)],
                                     _pick(defaults, "prompt_len", 512)),
        "context_len": _choice_slider("decode context", [0] + CONTEXTS[:8],
                                      _pick(defaults, "context_len", 0)),
        "show_measured": _checkbox("overlay measured H100",
                                   _pick(defaults, "show_measured", False)),
    }
    _no_leftovers(defaults, "explore_roofline")
    render = lambda **v: _render_roofline(state, **v)  # noqa: E731

    def pending(values: dict) -> str | None:
        wants_host = THIS_MACHINE in (values["gpu"], values["compare_gpu"])
        return "measuring this machine's FLOP/s and bandwidth ..." \
            if wants_host and "host" not in state else None

    return Explorer("Roofline: where decode and prefill sit", controls, render, pending=pending,
                    alt=_roofline_alt, site=_roofline_site(controls))


def _roofline_site(controls: dict[str, widgets.Widget]):
    """The ``site`` of the roofline explorer: catalog GPUs only (measuring this machine needs a
    kernel), the decode ladder's steps and the measured H100 decode points at every measured
    context, as (intensity FLOP/byte, achieved FLOP/s) pairs computed here."""
    def site(values: dict) -> tuple[str, dict]:
        options = _control_options(controls)
        for name in ("gpu", "compare_gpu"):
            options[name] = [o for o in options[name] if o[1] != THIS_MACHINE]
        fallback = {"gpu": options["gpu"][0][1], "compare_gpu": NONE}
        values = {k: fallback[k] if v == THIS_MACHINE else v for k, v in values.items()}
        cfg = get_model("Llama-3-8B")
        measured = {str(ctx): {"points": [list(p) for p in _measured_h100(cfg, ctx)],
                               "source": load_h100_measurements(ctx)[0]["source"]}
                    for ctx in H100_CONTEXTS}
        return "roofline", {"catalog": site_data.catalog(), "options": options, "none": NONE,
                            "controls": _site_controls(controls, options),
                            "values": values, "ladder": POWERS_OF_TWO,
                            "measured": {"contexts": list(H100_CONTEXTS), "by_context": measured,
                                         "label": MEASURED_LABEL}}
    return site


def _roofline_alt(*, model: str, gpu: str, compare_gpu: str, weight_dtype: str, batch_size: int,
                  prompt_len: int, context_len: int = 0, show_measured: bool = False,
                  **_) -> str:
    gpus = gpu + (f" and the {compare_gpu}" if compare_gpu not in (NONE, gpu) else "")
    crosses = (f" Black crosses: decode steps measured on one H100 (Llama-3-8B shape, context "
               f"{_measured_context(context_len):,})." if show_measured else "")
    return (f"Roofline chart, log-log: attainable FLOP/s (y) against arithmetic intensity in "
            f"FLOP per byte (x) for the {gpus}. Each roof climbs with memory bandwidth up to its "
            f"ridge (dotted line), then stays flat at peak compute; under each roof the region "
            f"left of that GPU's ridge is shaded blue (memory-bound), right of it orange "
            f"(compute-bound). Circles on every roof: {model} decode steps with {weight_dtype} "
            f"weights at batch 1 up to {batch_size:,}, each labelled; a square: a prefill of "
            f"{prompt_len:,} tokens. Small batches sit far left of the ridge.{crosses}")


# ---- 2. KV growth ---------------------------------------------------------------------------
def _render_kv_growth(*, model: str, num_kv_heads: int, kv_dtype: str, context_len: int,
                      batch_size: int, gpu: str, num_gpus: int):
    base = get_model(model)
    cfg = base if base.is_mla or num_kv_heads == base.num_kv_heads else \
        base.replace(num_kv_heads=num_kv_heads)
    spec = get_gpu(gpu)
    fig, (ax,) = _figure()
    plots.plot_kv_growth(cfg, spec, context_len=context_len, batch_size=batch_size,
                         kv_dtype=kv_dtype, num_gpus=num_gpus, ax=ax)
    return fig, _kv_readout(cfg, spec, kv_dtype, context_len, batch_size, num_gpus)


def _kv_readout(cfg, gpu, kv_dtype, context_len, batch_size, num_gpus) -> str:
    per_token = memory.kv_bytes_per_token(cfg, kv_dtype)
    per_seq = memory.kv_bytes_per_sequence(cfg, context_len, kv_dtype)
    total = memory.kv_bytes_total(cfg, context_len, batch_size, kv_dtype)
    free = memory.free_kv_bytes(cfg, gpu, num_gpus=num_gpus)
    naive = memory.max_sequences_naive(cfg, gpu, context_len, kv_dtype=kv_dtype, num_gpus=num_gpus)
    fits = "fits" if total <= free else "does NOT fit"
    lines = [f"KV per token: {format_bytes(per_token, 'both')}"
             + ("  (MLA caches one latent; num_kv_heads has no effect)" if cfg.is_mla else ""),
             f"KV per sequence of {context_len:,} tokens: {format_bytes(per_seq, 'GiB')}",
             f"Batch of {batch_size}: {format_bytes(total, 'GiB')} of "
             f"{format_bytes(free, 'GiB')} left after weights -> {fits}",
             f"Naive concurrency (whole sequences): {naive:,}"]
    lines[1:1] = _beyond_window_note(cfg, context_len)
    if num_gpus > 1 and (cfg.is_mla or cfg.num_kv_heads < num_gpus):
        copied = "MLA's latent" if cfg.is_mla else \
            f"{plots.plural(cfg.num_kv_heads, 'KV head')} on {num_gpus} GPUs"
        lines.append(f"Note: vLLM cannot split {copied} {num_gpus} ways and copies it on every "
                     f"GPU, so the naive count (the cache split evenly) overstates what fits; "
                     f"the vLLM line below counts the copies")
    try:
        report = memory.vllm_kv_cache_report(cfg, gpu, context_len, kv_dtype=kv_dtype,
                                             tensor_parallel_size=num_gpus)
        lines.append(f"vLLM-style: {report.tokens_line}; {report.concurrency_line}")
    except ValueError as exc:
        lines.append(f"vLLM-style: {exc}")
    return "\n".join(lines)


def _beyond_window_note(cfg, context_len: int) -> list[str]:
    """A readout line when ``context_len`` is past the model's window, else nothing."""
    if context_len <= cfg.max_position_embeddings:
        return []
    return [f"Note: {cfg.name} handles at most {cfg.max_position_embeddings:,} tokens "
            f"(max_position_embeddings); longer requests are arithmetic only, and vLLM refuses "
            f"such a max_model_len unless VLLM_ALLOW_LONG_MAX_MODEL_LEN=1"]


def _kv_model_changed(explorer: Explorer, name: str) -> None:
    """Offer only the divisors of the new model's num_heads, preset to its own num_kv_heads."""
    if name != "model":
        return
    cfg = get_model(explorer.controls["model"].value)
    control = explorer.controls["num_kv_heads"]
    control.options = site_data.kv_head_choices(cfg)
    control.value = cfg.num_kv_heads


@_displayed
def explore_kv_growth(**defaults) -> Explorer:
    """KV-cache growth: model, num_kv_heads (MHA/GQA/MQA), KV dtype, context, batch, GPU(s)."""
    model = _pick(defaults, "model", "Llama-3-8B")
    cfg = get_model(model)
    controls = {
        "model": _dropdown("model", list_models(), model),
        "num_kv_heads": _dropdown("KV heads", site_data.kv_head_choices(cfg),
                                  _pick(defaults, "num_kv_heads", cfg.num_kv_heads)),
        "kv_dtype": _dropdown("KV dtype", ["bfloat16", "float16", "fp8"],
                              _pick(defaults, "kv_dtype", "bfloat16")),
        "context_len": _choice_slider("context (tokens)", CONTEXTS,
                                      _pick(defaults, "context_len", 8192)),
        "batch_size": _slider("batch", _pick(defaults, "batch_size", 8), 1, 256),
        "gpu": _dropdown("GPU", list_gpus(), _pick(defaults, "gpu", "H100 SXM5 80GB")),
        "num_gpus": _dropdown("GPUs", [1, 2, 4, 8], _pick(defaults, "num_gpus", 1)),
    }
    _no_leftovers(defaults, "explore_kv_growth")
    return Explorer("KV cache growth vs the memory left after the weights", controls,
                    _render_kv_growth, on_change=_kv_model_changed, alt=_kv_growth_alt,
                    site=_calculator_site("kv_growth", controls))


def _kv_growth_alt(*, model: str, num_kv_heads: int, kv_dtype: str, batch_size: int, gpu: str,
                   num_gpus: int, **_) -> str:
    return (f"Line chart: KV-cache memory in GiB (y) against context length per sequence in "
            f"tokens (x) for {model} with {num_kv_heads} KV heads in {kv_dtype}. The KV of a "
            f"batch of {batch_size:,} rises in a straight line and crosses the horizontal line "
            f"of memory left after the weights on {num_gpus} x {gpu}; an X marks the length at "
            f"which the batch stops fitting, a dot the chosen context, and a note says how "
            f"many whole sequences fit.")


# ---- 3. attention ---------------------------------------------------------------------------
def _model_config(choice: str):
    """The ModelConfig behind a model-dropdown choice (the trained one read from its files)."""
    return _trained_model().config if choice == TRAINED else RANDOM_CHOICES[choice]


@functools.lru_cache(maxsize=1)
def _trained_model() -> ToyModel:
    return load_pretrained()


def _choice_model(state: dict, choice: str) -> ToyModel:
    """The model behind a dropdown choice, built once per widget (the trained one once at all)."""
    if choice == TRAINED:
        return _trained_model()
    if ("model", choice) not in state:
        state[("model", choice)] = ToyModel(RANDOM_CHOICES[choice], seed=0)
    return state[("model", choice)]


def _toy_attention(state: dict, config_name: str, prompt: str, causal: bool):
    """(weights (layers, heads, T, T), token ids) of the chosen model on the prompt, cached."""
    key = (config_name, prompt, causal)
    if key not in state:
        model = _choice_model(state, config_name)
        ids = ByteTokenizer().encode(prompt)[:MAX_ATTENTION_TOKENS]
        kwargs = {} if causal else {"causal": False}
        _, maps = model.forward([(ids, model.new_cache())], return_attention=True, **kwargs)
        state[key] = (maps[0], ids)
    return state[key]


def _supports_unmasked(state: dict) -> bool:
    if "unmasked_ok" not in state:
        import inspect
        state["unmasked_ok"] = "causal" in inspect.signature(ToyModel.forward).parameters
    return state["unmasked_ok"]


def _render_attention(state: dict, *, prompt: str, config: str, layer: int, head: int,
                      causal: bool):
    if not prompt:
        raise ValueError("type a prompt (at least one character)")
    cfg = _model_config(config)
    unmasked = not causal and _supports_unmasked(state)
    maps, ids = _toy_attention(state, config, prompt, causal=not unmasked)
    tok = ByteTokenizer()
    tokens = [tok.token_str(i) for i in ids]
    weights = maps[layer, head]  # (T, T)
    future = causal_mask(len(ids), len(ids))  # (T, T) True where the mask removes a pair
    group = cfg.num_queries_per_kv
    kv_head = head // group  # query head h reads KV head h // group (model.attention)
    sharing = list(range(kv_head * group, (kv_head + 1) * group))
    fig, (ax,) = _figure(height=plots.ATTENTION_FIGSIZE[1], **plots.ATTENTION_MARGINS)
    plots.plot_attention(weights, tokens, layer=layer, head=head, kv_head=kv_head,
                         heads_sharing=sharing, masked=future if causal else None, ax=ax)
    return fig, _attention_readout(cfg, weights, future, ids, causal, unmasked, sharing, kv_head)


def _attention_readout(cfg, weights, future, ids, causal, unmasked, sharing, kv_head) -> str:
    n = len(ids)
    cut = f" - cut to the first {n}" if n == MAX_ATTENTION_TOKENS else ""
    lines = [f"{n} tokens (one byte each){cut}; "
             f"{cfg.name}: {cfg.num_heads} query heads, {cfg.num_kv_heads} KV "
             f"head{'s' if cfg.num_kv_heads > 1 else ''} "
             f"({cfg.attention_kind})",
             f"Query heads {sharing} share KV head {kv_head}: same keys, different queries"]
    if causal:
        lines.append(f"Causal mask: removes {int(future.sum()):,} of {n * n:,} query-key pairs "
                     f"(grey with a cross: a token may not look at later tokens)")
    elif unmasked:
        lines.append(f"Mask OFF: on average {weights[future].sum() / n:.0%} of a query's "
                     f"attention goes to later tokens - information a generator cannot have")
    else:
        lines.append("Mask OFF is not available in this engine version; showing the causal weights")
    return "\n".join(lines)


def _attention_config_changed(explorer: Explorer, name: str) -> None:
    if name != "config":
        return
    cfg = _model_config(explorer.controls["config"].value)
    explorer.controls["layer"].max = cfg.num_layers - 1
    explorer.controls["head"].max = cfg.num_heads - 1


@_displayed
def explore_attention(**defaults) -> Explorer:
    """Attention weights on a typed prompt: model (trained or random), layer, head, causal mask."""
    state: dict = {}
    config = _pick(defaults, "config", TRAINED)
    cfg = _model_config(config)
    controls = {
        "prompt": widgets.Text(description="prompt", value=_pick(defaults, "prompt",
                                                                 ATTENTION_PROMPT),
                               continuous_update=False, style=_STYLE,
                               layout=widgets.Layout(width="420px")),
        "config": _dropdown("model", MODEL_CHOICES, config),
        "layer": _slider("layer", _pick(defaults, "layer", 0), 0, cfg.num_layers - 1),
        "head": _slider("head", _pick(defaults, "head", 0), 0, cfg.num_heads - 1),
        "causal": _checkbox("causal mask", _pick(defaults, "causal", True)),
    }
    _no_leftovers(defaults, "explore_attention")
    render = lambda **v: _render_attention(state, **v)  # noqa: E731
    # the page offers the trained model only: random toy models are not exported
    site = _attention_site(state, controls) if config == TRAINED else None
    return Explorer("Attention weights, one head at a time", controls, render,
                    on_change=_attention_config_changed, alt=_attention_alt, site=site)


# The page's prompts: the notebook's own first, then short lines in the trained model's style.
# At most 24 bytes each: a prompt's maps cost layers x heads x T^2 floats, twice (mask on/off).
SITE_ATTENTION_PROMPTS = ("To be, or not to be,", "Now is the winter of our",
                          "All the world's a stage,", "ROMEO:\nBut soft, what",
                          "What's in a name? That")


def _site_prompts(first: str, more) -> list[str]:
    """The page's prompt choices: ``first`` (the notebook's, if any) then ``more``, once each."""
    return list(dict.fromkeys([first, *more] if first else more))


def _attention_site_row(state: dict, prompt: str) -> dict:
    """One prompt for the page: token labels and the trained model's weights with the mask on
    (lower triangle only: the rest is 0) and off, as float32 base64 (layers, heads, T, T)."""
    causal, ids = _toy_attention(state, TRAINED, prompt, causal=True)
    full = _toy_attention(state, TRAINED, prompt, causal=False)[0] \
        if _supports_unmasked(state) else causal
    tok = ByteTokenizer()
    return {"prompt": prompt, "label": repr(prompt),
            "tokens": [plots._token_label(tok.token_str(i)) for i in ids],
            "causal": site_data.float_array(site_data.lower_triangle(causal)),
            "full": site_data.float_array(full)}


def _attention_site(state: dict, controls: dict):
    """The ``site`` of explore_attention: the trained model's maps for a handful of prompts."""
    def site(values: dict) -> tuple[str, dict]:
        cfg = _model_config(TRAINED)
        prompts = _site_prompts(values["prompt"], SITE_ATTENTION_PROMPTS)
        return "attention", {
            "options": _control_options({k: controls[k] for k in ("layer", "head")}),
            "controls": _site_controls(controls, _control_options(controls), skip=("config",)),
            "prompts": [_attention_site_row(state, p) for p in prompts],
            "model": {"name": cfg.name, "num_layers": cfg.num_layers,
                      "num_heads": cfg.num_heads, "num_kv_heads": cfg.num_kv_heads,
                      "attention_kind": cfg.attention_kind},
            "unmasked": _supports_unmasked(state), "max_tokens": MAX_ATTENTION_TOKENS,
            "colours": {"map": site_data.colour_table("viridis"), "cross": plots.MASK_CROSS,
                        "masked": mpl.colors.to_hex(plots.MASKED_RGBA)}}
    return site


def _attention_alt(*, prompt: str, config: str, layer: int, head: int, causal: bool,
                   **_) -> str:
    mask = ("the causal mask greys out and crosses the upper triangle (later tokens)"
            if causal else "with the mask off every cell holds a weight")
    return (f"Heatmap of attention weights (colour, 0 to 1) of layer {layer}, head {head} of "
            f"the {config} model on the prompt “{prompt[:60]}”: one row per query token, one "
            f"column per key token, each row summing to 1; {mask}.")


# ---- 4. sampling ----------------------------------------------------------------------------
def _toy_logits(state: dict, prompt: str, model_choice: str = TRAINED) -> np.ndarray:
    """Next-token logits (vocab,) of the chosen model after the prompt, cached per prompt."""
    if (model_choice, prompt) not in state:
        model = _choice_model(state, model_choice)
        ids = ByteTokenizer().encode(prompt)[-model.config.max_position_embeddings + 1:]
        state[(model_choice, prompt)] = model.forward([(ids, model.new_cache())],
                                                      last_token_only=True)[0][0]
    return state[(model_choice, prompt)]


def _render_sampling(state: dict, *, prompt: str, temperature: float, top_k: int, top_p: float,
                     seed: int, model: str = TRAINED):
    logits = state.get("logits")
    if logits is None:
        if not prompt:
            raise ValueError("type a prompt (at least one character)")
        logits = _toy_logits(state, prompt, model)
    params = SamplingParams(temperature=float(temperature), top_k=top_k or None,
                            top_p=float(top_p), seed=int(seed))
    drawn = int(Sampler().sample(logits[None, :], [params], [np.random.default_rng(seed)])[0])
    labels = state["labels"]
    fig, (ax,) = _figure(bottom=0.27)
    plots.plot_sampling(logits, params, token_labels=labels, sampled_token=drawn, ax=ax)
    return fig, _sampling_readout(logits, params, drawn, labels)


def _sampling_readout(logits, params, drawn, labels) -> str:
    from .sampler import probabilities
    final = probabilities(logits, params)
    kept = int(np.count_nonzero(final))
    how = "greedy (temperature < 1e-5): always the most likely token" if params.is_greedy else \
        (f"temperature {params.temperature:g} then top-k {params.top_k or 'off'} "
         f"then top-p {params.top_p:g}")
    return "\n".join([
        f"Rule: {how}",
        f"Kept {kept:,} of {len(logits):,} tokens; the sampler draws only among them",
        f"Drawn with seed {params.seed}: {labels[drawn]!r} (probability {final[drawn]:.3f})"])


@_displayed
def explore_sampling(logits=None, token_labels=None, **defaults) -> Explorer:
    """Next-token distribution with temperature, top-k (0 = off), top-p and a seeded draw.

    By default the trained model's logits after ``prompt`` (the ``model`` dropdown offers the
    random toy models too); pass ``logits`` (vocab,) to explore your own (``token_labels`` names
    them).
    """
    state: dict = {}
    if logits is not None:
        state["logits"] = np.asarray(logits, dtype=float)
    n = len(state["logits"]) if logits is not None else TOY.vocab_size
    tok = ByteTokenizer()
    state["labels"] = list(token_labels) if token_labels is not None else (
        [tok.token_str(i) for i in range(n)] if n == tok.vocab_size else [str(i) for i in range(n)])
    controls = {
        "prompt": widgets.Text(description="prompt", value=_pick(defaults, "prompt",
                                                                 SAMPLING_PROMPT),
                               continuous_update=False, disabled=logits is not None, style=_STYLE,
                               layout=widgets.Layout(width="420px")),
        "model": _dropdown("model", MODEL_CHOICES, _pick(defaults, "model", TRAINED)),
        "temperature": _slider("temperature", float(_pick(defaults, "temperature", 1.0)), 0.0, 2.0,
                               0.05),
        "top_k": _slider("top-k (0 = off)", _pick(defaults, "top_k", 0), 0, 50),
        "top_p": _slider("top-p", float(_pick(defaults, "top_p", 1.0)), 0.05, 1.0, 0.05),
        "seed": _slider("seed", _pick(defaults, "seed", 0), 0, 99),
    }
    if logits is not None:
        del controls["model"]  # your own logits: there is no model to choose
    _no_leftovers(defaults, "explore_sampling")
    render = lambda **v: _render_sampling(state, **v)  # noqa: E731
    # the page offers the trained model only (or your logits): random toy models are not exported
    trained = logits is not None or controls["model"].value == TRAINED
    return Explorer("Sampling: temperature, top-k, top-p", controls, render, alt=_sampling_alt,
                    site=_sampling_site(state, controls) if trained else None)


# The page's prompts: the notebook's own first, then lines whose next byte is a real choice,
# from sure ('To be, or not to b') to wide open ('Good night, sweet ').
SITE_SAMPLING_PROMPTS = (SAMPLING_PROMPT, "ROMEO:\n", "To be, or not to b",
                         "O Romeo, Romeo! wh", "Good night, sweet ")


def _sampling_site_logits(state: dict, prompt: str) -> list[dict]:
    """The page's logits rows: the caller's own logits (float64, as the widget holds them) under
    the notebook's prompt, else the trained model's (float32) after each offered prompt."""
    if "logits" in state:
        rows = [(prompt, state["logits"])]
    else:
        rows = [(p, _toy_logits(state, p)) for p in _site_prompts(prompt, SITE_SAMPLING_PROMPTS)]
    return [{"prompt": p, "label": repr(p), "dtype": arr.dtype.name,
             "logits": site_data.float_array(arr, arr.dtype.name)} for p, arr in rows]


def _sampling_site(state: dict, controls: dict):
    """The ``site`` of explore_sampling: logits, token labels and one uniform number per seed."""
    from .sampler import GREEDY_EPS
    from .style import GREY, OKABE_ITO

    def site(values: dict) -> tuple[str, dict]:
        seed = controls["seed"]
        labels = state["labels"]
        return "sampling", {
            "options": _control_options({k: controls[k] for k in
                                         ("temperature", "top_k", "top_p", "seed")}),
            "controls": _site_controls(controls, _control_options(controls), skip=("model",)),
            "explicit": "logits" in state,
            "prompts": _sampling_site_logits(state, values["prompt"]),
            "uniforms": site_data.seed_uniforms(range(seed.min, seed.max + 1)),
            "seed_min": seed.min, "greedy_eps": GREEDY_EPS,
            "top_n": plots.plot_sampling.__kwdefaults__["top_n"],
            "ticks": [plots._token_label(label) for label in labels],
            "reprs": [repr(label) for label in labels],
            "colours": {"bar": OKABE_ITO["blue"], "removed": GREY, "final": OKABE_ITO["black"],
                        "boundary": OKABE_ITO["vermillion"], "drawn": OKABE_ITO["orange"]}}
    return site


def _sampling_alt(*, temperature: float, top_k: int, top_p: float, prompt: str = "",
                  **_) -> str:
    after = f" after the prompt “{prompt[:60]}”" if prompt else ""
    return (f"Bar chart: probability (y) of the 16 most likely next tokens (x, most likely "
            f"first){after} at temperature {temperature:g}, top-k {top_k or 'off'}, top-p "
            f"{top_p:g}. Coloured bars are the tokens the sampler may still draw, grey bars the "
            f"ones the filters removed; black dashes mark the renormalised probabilities, a "
            f"dashed line the boundary, and a triangle the token one seeded draw picks.")


# ---- timing on this machine ------------------------------------------------------------------
def one_blas_thread():
    """numpy's BLAS on one thread inside a ``with`` block: ``hardware.blas_threads(1)``.

    The toy model's matrices are tiny: splitting them over threads only adds waiting (30x slower
    on a busy 2-core machine), so timings run on one thread. Kept here because notebooks use it.
    """
    return blas_threads(1)


def _measuring_explorer(title: str, controls: dict, state: dict, render_fn, message: str,
                        alt: Callable[..., str]) -> Explorer:
    """An Explorer whose renders time things on this machine, cached in ``state``.

    Measurements are keyed by the control values in order, so the readout can say "measuring"
    only for settings that have not been measured yet.
    """
    render = lambda **v: render_fn(state, **v)  # noqa: E731

    def pending(values: dict) -> str | None:
        return None if tuple(values[name] for name in controls) in state else message

    return Explorer(title, controls, render, pending=pending, alt=alt)


# ---- 5. KV-cache work -----------------------------------------------------------------------
def _run_engine(prompt_len: int, max_new_tokens: int, use_kv_cache: bool):
    """Per-step tokens processed (the engine's counters) and wall seconds, one greedy request."""
    engine = LLMEngine(TOY, seed=0, use_kv_cache=use_kv_cache)
    prompt = (list(b"The quick brown fox jumps over the lazy dog. ") * 8)[:prompt_len]
    engine.add_request(prompt, SamplingParams(temperature=0.0, max_tokens=max_new_tokens,
                                              ignore_eos=True))
    seconds = []
    while engine.has_unfinished_requests():
        t0 = time.perf_counter()
        engine.step()
        seconds.append(time.perf_counter() - t0)
    return np.array(engine.stats.tokens_processed_per_step), np.array(seconds)


def _kv_work(state: dict, prompt_len: int, max_new_tokens: int, repeats: int = 3):
    """Cumulative (tokens, seconds) with and without the cache; measured once per widget and
    settings (so moving back to a setting redraws the same figure), each step's time the
    median of ``repeats`` runs (one run slowed by other work cannot bend the line)."""
    key = (prompt_len, max_new_tokens)
    if key not in state:
        runs = []
        for use_kv_cache in (True, False):
            with one_blas_thread():
                trials = [_run_engine(prompt_len, max_new_tokens, use_kv_cache)
                          for _ in range(repeats)]
            typical = np.median([seconds for _, seconds in trials], axis=0)  # (steps,)
            runs.append((np.cumsum(trials[0][0]), np.cumsum(typical)))
        state[key] = tuple(runs)
    return state[key]


def _render_kv_cache_work(state: dict, *, prompt_len: int, max_new_tokens: int):
    (with_tokens, with_s), (without_tokens, without_s) = _kv_work(state, prompt_len, max_new_tokens)
    n = np.arange(1, max_new_tokens + 1)
    fig, (ax_work, ax_time) = _figure(ncols=2, width=11.0)
    plots.plot_kv_cache_work(n, with_tokens, without_tokens, prompt_len=prompt_len, ax=ax_work)
    plots.plot_kv_cache_time(n, with_s, without_s, prompt_len=prompt_len, ax=ax_time)
    expected_without, expected_with = count_work(prompt_len, max_new_tokens)
    same = (without_tokens[-1], with_tokens[-1]) == (expected_without, expected_with)
    agree = "agree" if same else "DISAGREE"
    tokens = f"{max_new_tokens} token{'s' if max_new_tokens != 1 else ''}"
    return fig, "\n".join([
        f"Generating {tokens} after a {prompt_len}-token prompt:",
        f"tokens processed without cache {int(without_tokens[-1]):,}, with cache "
        f"{int(with_tokens[-1]):,} ({without_tokens[-1] / with_tokens[-1]:.1f}x less work; "
        f"the engine's counters {agree} with count_work)",
        f"wall time here: without {format_duration(without_s[-1])}, with "
        f"{format_duration(with_s[-1])} ({without_s[-1] / with_s[-1]:.1f}x faster)"])


@_displayed
def explore_kv_cache_work(**defaults) -> Explorer:
    """Tokens processed and wall time with and without the KV cache, counted by the engine."""
    state: dict = {}
    controls = {
        "prompt_len": _slider("prompt tokens", _pick(defaults, "prompt_len", 8), 1, 64),
        # from 2: one generated token needs no cache at all (both lines are one point)
        "max_new_tokens": _slider("generated tokens", _pick(defaults, "max_new_tokens", 48), 2,
                                  128),
    }
    _no_leftovers(defaults, "explore_kv_cache_work")
    return _measuring_explorer("What the KV cache saves", controls, state, _render_kv_cache_work,
                               "running the engine with and without the cache ...",
                               alt=_kv_cache_work_alt)


def _kv_cache_work_alt(*, prompt_len: int, max_new_tokens: int) -> str:
    return (f"Two line charts against generated tokens n (x, 1 to {max_new_tokens:,}) after a "
            f"prompt of {plots.plural(prompt_len, 'token')}, with and without a KV cache. Left: "
            f"tokens the model processed, log scale; with the cache the count grows like n, "
            f"without it like n squared. Right: measured wall time in ms on this machine; the "
            f"line without the cache bends upward and ends far above the other.")


# ---- 6. prefill vs decode timing on this machine -----------------------------------------------
TIMING_MODELS = {"toy (hidden 64)": 64, "hidden 256": 256, "hidden 512": 512}


def _timing_config(name: str):
    hidden = TIMING_MODELS[name]
    if hidden == TOY.hidden_size:
        return TOY
    return TOY.replace(name=f"toy-{hidden}", hidden_size=hidden, intermediate_size=hidden * 8 // 3
                       // 16 * 16 + 16)


def _time_prefill_decode(model: ToyModel, lengths: list[int], repeats: int = 3):
    """Seconds for one n-token prefill and for n one-token decode steps, for each n.

    Each prefill is the median of 3 x ``repeats`` runs and each decode step the median of
    ``repeats`` (plots.median_timing): one run slowed by other work on a shared machine
    cannot draw a spike.
    """
    warm = model.new_cache()
    model.forward([(list(range(1, max(lengths) + 1)), warm)], last_token_only=True)  # warm-up
    for i in range(8):
        model.forward([([1 + i], warm)], last_token_only=True)
    prefill = []
    for n in lengths:
        runs = []
        for _ in range(3 * repeats):
            t0 = time.perf_counter()
            model.forward([(list(range(1, n + 1)), model.new_cache())], last_token_only=True)
            runs.append(time.perf_counter() - t0)
        prefill.append(runs)  # (3 * repeats,) for this n
    steps = np.full((repeats, max(lengths)), np.inf)  # (repeats, n): seconds of each decode step
    for r in range(repeats):
        cache = model.new_cache()
        for i in range(max(lengths)):
            t0 = time.perf_counter()
            model.forward([([1 + i % 255], cache)], last_token_only=True)
            steps[r, i] = time.perf_counter() - t0
    decode = np.cumsum(plots.median_timing(steps, max(lengths), "decode steps"))
    return plots.median_timing(np.array(prefill).T, len(lengths), "prefill"), \
        decode[np.array(lengths) - 1]


def _render_prefill_decode(state: dict, *, model: str, max_tokens: int):
    key = (model, max_tokens)
    lengths = [2 ** i for i in range(0, int(np.log2(max_tokens)) + 1)]
    if key not in state:
        toy = ToyModel(_timing_config(model), seed=0)
        repeats = 3 if toy.config.hidden_size <= 64 else 2  # bigger models: fewer repeats
        with one_blas_thread():
            state[key] = _time_prefill_decode(toy, lengths, repeats)
    prefill, decode = state[key]
    fig, (ax,) = _figure()
    plots.plot_prefill_decode_timing(lengths, prefill, decode, model_name=model, ax=ax)
    n = lengths[-1]
    return fig, "\n".join([
        f"{n} tokens as one prefill pass: {format_duration(prefill[-1])} "
        f"({n / prefill[-1]:,.0f} tokens/s)",
        f"{n} tokens as {n} decode steps: {format_duration(decode[-1])} "
        f"({n / decode[-1]:,.0f} tokens/s), {decode[-1] / prefill[-1]:.1f}x slower",
        "Each pass pays a fixed cost (reading every weight, Python overhead); prefill shares it "
        "across all prompt tokens, decode pays it for every token"])


@_displayed
def explore_prefill_decode(**defaults) -> Explorer:
    """Measured time per token on this machine: one prefill pass vs many one-token decode steps."""
    state: dict = {}
    controls = {
        "model": _dropdown("model", list(TIMING_MODELS), _pick(defaults, "model",
                                                               "toy (hidden 64)")),
        "max_tokens": _choice_slider("tokens", [8, 16, 32, 64, 128, 256],
                                     _pick(defaults, "max_tokens", 64)),
    }
    _no_leftovers(defaults, "explore_prefill_decode")
    return _measuring_explorer("Prefill vs decode on this machine", controls, state,
                               _render_prefill_decode,
                               "timing prefill and decode on this machine ...",
                               alt=_prefill_decode_alt)


def _prefill_decode_alt(*, model: str, max_tokens: int) -> str:
    return (f"Line chart, log-log: measured time per token in microseconds (y) against tokens n "
            f"(x, 1 to {max_tokens:,}) for the {model} model on this machine, each point the "
            f"median of repeated runs. Green squares: one prefill pass over n tokens; "
            f"vermillion circles: n one-token decode steps, which cost many times more per "
            f"token.")


# ---- 6b. prefill vs decode from the bounds on a GPU --------------------------------------------
PROMPT_TOKENS = [2 ** i for i in range(0, 15)]  # 1 .. 16,384: the slider's steps, the chart's n


def _first_memory_bound_step(cfg, gpu, num_steps: int, batch_size: int, **kw) -> int:
    """The first decode step i < num_steps (reading i cached tokens per sequence) whose memory
    time reaches its compute time; num_steps if none. Only the memory time grows with i."""
    low, high = 0, num_steps
    while low < high:  # bisection over roofline.decode_step_breakdown itself
        mid = (low + high) // 2
        step = roofline.decode_step_breakdown(cfg, gpu, batch_size, context_len=mid, **kw)
        low, high = (low, mid) if step["memory_s"] >= step["compute_s"] else (mid + 1, high)
    return low


def _decode_steps_s(cfg, gpu, num_steps: int, batch_size: int, **kw) -> tuple[float, int]:
    """(seconds, compute-bound steps) of num_steps decode steps of batch_size sequences from an
    empty cache: the sum over i < num_steps of roofline.decode_step_time_bound(context_len=i).

    Summed in closed form: every step has the same compute time, and the memory time grows by
    the same bytes per step (each sequence's cache grows a token), so the steps split into a
    compute-bound run and a memory-bound run whose times add as an arithmetic series.
    """
    first = _first_memory_bound_step(cfg, gpu, num_steps, batch_size, **kw)
    step = functools.partial(roofline.decode_step_breakdown, cfg, gpu, batch_size, **kw)
    seconds = first * step(context_len=0)["compute_s"]
    if first < num_steps:
        ends = step(context_len=first)["memory_s"] + step(context_len=num_steps - 1)["memory_s"]
        seconds += (num_steps - first) * ends / 2
    return seconds, first


def _prefill_decode_bound(cfg, gpu, prompt_len: int, batch_size: int, weight_dtype: str) -> dict:
    """The explorer's numbers for n = prompt_len: one n-token prefill against n decode steps
    (n x batch_size tokens), both from the roofline bounds, math at _math_dtype's rate."""
    kw = {"weight_dtype": weight_dtype, "dtype": _math_dtype(gpu, weight_dtype)}
    prefill_s = roofline.prefill_time_bound(cfg, gpu, prompt_len, **kw)
    decode_s, compute_steps = _decode_steps_s(cfg, gpu, prompt_len, batch_size, **kw)
    tokens = prompt_len * batch_size
    return {"prefill_s": prefill_s, "decode_s": decode_s, "compute_bound_steps": compute_steps,
            "prefill_tokens_per_s": prompt_len / prefill_s,
            "decode_tokens_per_s": tokens / decode_s,
            "ratio": (decode_s / tokens) / (prefill_s / prompt_len), "dtype": kw["dtype"]}


def _render_prefill_decode_bound(lengths, *, model: str, gpu: str, weight_dtype: str,
                                 batch_size: int, prompt_len: int):
    cfg, spec = get_model(model), get_gpu(gpu)
    points = [_prefill_decode_bound(cfg, spec, n, batch_size, weight_dtype) for n in lengths]
    fig, (ax,) = _figure()
    plots.plot_prefill_decode_bound(lengths, [p["prefill_s"] for p in points],
                                    [p["decode_s"] for p in points], batch_size=batch_size,
                                    chosen=prompt_len, model_name=f"{model} ({weight_dtype})",
                                    gpu_name=gpu, ax=ax)
    chosen = points[list(lengths).index(prompt_len)]
    return fig, _prefill_decode_bound_readout(cfg, spec, weight_dtype, batch_size, prompt_len,
                                              chosen)


def _prefill_decode_bound_readout(cfg, gpu, weight_dtype, batch_size, prompt_len, r) -> str:
    n, b, steps = prompt_len, batch_size, r["compute_bound_steps"]
    intensity = roofline.prefill_intensity(cfg, n, weight_dtype=weight_dtype)
    ridge = roofline.ridge_point(gpu, r["dtype"])
    regime = "memory-bound" if intensity < ridge else "compute-bound"
    decode_regime = ("memory-bound at every step" if steps == 0 else
                     "compute-bound at every step" if steps >= n else
                     f"compute-bound for the first {plots.plural(steps, 'step')}, "
                     "then memory-bound")
    slower = ("the same time per token" if f"{r['ratio']:,.1f}" == "1.0" else
              f"decode takes {r['ratio']:,.1f}x as long" if r["ratio"] >= 1 else
              f"prefill takes {1 / r['ratio']:,.1f}x as long")
    lines = _beyond_window_note(cfg, n) + _memory_note(cfg, gpu, weight_dtype, b, n) + [
        f"Prefill of {plots.plural(n, 'token')} in one pass: {format_duration(r['prefill_s'])} "
        f"({r['prefill_tokens_per_s']:,.0f} tokens/s), {regime}: intensity "
        f"{intensity:,.1f} vs ridge {ridge:,.0f} FLOP/byte ({r['dtype']} math)",
        f"{plots.plural(n, 'decode step')} at batch {b:,} ({plots.plural(n * b, 'token')}, each "
        f"step reading the caches so far): {format_duration(r['decode_s'])} "
        f"({r['decode_tokens_per_s']:,.0f} tokens/s), {decode_regime}",
        f"Per token: prefill {format_duration(r['prefill_s'] / n)}, decode "
        f"{format_duration(r['decode_s'] / (n * b))}: {slower}"]
    return "\n".join(lines)


def _memory_note(cfg, gpu, weight_dtype: str, batch_size: int, num_tokens: int) -> list[str]:
    """A readout note when the weights and the batch's caches of num_tokens tokens would not
    fit in the GPU's memory: a bound is arithmetic, it does not check that the model fits."""
    weights = memory.weight_bytes(cfg, weight_dtype)
    kv = memory.kv_bytes_total(cfg, num_tokens, batch_size)
    if weights + kv <= gpu.memory_bytes:
        return []
    caches = (f" and {plots.plural(batch_size, 'cache')} of {num_tokens:,} tokens "
              f"({format_bytes(kv, 'GiB')})" if kv else "")
    return [f"Note: the weights ({format_bytes(weights, 'GiB')}){caches} exceed the "
            f"{gpu.name}'s {format_bytes(gpu.memory_bytes, 'GiB')}: these numbers are the "
            f"bounds' arithmetic only"]


@_displayed
def explore_prefill_decode_bound(**defaults) -> Explorer:
    """Time per token on a GPU, from the bounds: one n-token prefill vs n decode steps.

    The prefill is roofline.prefill_time_bound(n). The decode is n steps of batch_size sequences
    from an empty cache, step i reading i cached tokens per sequence: the sum of
    roofline.decode_step_time_bound(context_len=i) for i = 0 .. n - 1, which makes
    n x batch_size tokens. Math at the weights' rate where the GPU has it (_math_dtype).
    """
    controls = {
        "model": _dropdown("model", list_models(), _pick(defaults, "model", "Llama-3-8B")),
        "gpu": _dropdown("GPU", list_gpus(), _pick(defaults, "gpu", "H100 SXM5 80GB")),
        "weight_dtype": _dropdown("weight dtype", ["bfloat16", "float16", "fp8", "int8", "int4"],
                                  _pick(defaults, "weight_dtype", "bfloat16")),
        "batch_size": _choice_slider("decode batch", POWERS_OF_TWO,
                                     _pick(defaults, "batch_size", 1)),
        "prompt_len": _choice_slider("prompt tokens n", PROMPT_TOKENS,
                                     _pick(defaults, "prompt_len", 512)),
    }
    _no_leftovers(defaults, "explore_prefill_decode_bound")
    lengths = controls["prompt_len"].options  # the chart's n: the slider's steps
    render = lambda **v: _render_prefill_decode_bound(lengths, **v)  # noqa: E731
    return Explorer("Prefill vs decode on a GPU, from the bounds", controls, render,
                    alt=_prefill_decode_bound_alt,
                    site=_calculator_site("prefill_decode", controls))


def _prefill_decode_bound_alt(*, model: str, gpu: str, weight_dtype: str, batch_size: int,
                              prompt_len: int) -> str:
    r = _prefill_decode_bound(get_model(model), get_gpu(gpu), prompt_len, batch_size,
                              weight_dtype)
    decode = "n one-token decode steps" if batch_size == 1 else \
        f"n decode steps at batch {batch_size:,}"
    return (f"Line chart, log-log: time per token (y) against prompt tokens n (x, 1 to "
            f"{PROMPT_TOKENS[-1]:,}) for {model} with {weight_dtype} weights on the {gpu}, from "
            f"the roofline bounds. Green squares: one prefill pass over n tokens, whose time per "
            f"token falls as n grows until the arithmetic bounds it; vermillion circles: "
            f"{decode}, each reading every weight and the caches so far. A dotted line marks "
            f"n = {prompt_len:,}: prefill {format_duration(r['prefill_s'] / prompt_len)} per "
            f"token, decode {format_duration(r['decode_s'] / (prompt_len * batch_size))}.")


# ---- 7. Little's law ------------------------------------------------------------------------
def _render_littles_law(*, throughput_per_s: float, latency_s: float, model: str, gpu: str,
                        context_len: int):
    cfg, spec = get_model(model), get_gpu(gpu)
    # past the model's window the capacity is still arithmetic worth drawing; the readout says so
    report = memory.vllm_kv_cache_report(cfg, spec, context_len, allow_long_max_model_len=True)
    needed = roofline.littles_law_concurrency(throughput_per_s, latency_s)
    cap = plots.whole_sequences(report.max_concurrency)  # whole requests, not 225.3
    fig, (ax,) = _figure()
    plots.plot_littles_law(throughput_per_s, latency_s, max_concurrency=cap, ax=ax,
                           capacity_label=f"KV cache: {cfg.name} on {spec.name}, "
                                          f"{context_len:,} tok/request")
    best = roofline.littles_law_throughput(cap, latency_s)
    verdict = "fits" if needed <= cap else "does NOT fit: requests would queue"
    return fig, "\n".join(_beyond_window_note(cfg, context_len) + [
        f"Little's law: N = X x L = {throughput_per_s:g}/s x {latency_s:g} s = "
        f"{plots.count_text(needed)} requests in flight",
        f"KV memory holds {cap:,} whole requests of {context_len:,} tokens "
        f"({report.concurrency_line}) "
        f"-> {verdict}",
        f"Most throughput at this latency: {cap:,} / {latency_s:g} s = {best:,.2f} requests/s"])


@_displayed
def explore_littles_law(**defaults) -> Explorer:
    """Little's law N = X * L against the concurrency the KV memory allows."""
    controls = {
        "throughput_per_s": _slider("throughput X (req/s)", float(_pick(defaults,
                                    "throughput_per_s", 10.0)), 0.5, 100.0, 0.5),
        "latency_s": _slider("latency L (s)", float(_pick(defaults, "latency_s", 5.0)), 0.5, 60.0,
                             0.5),
        "model": _dropdown("model", list_models(), _pick(defaults, "model", "Llama-3-8B")),
        "gpu": _dropdown("GPU", list_gpus(), _pick(defaults, "gpu", "H100 SXM5 80GB")),
        "context_len": _choice_slider("tokens per request", CONTEXTS[:7],
                                      _pick(defaults, "context_len", 2048)),
    }
    _no_leftovers(defaults, "explore_littles_law")
    return Explorer("Little's law: how many requests are in flight", controls, _render_littles_law,
                    alt=_littles_law_alt, site=_calculator_site("littles_law", controls))


def _littles_law_alt(*, latency_s: float, model: str, gpu: str, context_len: int, **_) -> str:
    return (f"Line chart: concurrency N in requests (y) against throughput X in requests per "
            f"second (x) at latency L = {latency_s:g} s: the straight line N = X x L, a dot at "
            f"the chosen throughput, and a horizontal line at the whole sequences of "
            f"{context_len:,} tokens that the KV memory of one {gpu} holds for {model}; above "
            f"that line requests would queue.")
