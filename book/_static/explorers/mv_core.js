/* mini_vllm explorers on the static site: controls, SVG axes, number formats, hydration.
 *
 * An explorer's HTML (mini_vllm.widgets.Explorer.static_html) holds
 *   <div class="mini-vllm-live-explorer mv-live" data-mv-kind="roofline">
 *     <script type="application/json" class="mv-spec">{...}</script>
 *     <div class="mv-fallback">(the figure drawn by the kernel at build time)</div>
 *   </div>
 * and this file turns it into controls, an SVG figure and a readout that redraw in the page.
 * Works in the browser (window.MV) and in node (module.exports), where the agreement tests
 * call the explorers' pure compute functions. See README.md in this folder.
 */
(function (root, factory) {
  const MV = factory();
  if (typeof module === "object" && module.exports) module.exports = MV;
  else root.MV = MV;
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const explorers = {};

  /** A message for the reader (a bad combination of controls), not a bug. */
  class UserError extends Error {
    get userFacing() { return true; }
  }

  function register(kind, definition) {
    explorers[kind] = definition;
    return definition;
  }

  // ---- number formats, as mini_vllm.units prints them ---------------------------------------
  /** Python's f"{x:.{digits}f}": toFixed, but an exact tie goes to the even digit (0.125 ->
   * '0.12'), as Python rounds; toFixed(100) shows the double's exact decimal expansion. */
  function fixed(x, digits) {
    const full = Math.abs(x).toFixed(100), dot = full.indexOf(".");
    if (/^50*$/.test(full.slice(dot + 1 + digits))) {
      const truncated = full.slice(0, dot + 1 + digits).replace(/\.$/, "");
      if (Number(truncated.slice(-1)) % 2 === 0) return (x < 0 ? "-" : "") + truncated;
    }
    return x.toFixed(digits);
  }
  /** Python's f"{x:,.{digits}f}": fixed decimals (kept), thousands separators, ties to even. */
  function comma(x, digits) {
    const [whole, frac] = fixed(Math.abs(x), digits).split(".");
    const text = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + (frac === undefined ? "" : `.${frac}`);
    return (x < 0 && Number(text.replace(/,/g, "")) !== 0 ? "-" : "") + text;
  }
  /** value with at most `digits` decimals, thousands separators, no trailing zeros. */
  function number(value, digits = 2) {
    let text = fixed(Math.abs(value), digits);
    let [whole, frac] = text.split(".");
    whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    text = frac !== undefined ? `${whole}.${frac}`.replace(/0+$/, "").replace(/\.$/, "") : whole;
    const negative = value < 0 && Number(text.replace(/,/g, "")) !== 0;
    return (negative ? "-" : "") + text;
  }
  const DECIMAL = [["TB", 1e12], ["GB", 1e9], ["MB", 1e6], ["KB", 1e3]];
  const BINARY = [["TiB", 2 ** 40], ["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]];
  function bytes(n, unit = "auto", digits = 2) {
    if (unit === "both") return `${bytes(n, "auto", digits)} = ${bytes(n, "auto-binary", digits)}`;
    if (unit === "auto" || unit === "auto-binary") {
      const table = unit === "auto" ? DECIMAL : BINARY;
      const hit = table.find(([, size]) => Math.abs(n) >= size);
      return hit ? `${number(n / hit[1], digits)} ${hit[0]}` : `${number(n, digits)} B`;
    }
    const size = Object.fromEntries([...DECIMAL, ...BINARY, ["B", 1]])[unit];
    return `${number(n / size, digits)} ${unit}`;
  }
  const SI = [["P", 1e15], ["T", 1e12], ["G", 1e9], ["M", 1e6], ["K", 1e3]];
  function si(n, suffix, digits = 2) {
    const hit = SI.find(([, size]) => Math.abs(n) >= size);
    return hit ? `${number(n / hit[1], digits)} ${hit[0]}${suffix}` : `${number(n, digits)} ${suffix}`;
  }
  const flopsPerS = (n, digits = 2) => si(n, "FLOP/s", digits);
  function duration(s, digits = 2) {
    const units = [["h", 3600], ["min", 60], ["s", 1], ["ms", 1e-3], ["µs", 1e-6]];
    const hit = units.find(([, size]) => Math.abs(s) >= size);
    if (hit) return `${number(s / hit[1], digits)} ${hit[0]}`;
    return s ? `${number(s / 1e-9, digits)} ns` : "0 s";
  }
  /** An integer with thousands separators: 131072 -> '131,072'. */
  const count = (n) => number(n, 0);
  /** Python's f"{x:g}" for the slider values the readouts show (6 significant digits). */
  function g(x) {
    if (x === 0) return "0";
    const exp = Math.floor(Math.log10(Math.abs(x)));
    if (exp < -4 || exp >= 6) return x.toExponential(5).replace(/\.?0+e/, "e").replace(/e([+-])(\d)$/, "e$10$2");
    return String(Number(x.toPrecision(6)));
  }
  /** Tick label with an SI prefix, as mini_vllm.plots._si: 3e14 -> '300T'. */
  function siTick(value) {
    const table = [[1e15, "P"], [1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
    for (const [size, prefix] of table) {
      if (Math.abs(value) >= size) return g(value / size) + prefix;
    }
    return g(value);
  }
  const plural = (n, word) => `${count(n)} ${word}${n === 1 ? "" : "s"}`;
  /** widgets._beyond_window_note: a context past the model's window is arithmetic only. */
  const windowNote = (model) => `Note: ${model.name} handles at most ` +
    `${count(model.max_position_embeddings)} tokens (max_position_embeddings); longer requests are ` +
    "arithmetic only, and vLLM refuses such a max_model_len unless VLLM_ALLOW_LONG_MAX_MODEL_LEN=1";
  /** widgets._memory_note: the readout's note when the weights and the batch's caches would not
   * fit (use = MVCalc.memoryUse(...)); null when they fit. */
  function memoryNote(use, gpu, batchSize, numTokens) {
    if (use.fits) return null;
    const caches = use.kv ? ` and ${plural(batchSize, "cache")} of ${count(numTokens)} tokens ` +
      `(${bytes(use.kv, "GiB")})` : "";
    return `Note: the weights (${bytes(use.weights, "GiB")})${caches} exceed the ${gpu.name}'s ` +
      `${bytes(gpu.memory_bytes, "GiB")}: these numbers are the bounds' arithmetic only`;
  }

  // ---- SVG ------------------------------------------------------------------------------
  function el(tag, attrs, parent) {
    const node = (typeof document !== "undefined") ? document.createElementNS(SVG_NS, tag) : null;
    if (!node) return null;
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== undefined && value !== null) node.setAttribute(key, value);
    }
    if (parent) parent.appendChild(node);
    return node;
  }
  const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  const TEXT_COLOUR = "#222";

  /** Ticks of a log axis: decades, or 1-2-5 / every digit when the span is short. */
  function logTicks(min, max) {
    const span = Math.log10(max / min);
    const subs = span >= 2 ? [1] : span >= 0.8 ? [1, 2, 5] : [1, 2, 3, 4, 5, 6, 7, 8, 9];
    const ticks = [];
    for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
      for (const s of subs) {
        const v = s * 10 ** e;
        if (v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9)) ticks.push(Number(v.toPrecision(12)));
      }
    }
    if (ticks.length > 9) {  // at most about 9 labels: every other decade
      const step = Math.ceil(ticks.length / 8);
      return ticks.filter((_, i) => i % step === 0);
    }
    return ticks;
  }
  /** Ticks of a linear axis at 1, 2 or 5 x 10^k, about n of them. */
  function linearTicks(min, max, n = 6) {
    const raw = (max - min) / n;
    const mag = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 2.5, 5, 10].map((s) => s * mag).find((s) => s >= raw) || 10 * mag;
    const ticks = [];
    for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + step * 1e-9; v += step) {
      ticks.push(Number(v.toPrecision(12)));
    }
    return ticks;
  }

  /** An SVG figure of width x height px with one or more axes. */
  class Figure {
    constructor(svg, width, height) {
      this.svg = svg;
      this.width = width;
      this.height = height;
      this.narrow = width < 480;
      this.font = this.narrow ? 11 : 12;
      svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
      svg.setAttribute("width", width);
      svg.setAttribute("height", height);
      svg.setAttribute("font-family", FONT);
      svg.setAttribute("font-size", this.font);
      this.defs = el("defs", {}, svg);
      this.clips = 0;
    }
    /** Axes in the box left/top/width/height (px); x and y: {min, max, log, label, format}. */
    axes(box, x, y) {
      return new Axes(this, box, x, y);
    }
    text(px, py, str, opts = {}) {
      const t = el("text", {
        x: px, y: py, "text-anchor": opts.anchor || "start", fill: opts.colour || TEXT_COLOUR,
        "font-size": opts.size, "font-weight": opts.weight, "dominant-baseline": opts.baseline,
        transform: opts.rotate ? `rotate(${opts.rotate} ${px} ${py})` : undefined,
        "font-style": opts.italic ? "italic" : undefined,
      }, opts.parent || this.svg);
      t.textContent = str;
      return t;
    }
    /** A centred title: the first line bold, each line's font shrunk until it fits the width;
     * returns the y (px) below it, where the axes may start. */
    title(lines, opts = {}) {
      let y = 4;
      lines.forEach((line, i) => {
        let size = i === 0 ? this.font + 1 : this.font;
        while (size > 8 && this.textWidth(line, size) * (i === 0 ? 1.08 : 1) > this.width - 8) size -= 0.5;
        y += size + 5;
        this.text(this.width / 2, y, line, { anchor: "middle", size, weight: i === 0 ? "bold" : undefined, ...opts });
      });
      return y + 10;
    }
    /** Width of a string in px at the figure's font (an estimate; no layout needed). */
    textWidth(str, size) {
      return 0.58 * (size || this.font) * String(str).length;
    }
  }

  class Axes {
    constructor(fig, box, x, y) {
      Object.assign(this, { fig, box, x, y });
      this.g = el("g", {}, fig.svg);
      const id = `mv-clip-${Math.random().toString(36).slice(2)}`;
      const clip = el("clipPath", { id }, fig.defs);
      el("rect", { x: box.left, y: box.top, width: box.width, height: box.height }, clip);
      this.grid = el("g", { stroke: "#e4e4e4", "stroke-width": 1 }, this.g);
      this.data = el("g", { "clip-path": `url(#${id})` }, this.g);
      this.over = el("g", {}, this.g);  // labels may leave the data box
      this.drawFrame();
    }
    _scale(axis, v, lo, hi) {
      const t = axis.log ? (Math.log10(v) - Math.log10(axis.min)) / (Math.log10(axis.max) - Math.log10(axis.min))
        : (v - axis.min) / (axis.max - axis.min);
      return lo + t * (hi - lo);
    }
    X(v) { return this._scale(this.x, v, this.box.left, this.box.left + this.box.width); }
    Y(v) { return this._scale(this.y, v, this.box.top + this.box.height, this.box.top); }
    drawFrame() {
      const { box, fig } = this;
      // linear ticks: 1,000 with a separator, 20k rather than 20000 (short labels on a phone)
      const linear = (v) => (Math.abs(v) >= 1e4 ? siTick(v) : Number.isInteger(v) ? count(v) : g(v));
      const fmt = (axis) => axis.format || (axis.log ? siTick : linear);
      const xt = this.x.ticks || (this.x.log ? logTicks(this.x.min, this.x.max) : linearTicks(this.x.min, this.x.max, fig.narrow ? 4 : 6));
      const yt = this.y.ticks || (this.y.log ? logTicks(this.y.min, this.y.max) : linearTicks(this.y.min, this.y.max, 5));
      const bottom = box.top + box.height;
      for (const v of xt) {
        const px = this.X(v);
        el("line", { x1: px, x2: px, y1: box.top, y2: bottom }, this.grid);
        el("line", { x1: px, x2: px, y1: bottom, y2: bottom + 4, stroke: TEXT_COLOUR }, this.g);
        fig.text(px, bottom + 6 + fig.font, fmt(this.x)(v), { anchor: "middle", parent: this.g });
      }
      let widest = 0;
      for (const v of yt) {
        const py = this.Y(v), label = fmt(this.y)(v);
        widest = Math.max(widest, fig.textWidth(label));
        el("line", { x1: box.left, x2: box.left + box.width, y1: py, y2: py }, this.grid);
        el("line", { x1: box.left - 4, x2: box.left, y1: py, y2: py, stroke: TEXT_COLOUR }, this.g);
        fig.text(box.left - 6, py + fig.font * 0.35, label, { anchor: "end", parent: this.g });
      }
      el("rect", { x: box.left, y: box.top, width: box.width, height: box.height, fill: "none", stroke: "#444" }, this.g);
      if (this.x.label) {
        fig.text(box.left + box.width / 2, bottom + 10 + 2 * fig.font, this.x.label, { anchor: "middle", parent: this.g });
      }
      if (this.y.label) {
        // left of the widest tick label, and never off the figure
        const px = Math.max(fig.font * 0.9, Math.min(14, box.left - 10 - widest - fig.font * 0.4));
        const py = box.top + box.height / 2;
        fig.text(px, py, this.y.label, { anchor: "middle", rotate: -90, parent: this.g });
      }
    }
    path(points, style = {}, parent) {
      const d = points.filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b))
        .map(([a, b], i) => `${i ? "L" : "M"}${this.X(a).toFixed(2)},${this.Y(b).toFixed(2)}`).join("");
      return el("path", {
        d: style.close ? d + "Z" : d, fill: style.fill || "none", "fill-opacity": style.opacity,
        stroke: style.stroke || "none", "stroke-width": style.width || 2,
        "stroke-dasharray": style.dash,
      }, parent || this.data);
    }
    line(xs, ys, style = {}) { return this.path(xs.map((v, i) => [v, ys[i]]), { stroke: "#000", ...style }); }
    hline(v, style = {}) { return this.line([this.x.min, this.x.max], [v, v], style); }
    vline(v, style = {}) { return this.line([v, v], [this.y.min, this.y.max], style); }
    /** A marker at (a, b): shape circle | square | cross | x | triangle (see drawMarker). */
    marker(a, b, style = {}) {
      return drawMarker(this.X(a), this.Y(b), { parent: this.over, ...style });
    }
    /** Text at data (a, b), offset by dx, dy px; clamped inside the figure. */
    text(a, b, str, opts = {}) {
      const fig = this.fig;
      let px = this.X(a) + (opts.dx || 0), py = this.Y(b) + (opts.dy || 0);
      const w = fig.textWidth(str, opts.size), anchor = opts.anchor || "start";
      const left = anchor === "start" ? px : anchor === "middle" ? px - w / 2 : px - w;
      px += Math.max(0, 2 - left) - Math.max(0, left + w - (fig.width - 2));
      py = Math.min(Math.max(py, (opts.size || fig.font) + 2), fig.height - 4);
      return fig.text(px, py, str, { ...opts, parent: opts.parent || this.over });
    }
    /** A legend box inside the axes: items [{label, colour, shape?, dash?}] (see drawLegend). */
    legend(items, where = "upper left") {
      const size = this.fig.font - 1;
      return drawLegend(this.fig, legendInside(this.fig, this.box, items, size, where), items, size,
        this.over);
    }
  }

  /** A marker at pixel (px, py): shape circle | square | cross | x | triangle, filled with
   * `fill` (default black), or hollow (white, black edge) with `hollow: true`. */
  function drawMarker(px, py, style = {}) {
    const r = style.size || 5, shape = style.shape || "circle";
    const fill = style.hollow ? "#fff" : style.fill || "#000";
    const stroke = style.stroke || (style.hollow ? "#000" : "#fff"), parent = style.parent;
    if (shape === "circle") return el("circle", { cx: px, cy: py, r, fill, stroke, "stroke-width": 1 }, parent);
    if (shape === "square") return el("rect", { x: px - r, y: py - r, width: 2 * r, height: 2 * r, fill, stroke, "stroke-width": 1 }, parent);
    if (shape === "triangle") return el("path", { d: `M${px},${py + r}L${px - r},${py - r}L${px + r},${py - r}Z`, fill, stroke }, parent);
    const d = shape === "cross" ? `M${px - r},${py}L${px + r},${py}M${px},${py - r}L${px},${py + r}`
      : `M${px - r},${py - r}L${px + r},${py + r}M${px - r},${py + r}L${px + r},${py - r}`;
    return el("path", { d, stroke: style.fill || "#000", "stroke-width": style.width || 2.5, fill: "none" }, parent);
  }

  // ---- legends: a layout (where each item goes), then the drawing --------------------------
  /** A framed legend inside `box` at `where` (upper/lower, left/right), one item a row. */
  function legendInside(fig, box, items, size, where = "upper left") {
    const row = size + 6;
    const width = Math.max(...items.map((i) => fig.textWidth(i.label, size))) + 34;
    const height = items.length * row + 6;
    const x = where.includes("right") ? box.left + box.width - width - 6 : box.left + 6;
    const y = where.includes("lower") ? box.top + box.height - height - 6 : box.top + 6;
    return { x, y, width, height, frame: true, slots: items.map((_, i) => [x + 14, y + 6 + row * i + row / 2 - 3]) };
  }
  /** A legend along the bottom of a narrow figure: items side by side, wrapped into rows. */
  function legendBelow(fig, items, size) {
    const row = size + 5, slots = [];
    let x = 8, line = 0;
    for (const item of items) {
      const w = fig.textWidth(item.label, size) + 28;
      if (x > 8 && x + w > fig.width - 4) { x = 8; line += 1; }
      slots.push([x + 9, line * row]);
      x += w + 10;
    }
    const height = (line + 1) * row, y = fig.height - height - 2;
    return { x: 0, y, width: fig.width, height, frame: false, slots: slots.map(([cx, dy]) => [cx, y + dy + row / 2]) };
  }
  /** Draw a legend laid out by legendInside or legendBelow. An item's swatch: a line (its
   * `dash`), a patch, or a marker shape (hollow when the item has no colour). */
  function drawLegend(fig, layout, items, size, parent) {
    const g = el("g", { class: "mv-legend" }, parent || fig.svg);
    if (layout.frame) {
      el("rect", { x: layout.x, y: layout.y, width: layout.width, height: layout.height, fill: "#fff", "fill-opacity": 0.9, stroke: "#ccc", rx: 3 }, g);
    }
    items.forEach((item, i) => {
      const [cx, cy] = layout.slots[i], shape = item.shape || "line";
      if (shape === "line") el("line", { x1: cx - 9, x2: cx + 9, y1: cy, y2: cy, stroke: item.colour, "stroke-width": 2.5, "stroke-dasharray": item.dash }, g);
      else if (shape === "patch") el("rect", { x: cx - 9, y: cy - 5, width: 18, height: 10, fill: item.colour, "fill-opacity": item.opacity || 0.35 }, g);
      else drawMarker(cx, cy, { shape, fill: item.colour, hollow: !item.colour, size: 4.5, width: 2, parent: g });
      fig.text(cx + 14, cy + size * 0.35, item.label, { size, parent: g });
    });
    return g;
  }

  // ---- controls --------------------------------------------------------------------------
  let uid = 0;
  function optionIndex(options, value) {
    const i = options.findIndex(([, v]) => v === value);
    return i >= 0 ? i : 0;
  }
  function shownValue(control, value) {
    const label = control.options ? control.options[optionIndex(control.options, value)][0]
      : Number.isInteger(value) ? count(value) : g(value);  // 4,096 tokens; 0.05
    return control.unit ? `${label} ${control.unit}` : String(label);
  }

  /** Build one control; returns {node, get(), set(value), setOptions(options, value)}. */
  function buildControl(control, value, onInput) {
    const id = `mv-control-${++uid}`;
    const wrap = document.createElement("div");
    wrap.className = `mv-control mv-${control.type}`;
    wrap.dataset.name = control.name;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = control.label;
    wrap.appendChild(label);
    let input, output, state = { control: { ...control }, value };
    if (control.type === "select") {
      input = document.createElement("select");
    } else if (control.type === "checkbox") {
      input = document.createElement("input");
      input.type = "checkbox";
      wrap.insertBefore(input, label);
    } else {
      input = document.createElement("input");
      input.type = "range";
      output = document.createElement("output");
      output.htmlFor = id;
    }
    input.id = id;
    input.name = control.name;
    if (control.type !== "checkbox") wrap.appendChild(input);

    function render() {
      const c = state.control;
      if (c.type === "select") {
        input.replaceChildren(...c.options.map(([text, v], i) => {
          const o = document.createElement("option");
          o.value = String(i);
          o.textContent = text;
          return o;
        }));
        input.value = String(optionIndex(c.options, state.value));
      } else if (c.type === "steps") {
        input.min = 0; input.max = c.options.length - 1; input.step = 1;
        input.value = String(optionIndex(c.options, state.value));
      } else if (c.type === "range") {
        input.min = c.min; input.max = c.max; input.step = c.step;
        input.value = String(state.value);
      } else {
        input.checked = Boolean(state.value);
      }
      if (output) {
        output.textContent = shownValue(c, state.value);
        input.setAttribute("aria-valuetext", output.textContent);
      }
    }
    function read() {
      const c = state.control;
      if (c.type === "select" || c.type === "steps") return c.options[Number(input.value)][1];
      if (c.type === "range") return Number(input.value);
      return input.checked;
    }
    input.addEventListener(control.type === "select" || control.type === "checkbox" ? "change" : "input", () => {
      state.value = read();
      render();
      onInput(control.name, state.value);
    });
    if (output) {  // one step down or up: exact on a phone, where a step may be under 1 px
      const row = document.createElement("div");
      row.className = "mv-steppers";
      for (const [text, sign, what] of [["−", -1, "decrease"], ["+", 1, "increase"]]) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = text;
        button.setAttribute("aria-label", `${what} ${control.label}`);
        button.addEventListener("click", () => {
          const before = input.value;
          if (sign < 0) input.stepDown(); else input.stepUp();
          if (input.value !== before) input.dispatchEvent(new Event("input"));
        });
        row.appendChild(button);
      }
      row.insertBefore(output, row.lastChild);
      wrap.appendChild(row);
    }
    render();
    return {
      node: wrap,
      input,
      get: () => state.value,
      apply(change) {
        if (change.options) state.control.options = change.options;
        if (change.max !== undefined) state.control.max = change.max;
        if (change.min !== undefined) state.control.min = change.min;
        if (change.value !== undefined) state.value = change.value;
        if (state.control.options && optionIndex(state.control.options, state.value) === 0 &&
            state.control.options[0][1] !== state.value) state.value = state.control.options[0][1];
        if (state.control.type === "range") state.value = Math.min(Math.max(state.value, state.control.min), state.control.max);
        render();
      },
    };
  }

  /** The page's controls as the widget exports them (spec.controls: name, label, type and
   * choices, in the widget's order), each slider's value shown with its unit from `units`. */
  function siteControls(spec, units = {}) {
    return spec.controls.map((c) => (units[c.name] ? { ...c, unit: units[c.name] } : { ...c }));
  }

  /** The key of one setting in a lookup table (mini_vllm.site_data.lookup_key): the values as
   * a JSON list, numbers to 10 significant digits as Python writes them. */
  function lookupKey(values) {
    return JSON.stringify(values.map((v) => (typeof v === "number" ? Number(v.toPrecision(10)) : v)));
  }

  // ---- hydration: the live explorer in the page --------------------------------------------
  const LIVE_NOTE = "Drawn in your browser from numbers mini_vllm exported when the book was built. " +
    "In a live notebook (Binder or Colab: the rocket icon at the top; or JupyterLab) the same " +
    "explorer is a widget that runs the Python code.";

  function figureSize(host) {
    const width = Math.round(Math.min(Math.max(host.clientWidth || 560, 300), 720));
    return { width, height: Math.round(width < 480 ? Math.max(300, width * 0.95) : width * 0.6) };
  }

  class LiveExplorer {
    constructor(root) {
      this.root = root;
      this.kind = root.dataset.mvKind;
      this.def = explorers[this.kind];
      if (!this.def) throw new Error(`mini_vllm explorer '${this.kind}' is not loaded`);
      this.spec = JSON.parse(root.querySelector("script.mv-spec").textContent);
      this.values = { ...this.spec.values };
      this.build();
      this.redraw();
    }
    build() {
      const root = this.root;
      const fallback = root.querySelector(".mv-fallback");
      if (fallback) fallback.hidden = true;
      const ui = document.createElement("div");
      ui.className = "mv-ui";
      const title = document.createElement("p");
      title.className = "mv-title";
      title.textContent = this.spec.title;
      const form = document.createElement("div");
      form.className = "mv-controls";
      form.setAttribute("role", "group");
      form.setAttribute("aria-label", `${this.spec.title}: controls`);
      this.controls = {};
      for (const control of this.def.controls(this.spec)) {
        const built = buildControl(control, this.values[control.name], (name, value) => this.changed(name, value));
        this.controls[control.name] = built;
        form.appendChild(built.node);
      }
      this.figureHost = document.createElement("div");
      this.figureHost.className = "mv-figure";
      this.svg = document.createElementNS(SVG_NS, "svg");
      this.svg.setAttribute("role", "img");
      this.figureHost.appendChild(this.svg);
      this.readoutNode = document.createElement("div");
      this.readoutNode.className = "mv-readout";
      this.readoutNode.setAttribute("aria-live", "polite");
      const note = document.createElement("p");
      note.className = "mv-note";
      note.textContent = LIVE_NOTE;
      ui.append(title, form, this.figureHost, this.readoutNode, note);
      if (!this.def.draw) {  // a readout-only explorer (sizes are the point): no empty chart
        this.figureHost.hidden = true;
        root.dataset.mvFigure = "none";
      }
      root.appendChild(ui);
      root.classList.add("mv-hydrated");
      if (typeof ResizeObserver !== "undefined") {
        let last = this.figureHost.clientWidth;
        new ResizeObserver(() => {
          const w = this.figureHost.clientWidth;
          if (Math.abs(w - last) > 8) { last = w; this.redraw(); }
        }).observe(this.figureHost);
      }
    }
    changed(name, value) {
      this.values[name] = value;
      if (this.def.update) {
        const changes = this.def.update(name, { ...this.values }, this.spec) || {};
        for (const [other, change] of Object.entries(changes)) {
          this.controls[other].apply(change);
          this.values[other] = this.controls[other].get();
        }
      }
      this.redraw();
    }
    redraw() {
      const t0 = performance.now();
      const drawn = Boolean(this.def.draw);  // a readout-only explorer: its readout is the figure
      const { width, height } = figureSize(this.figureHost);
      this.svg.replaceChildren();
      const fig = drawn ? new Figure(this.svg, width, height) : null;
      let lines, alt;
      try {
        const result = this.def.compute(this.spec, this.values);
        if (drawn) this.def.draw(fig, this.spec, this.values, result);
        lines = this.def.readout(this.spec, this.values, result);
        alt = drawn ? this.def.alt(this.spec, this.values, result) : "";
        this.root.dataset.mvError = "";
      } catch (err) {
        const userFacing = Boolean(err && err.userFacing);  // MV.UserError, MVCalc.CalcError
        if (!userFacing) console.error(err);  // a bug: the browser test fails on it
        this.svg.replaceChildren();
        if (drawn) new Figure(this.svg, width, 60).text(width / 2, 34, "No figure at these settings: see below.", { anchor: "middle" });
        lines = [`⚠ ${err.message}`];
        alt = `No figure at these settings: ${err.message}`;
        this.root.dataset.mvError = userFacing ? "user" : "bug";
      }
      this.svg.setAttribute("aria-label", alt);
      this.readoutNode.replaceChildren(...lines.map((line) => {
        const p = document.createElement("div");
        p.textContent = line;
        return p;
      }));
      const ms = performance.now() - t0;
      this.root.dataset.mvRedraws = String(Number(this.root.dataset.mvRedraws || 0) + 1);
      this.root.dataset.mvLastMs = ms.toFixed(2);
    }
  }

  function hydrateAll() {
    for (const root of document.querySelectorAll(".mv-live:not(.mv-hydrated)")) {
      try {
        root.mvExplorer = new LiveExplorer(root);
      } catch (err) {
        console.error(err);
      }
    }
  }
  if (typeof document !== "undefined") {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", hydrateAll);
    else setTimeout(hydrateAll, 0);
  }

  /** Decode a base64 string of little-endian float32 or float64 values (spec arrays). */
  function floats(b64, kind = "float32") {
    const raw = typeof atob === "function" ? atob(b64) : Buffer.from(b64, "base64").toString("binary");
    const buf = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) buf[i] = raw.charCodeAt(i);
    return kind === "float64" ? new Float64Array(buf.buffer) : new Float32Array(buf.buffer);
  }

  return {
    register, explorers, siteControls, lookupKey, UserError, Figure, Axes, LiveExplorer, hydrateAll, floats,
    fmt: { fixed, comma, number, bytes, si, flopsPerS, duration, count, g, siTick, plural, memoryNote, windowNote },
    ticks: { log: logTicks, linear: linearTicks },
    legend: { inside: legendInside, below: legendBelow, draw: drawLegend },
    el,
  };
});
