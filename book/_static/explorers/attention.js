/* Attention explorer on the page: the trained model's weights, one layer and head at a time,
 * with the causal mask on or off, for the prompts mini_vllm exported (widgets._attention_site).
 * Mirrors widgets._attention_readout (readout) and plots.plot_attention (figure: a heatmap with
 * a 0..1 colour scale, masked cells grey with a cross, tokens along both axes).
 */
(function (root) {
  "use strict";
  const inNode = typeof module === "object" && module.exports;
  const MV = inNode ? require("./mv_core.js") : root.MV;
  const { fmt } = MV;
  const decoded = new WeakMap();  // prompt row -> {causal, full}: Float32Array (layers, heads, T, T)
  const MIN_TOKEN_FONT = 8;  // px; smaller cells label every k-th token (plots._token_ticks)
  const BAR_GAP = 10, BAR_WIDTH = 12;  // px: the colour bar right of the cells

  /** A prompt's maps: the full ones as exported, the causal ones rebuilt from their lower
   * triangle (site_data.lower_triangle) with zeros above the diagonal. */
  function maps(spec, row) {
    if (!decoded.has(row)) {
      const T = row.tokens.length, full = MV.floats(row.full), tri = MV.floats(row.causal);
      const causal = new Float32Array(full.length);
      for (let m = 0, k = 0; m < full.length / (T * T); m++) {
        for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) causal[m * T * T + i * T + j] = tri[k++];
      }
      decoded.set(row, { causal, full });
    }
    return decoded.get(row);
  }

  /** Python's f"{x:.0%}": x * 100 rounded half to even (toFixed would round a tie up). */
  function percent(x) {
    const y = x * 100, low = Math.floor(y);
    return `${y - low === 0.5 ? low + (low % 2) : Math.round(y)}%`;
  }

  const explorer = {
    controls(spec) {
      const prompt = { name: "prompt", label: "prompt", type: "select", options: spec.prompts.map((p) => [p.label, p.prompt]) };
      return [prompt, ...MV.siteControls(spec)];  // the typed prompt becomes a choice of the exported ones
    },

    /** One head's (T, T) weights and the readout's numbers: what the agreement test compares. */
    compute(spec, v) {
      const row = spec.prompts.find((p) => p.prompt === v.prompt);
      if (!row) throw new MV.UserError(`no attention maps exported for the prompt ${JSON.stringify(v.prompt)}`);
      const m = spec.model, T = row.tokens.length;
      for (const [name, count] of [["layer", m.num_layers], ["head", m.num_heads]]) {
        if (!(Number.isInteger(v[name]) && v[name] >= 0 && v[name] < count)) {
          throw new MV.UserError(`${name} must be an integer from 0 to ${count - 1}; got ${v[name]}`);
        }
      }
      const unmasked = !v.causal && spec.unmasked;
      const all = unmasked ? maps(spec, row).full : maps(spec, row).causal;
      const start = (v.layer * m.num_heads + v.head) * T * T;
      const weights = all.subarray(start, start + T * T);  // (T, T) row-major: query i, key j
      const group = m.num_heads / m.num_kv_heads;
      const kvHead = Math.floor(v.head / group);  // query head h reads KV head h // group
      const sharing = Array.from({ length: group }, (_, i) => kvHead * group + i);
      let future = 0;  // the weight on later tokens (j > i): 0 with the mask on
      for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) future += weights[i * T + j];
      return { T, tokens: row.tokens, weights, kvHead, sharing, unmasked,
               maskedPairs: (T * (T - 1)) / 2, futureMass: future / T };
    },

    draw(fig, spec, v, r) {
      const { T, tokens, weights } = r, c = spec.colours, f = fig.font;
      const titles = [`Attention weights, layer ${v.layer} head ${v.head}`,
        `reads KV head ${r.kvHead} (shared by query heads ${r.sharing.join(", ")})`];
      titles.forEach((t, i) => fig.text(fig.width / 2, 18 + 18 * i, t,
        { anchor: "middle", weight: i ? undefined : "bold", size: i ? undefined : f + 1 }));
      // tokens along both axes, one font; an axis whose cells are too small labels every k-th
      const longest = tokens.reduce((a, t) => (t.length > a.length ? t : a), "");
      // a narrow figure keeps the mask's legend above the cells (inside, it would hide some)
      const top = fig.narrow ? 74 : 52, right = BAR_GAP + BAR_WIDTH + 8 + fig.textWidth("0.5") + 1.4 * f;
      let size = f, box;
      for (let pass = 0; pass < 2; pass++) {
        const room = fig.textWidth(longest, size) + 8;
        box = { left: 22 + room, top, width: 0, height: 0 };
        box.width = fig.width - box.left - right;
        box.height = fig.height - top - room - f - 14;
        size = Math.max(MIN_TOKEN_FONT, Math.min(f, 0.9 * Math.min(box.width, box.height) / T));
      }
      const ax = fig.axes(box, { min: -0.5, max: T - 0.5, ticks: [] }, { min: T - 0.5, max: -0.5, ticks: [] });
      const cellW = box.width / T, cellH = box.height / T;
      const cells = MV.el("g", { "shape-rendering": "crispEdges" }, ax.data);
      const masked = (i, j) => v.causal && j > i;
      for (let i = 0; i < T; i++) {
        for (let j = 0; j < T; j++) {
          const w = weights[i * T + j];
          const fill = masked(i, j) ? c.masked : c.map[Math.min(c.map.length - 1, Math.floor(w * c.map.length))];
          MV.el("rect", { x: ax.X(j - 0.5), y: ax.Y(i - 0.5), width: cellW, height: cellH, fill }, cells);
        }
      }
      if (v.causal) {
        const cell = Math.min(cellW, cellH), half = Math.min(8, 0.55 * cell) / 2;
        let d = "";
        for (let i = 0; i < T; i++) {
          for (let j = i + 1; j < T; j++) {
            const x = ax.X(j), y = ax.Y(i);
            d += `M${x - half},${y - half}L${x + half},${y + half}M${x - half},${y + half}L${x + half},${y - half}`;
          }
        }
        MV.el("path", { d, stroke: c.cross, "stroke-width": Math.min(1.4, Math.max(0.6, 0.1 * cell)), fill: "none" }, ax.data);
        maskLegend(fig, ax, c);
      }
      const bottom = box.top + box.height;
      const step = (cell) => Math.max(1, Math.ceil(size / cell - 1e-9));  // a label per cell if it fits
      for (let j = 0; j < T; j += step(cellW)) {
        fig.text(ax.X(j) + size * 0.35, bottom + 4, tokens[j], { anchor: "end", size, rotate: -90 });
      }
      for (let i = 0; i < T; i += step(cellH)) {
        fig.text(box.left - 4, ax.Y(i) + size * 0.35, tokens[i], { anchor: "end", size });
      }
      fig.text(box.left + box.width / 2, fig.height - 6, "key token (attended to)", { anchor: "middle" });
      fig.text(12, box.top + box.height / 2, "query token (attending)", { anchor: "middle", rotate: -90 });
      colourBar(fig, box, c.map);
    },

    readout(spec, v, r) {
      const m = spec.model, n = r.T;
      const cut = n === spec.max_tokens ? ` - cut to the first ${n}` : "";
      const lines = [
        `${n} tokens (one byte each)${cut}; ${m.name}: ${m.num_heads} query heads, ${m.num_kv_heads} KV ` +
        `head${m.num_kv_heads > 1 ? "s" : ""} (${m.attention_kind})`,
        `Query heads [${r.sharing.join(", ")}] share KV head ${r.kvHead}: same keys, different queries`];
      if (v.causal) {
        lines.push(`Causal mask: removes ${fmt.count(r.maskedPairs)} of ${fmt.count(n * n)} query-key pairs ` +
          "(grey with a cross: a token may not look at later tokens)");
      } else if (r.unmasked) {
        lines.push(`Mask OFF: on average ${percent(r.futureMass)} of a query's attention goes to later ` +
          "tokens - information a generator cannot have");
      } else {
        lines.push("Mask OFF is not available in this engine version; showing the causal weights");
      }
      return lines;
    },

    alt(spec, v) {
      const mask = v.causal ? "the causal mask greys out and crosses the upper triangle (later tokens)"
        : "with the mask off every cell holds a weight";
      return `Heatmap of attention weights (colour, 0 to 1) of layer ${v.layer}, head ${v.head} of ` +
        `the ${v.config} model on the prompt “${v.prompt.slice(0, 60)}”: one row per query token, one ` +
        `column per key token, each row summing to 1; ${mask}.`;
    },
  };

  /** plots._draw_crosses' legend entry: a grey patch with a cross, in the upper right (over
   * masked cells only), or above the cells in a narrow figure. */
  function maskLegend(fig, ax, c) {
    const size = fig.font - 1, label = "removed by the causal mask";
    const width = fig.textWidth(label, size) + 38, height = size + 12;
    const x = ax.box.left + ax.box.width - width - (fig.narrow ? 0 : 6);
    const y = fig.narrow ? ax.box.top - height - 3 : ax.box.top + 6;
    const g = MV.el("g", { class: "mv-legend" }, ax.over);
    MV.el("rect", { x, y, width, height, fill: "#fff", "fill-opacity": 0.9, stroke: "#ccc", rx: 3 }, g);
    const cx = x + 16, cy = y + height / 2;
    MV.el("rect", { x: cx - 9, y: cy - 5, width: 18, height: 10, fill: c.masked }, g);
    MV.el("path", { d: `M${cx - 4},${cy - 4}L${cx + 4},${cy + 4}M${cx - 4},${cy + 4}L${cx + 4},${cy - 4}`,
                    stroke: c.cross, "stroke-width": 1.2 }, g);
    fig.text(x + 30, cy + size * 0.35, label, { size, parent: g });
  }

  /** The colour scale 0..1 right of the heatmap, ticks 0, 0.5 and 1, and its label. */
  function colourBar(fig, box, table) {
    const id = `mv-attn-scale-${Math.random().toString(36).slice(2)}`;
    const grad = MV.el("linearGradient", { id, x1: 0, y1: 1, x2: 0, y2: 0 }, fig.defs);
    for (let k = 0; k <= 32; k++) {
      MV.el("stop", { offset: k / 32, "stop-color": table[Math.min(table.length - 1, Math.round((k / 32) * (table.length - 1)))] }, grad);
    }
    const x = box.left + box.width + BAR_GAP, width = BAR_WIDTH, bottom = box.top + box.height;
    MV.el("rect", { x, y: box.top, width, height: box.height, fill: `url(#${id})`, stroke: "#444" }, fig.svg);
    for (const t of [0, 0.5, 1]) {
      const y = bottom - t * box.height;
      MV.el("line", { x1: x + width, x2: x + width + 4, y1: y, y2: y, stroke: "#222" }, fig.svg);
      fig.text(x + width + 6, y + fig.font * 0.35, MV.fmt.g(t));
    }
    fig.text(x + width + 8 + fig.textWidth("0.5") + 0.9 * fig.font, box.top + box.height / 2, "attention weight",
      { anchor: "middle", rotate: -90 });
  }

  MV.register("attention", explorer);
  if (inNode) module.exports = explorer;
})(typeof self !== "undefined" ? self : this);
