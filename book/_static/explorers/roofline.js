/* Roofline explorer on the page: decode steps and a prefill on each GPU's roof, log-log.
 * Mirrors mini_vllm.widgets.explore_roofline (math dtype, readout) and plots.plot_roofline
 * (figure); tests/test_site_roofline.py checks compute() against mini_vllm.roofline.
 */
(function (root) {
  "use strict";
  const inNode = typeof module === "object" && module.exports;
  const MV = inNode ? require("./mv_core.js") : root.MV;
  const C = inNode ? require("./mv_calc.js") : root.MVCalc;
  const { fmt, el } = MV;

  /** widgets._decode_ladder: powers of two up to the chosen batch, and the batch itself. */
  const decodeLadder = (spec, batch) => [...new Set([...spec.ladder.filter((b) => b <= batch), batch])]
    .sort((a, b) => a - b);
  /** widgets._measured_context: the measured context nearest to the chosen one. */
  function measuredContext(spec, contextLen) {
    const want = Math.max(contextLen, 1);
    return spec.measured.contexts.reduce((best, c) => (Math.abs(c - want) < Math.abs(best - want) ? c : best));
  }
  const explorer = {
    controls(spec) {
      return MV.siteControls(spec, { batch_size: "sequences", prompt_len: "tokens", context_len: "tokens" });
    },

    /** Every number of the figure and the readout: what the agreement test compares. */
    compute(spec, v) {
      const { catalog } = spec;
      const model = catalog.models[v.model];
      const names = [v.gpu].concat(v.compare_gpu !== spec.none && v.compare_gpu !== v.gpu ? [v.compare_gpu] : []);
      const wd = v.weight_dtype, opts = { contextLen: v.context_len, weightDtype: wd };
      const ladder = decodeLadder(spec, v.batch_size);
      const decode = ladder.map((b) => [b, C.decodeIntensity(catalog, model, b, opts)]);
      const prefill = C.prefillIntensity(catalog, model, v.prompt_len, { weightDtype: wd });
      const gpus = names.map((name) => {
        const gpu = catalog.gpus[name], dtype = C.mathDtype(gpu, wd);
        const peak = C.peakFlops(gpu, dtype);
        return {
          name, dtype, peak, colour: gpu.colour, bandwidth: gpu.bandwidth_bytes_per_s,
          ridge: C.ridgePoint(gpu, dtype),
          decode: decode.map(([batch, i]) => ({ batch, intensity: i, attainable: C.attainableFlops(gpu, i, dtype) })),
          prefill: { intensity: prefill, attainable: C.attainableFlops(gpu, prefill, dtype) },
        };
      });
      const gpu = catalog.gpus[v.gpu], main = gpus[0], dtype = main.dtype, b = v.batch_size;
      const intensity = C.decodeIntensity(catalog, model, b, opts);
      const ctx = measuredContext(spec, v.context_len);
      return {
        gpus, dtype, peak: main.peak, ridge: main.ridge, intensity,
        attainable: C.attainableFlops(gpu, intensity, dtype),
        regime: intensity < main.ridge ? "memory-bound" : "compute-bound",
        utilization: C.utilization(catalog, model, gpu, b, { dtype, ...opts }),
        tokens_per_s: C.decodeTokensPerS(catalog, model, gpu, b, { dtype, ...opts }),
        critical_batch: C.criticalBatch(catalog, model, gpu, { dtype, ...opts }),
        prefill_intensity: prefill,
        use: C.memoryUse(catalog, model, gpu, v.weight_dtype, b, v.context_len),
        measured: v.show_measured ? { context: ctx, ...spec.measured.by_context[String(ctx)] } : null,
      };
    },

    draw(fig, spec, v, r) {
      const style = spec.catalog.style, narrow = fig.narrow;
      const small = fig.font - 1;  // annotations and legend, as plots' ANNOTATION_SIZE
      const model = spec.catalog.models[v.model];
      const math = [...new Set(r.gpus.map((g) => g.dtype))].join("/");
      const what = wrap(fig, `Roofline: ${model.name}, ${v.weight_dtype} weights, ${math} math`, fig.font + 1);
      const titleLines = what.concat(wrap(fig, `on ${r.gpus.map((g) => g.name).join(", ")}`, fig.font));
      titleLines.forEach((line, i) => fig.text(fig.width / 2, 17 + i * (fig.font + 5), line,
        i < what.length ? { anchor: "middle", weight: "bold", size: fig.font + 1 } : { anchor: "middle" }));
      const top = 17 + titleLines.length * (fig.font + 5) + 2;
      const left = narrow ? 52 : 62, box = { left, top, width: fig.width - left - (narrow ? 16 : 18) };
      const measured = r.measured ? r.measured.points : [];
      const items = legendItems(spec, v, r);
      // a phone's axes are too small to hold the legend: it goes under them, in rows
      const legend = narrow ? MV.legend.below(fig, items, small) : MV.legend.inside(fig, box, items, small);
      box.height = fig.height - top - 44 - (narrow ? legend.height + 2 : 0);
      const ridges = r.gpus.map((g) => g.ridge);
      const [lo, hi] = xLimits(fig, box, [...r.gpus[0].decode.map((d) => d.intensity), r.prefill_intensity,
        ...measured.map(([i]) => i)], ridges, small);
      const roof = (g, i) => C.attainableFlops(spec.catalog.gpus[g.name], i, g.dtype);
      const low = Math.min(...r.gpus.map((g) => roof(g, lo)), ...measured.map(([, f]) => f)) / 4;
      const ceiling = 4 * Math.max(...r.gpus.map((g) => g.peak));
      const high = narrow ? ceiling : clearLegend(box, legend, lo, hi, low, ceiling,
        (i) => Math.max(...r.gpus.map((g) => roof(g, i))));
      const ax = fig.axes(box,
        { min: lo, max: hi, log: true, label: "arithmetic intensity (FLOP/byte)" },
        { min: low, max: high, log: true, label: "attainable (FLOP/s)" });

      drawRoofs(ax, style, r.gpus, lo, hi, low, roof);
      const taken = [...(narrow ? [] : [legend]), ...regionAndRidgeLabels(ax, style, r.gpus, lo, hi, low, small)];
      const size = narrow ? 4 : 5;
      for (const g of r.gpus) {
        for (const d of g.decode) {
          ax.marker(d.intensity, d.attainable, { fill: g.colour, stroke: "#000", size });
          taken.push(pointBox(ax, d.intensity, d.attainable, size));
        }
        ax.marker(g.prefill.intensity, g.prefill.attainable, { shape: "square", fill: g.colour, stroke: "#000", size: size + 0.5 });
        taken.push(pointBox(ax, g.prefill.intensity, g.prefill.attainable, size + 0.5));
      }
      for (const [i, f] of measured) {
        ax.marker(i, f, { shape: "x", fill: style.okabe_ito.black, size: size, width: 2 });
        taken.push(pointBox(ax, i, f, size));
      }
      labelDecodePoints(ax, r.gpus[0].decode, taken, small);
      MV.legend.draw(fig, legend, items, small);
    },

    readout(spec, v, r) {
      const b = v.batch_size;
      const note = fmt.memoryNote(r.use, spec.catalog.gpus[v.gpu], b, v.context_len);
      const lines = [
        ...(note ? [note] : []),
        `Decode at batch ${fmt.count(b)}: intensity ${fmt.comma(r.intensity, 1)} FLOP/byte vs ridge ` +
        `${fmt.comma(r.ridge, 0)} FLOP/byte -> ${r.regime}`,
        `Best-case compute utilisation: ${fmt.comma(100 * r.utilization, 1)}% of ${fmt.flopsPerS(r.peak)}`,
        `Decode bound: ${fmt.comma(r.tokens_per_s, 0)} tokens/s in total ` +
        `(${fmt.comma(r.tokens_per_s / b, 1)} per sequence)`,
        "Critical batch (decode reaches the ridge): " + (Number.isFinite(r.critical_batch)
          ? fmt.comma(r.critical_batch, 0) : "never (the KV reads grow as fast as the math)"),
      ];
      if (r.measured) {
        lines.push(`Crosses: decode steps measured on one H100 80GB HBM3 (Llama-3-8B shape, ` +
          `context ${fmt.count(r.measured.context)}, CUDA graphs; ${r.measured.source}): ` +
          "compare them with the H100 roofs");
      }
      return lines;
    },

    alt(spec, v, r) {
      const gpus = v.gpu + (r.gpus.length > 1 ? ` and the ${r.gpus[1].name}` : "");
      const crosses = r.measured ? ` Black crosses: decode steps measured on one H100 (Llama-3-8B ` +
        `shape, context ${fmt.count(r.measured.context)}).` : "";
      return "Roofline chart, log-log: attainable FLOP/s (y) against arithmetic intensity in " +
        `FLOP per byte (x) for the ${gpus}. Each roof climbs with memory bandwidth up to its ` +
        "ridge (dotted line), then stays flat at peak compute; under each roof the region " +
        "left of that GPU's ridge is shaded blue (memory-bound), right of it orange " +
        `(compute-bound). Circles on every roof: ${v.model} decode steps with ${v.weight_dtype} ` +
        `weights at batch 1 up to ${fmt.count(v.batch_size)}, labelled by batch where there is room; a ` +
        "square: a prefill of " +
        `${fmt.count(v.prompt_len)} tokens. Small batches sit far left of the ridge.${crosses}`;
    },
  };

  // ---- figure helpers ----------------------------------------------------------------------
  /** Split a title at ", " so that each line fits the figure's width. */
  function wrap(fig, text, size) {
    const lines = [];
    let line = "";
    for (const part of text.split(", ")) {
      const next = line ? `${line}, ${part}` : part;
      if (line && fig.textWidth(next, size) > fig.width - 12) { lines.push(`${line},`); line = part; }
      else line = next;
    }
    return lines.concat(line);
  }

  /** plots._roofline_xlim: whole decades around the points, wide enough that the region labels
   * fit left of the lowest ridge and right of the highest one. */
  function xLimits(fig, box, xs, ridges, size) {
    const all = xs.concat(ridges), log = Math.log10;
    let lo = 10 ** Math.floor(log(Math.min(...all) / 3)), hi = 10 ** Math.ceil(log(Math.max(...all) * 3));
    for (let k = 0; k < 3; k++) {  // widening the axis shrinks a decade: check again
      const perDecade = box.width / log(hi / lo);
      const need = REGIONS.map((text) => 1.15 * fig.textWidth(text, size) / perDecade + 0.1);
      lo = Math.min(lo, 10 ** Math.floor(log(Math.min(...ridges)) - need[0]));
      hi = Math.max(hi, 10 ** Math.ceil(log(Math.max(...ridges)) + need[1]));
    }
    return [lo, hi];
  }
  const REGIONS = ["memory-bound", "compute-bound"];

  /** plots._clear_legend, solved exactly: the top of the y axis (at least `top`) at which no roof
   * passes under the legend (upper left), with 6 px of air. */
  function clearLegend(box, legend, lo, hi, low, top, roofAt) {
    const xAt = (px) => 10 ** (Math.log10(lo) + (px - box.left) / box.width * Math.log10(hi / lo));
    const highest = roofAt(Math.min(hi, xAt(legend.x + legend.width)));  // roofs rise with x
    const share = (legend.y + legend.height + 6 - box.top) / box.height;  // of the height, from the top
    if (share >= 0.9) return top;
    const need = (Math.log10(highest) - share * Math.log10(low)) / (1 - share);
    return Math.max(top, 10 ** need);
  }

  /** The intensities where some roof bends or two roofs cross, inside [lo, hi]: between two of
   * them every roof is a straight line in log-log and their order does not change. */
  function breakpoints(gpus, lo, hi) {
    const xs = [lo, hi];
    for (const a of gpus) for (const b of gpus) xs.push(b.peak / a.bandwidth);
    return [...new Set(xs.filter((x) => x >= lo && x <= hi))].sort((a, b) => a - b);
  }

  /** plots._draw_roofs: each GPU's band under its roof down to the next roof below it, shaded
   * memory-bound left of its own ridge and compute-bound right of it; its roof and ridge. */
  function drawRoofs(ax, style, gpus, lo, hi, low, roof) {
    const xs = breakpoints(gpus, lo, hi);
    const spans = xs.slice(1).map((b, j) => [xs[j], b]);
    const seen = [];
    gpus.forEach((g, k) => {
      // the next roof down, in each span (where two roofs cross it jumps); of two equal roofs
      // the earlier GPU's counts as lower
      const lowerIn = ([a, b]) => gpus.filter((o, m) => {
        const mid = Math.sqrt(a * b);
        return roof(o, mid) < roof(g, mid) || (roof(o, mid) === roof(g, mid) && m < k);
      });
      const below = (others, x) => Math.max(low, ...others.map((o) => roof(o, x)));
      // the ridge is a breakpoint: every span lies on one side of it
      const sides = [[style.memory_bound, spans.filter(([, b]) => b <= g.ridge)],
        [style.compute_bound, spans.filter(([a]) => a >= g.ridge)]];
      for (const [fill, mine] of sides.filter(([, m]) => m.length)) {
        const upper = mine.flatMap(([a, b]) => [[a, roof(g, a)], [b, roof(g, b)]]);
        const lower = mine.slice().reverse().flatMap((span) => {
          const others = lowerIn(span);
          return [[span[1], below(others, span[1])], [span[0], below(others, span[0])]];
        });
        ax.path(upper.concat(lower), { fill, opacity: 0.16, close: true, width: 0 });
      }
      const dash = seen.includes(g.colour) ? "7 4" : undefined;  // two of one family: tell them apart
      seen.push(g.colour);
      ax.path(xs.map((x) => [x, roof(g, x)]), { stroke: g.colour, width: 2.5, dash });
      ax.line([g.ridge, g.ridge], [low, g.peak], { stroke: g.colour, width: 1.5, dash: "2 3" });
    });
    gpus.forEach((g) => {  // diamonds over every band and roof
      const px = ax.X(g.ridge), py = ax.Y(g.peak), r = ax.fig.narrow ? 5 : 6;
      el("path", { d: `M${px},${py - r}L${px + r},${py}L${px},${py + r}L${px - r},${py}Z`, fill: g.colour }, ax.over);
    });
  }

  /** The region names at the bottom corners and each ridge's value beside its dotted line, one
   * row per GPU above them (plots._label_ridges); returns their boxes. */
  function regionAndRidgeLabels(ax, style, gpus, lo, hi, low, size) {
    const fig = ax.fig, base = ax.Y(low) - 5, row = size + 5, boxes = [];
    const put = (px, py, text, colour, anchor) => {
      const w = fig.textWidth(text, size), x0 = anchor === "end" ? px - w : px;
      fig.text(px, py, text, { anchor, colour, size, parent: ax.over });
      boxes.push({ x: x0, y: py - size, width: w, height: size + 2 });
    };
    put(ax.X(lo) + 6, base, REGIONS[0], style.okabe_ito.blue, "start");
    put(ax.X(hi) - 6, base, REGIONS[1], style.okabe_ito.vermillion, "end");
    const ridges = gpus.map((g) => g.ridge);
    gpus.forEach((g, k) => {
      const text = `ridge ${fmt.comma(g.ridge, 0)} FLOP/B`;
      const end = Math.min(hi, ...ridges.filter((x) => x > g.ridge));  // the text must stop before this
      const right = ax.X(end) - ax.X(g.ridge) > fig.textWidth(text, size) + 12;
      put(ax.X(g.ridge) + (right ? 4 : -4), base - row * (k + 1), text, g.colour, right ? "start" : "end");
    });
    return boxes;
  }

  const pointBox = (ax, a, b, r) => ({ x: ax.X(a) - r, y: ax.Y(b) - r, width: 2 * r, height: 2 * r });
  const overlaps = (p, q) => p.x < q.x + q.width && q.x < p.x + p.width && p.y < q.y + q.height && q.y < p.y + p.height;
  // The first seven of plots.LABEL_OFFSETS, in px with SVG's y down: (dx, dy, horizontal
  // anchor, vertical anchor). Python's further ones put a label where it reads as another point's.
  const LABEL_OFFSETS = [[6, 6, "left", "top"], [6, 20, "left", "top"], [-6, -6, "right", "bottom"],
    [0, 10, "center", "top"], [0, -10, "center", "bottom"], [9, 0, "left", "center"],
    [-9, 0, "right", "center"]];

  /** plots._label_decode_points: 'B=<batch>' beside each decode point of the first GPU, at the
   * first offset where it overlaps nothing and stays inside the axes. The chosen batch (the
   * last) is placed first and always shown; another label with no such place is left off (the
   * points are too close at this width). */
  function labelDecodePoints(ax, decode, taken, size) {
    const { box } = ax, h = size + 1;
    const inside = (b) => b.x >= box.left && b.x + b.width <= box.left + box.width &&
      b.y >= box.top && b.y + b.height <= box.top + box.height;
    const chosen = decode[decode.length - 1];
    [chosen, ...decode.slice(0, -1)].forEach((d) => {
      const text = `B=${d.batch}`, w = 1.1 * ax.fig.textWidth(text, size) + 2;  // estimates run short
      let best = null;
      for (const [dx, dy, ha, va] of LABEL_OFFSETS) {
        const px = ax.X(d.intensity) + dx, py = ax.Y(d.attainable) + dy;
        const b = { x: ha === "left" ? px : ha === "right" ? px - w : px - w / 2,
          y: va === "top" ? py : va === "bottom" ? py - h : py - h / 2, width: w, height: h };
        const clash = taken.filter((t) => overlaps(b, t)).length + (inside(b) ? 0 : 10);
        if (!best || clash < best.clash) best = { clash, b };
        if (clash === 0) break;
      }
      if (best.clash > 0 && d !== chosen) return;
      ax.fig.text(best.b.x, best.b.y + 0.8 * h, text, { size, parent: ax.over });
      taken.push(best.b);
    });
  }

  /** plots.plot_roofline's legend: each roof, then hollow decode and prefill markers, then the
   * measured crosses. */
  function legendItems(spec, v, r) {
    const seen = [];
    const items = r.gpus.map((g) => {
      const dash = seen.includes(g.colour) ? "7 4" : undefined;
      seen.push(g.colour);
      return { label: `${g.name} roof`, colour: g.colour, shape: "line", dash };
    });
    items.push({ label: "decode (B = batch size)", shape: "circle" },
      { label: `prefill ${v.prompt_len} tok`, shape: "square" });
    if (r.measured) items.push({ label: spec.measured.label, colour: spec.catalog.style.okabe_ito.black, shape: "x" });
    return items;
  }

  MV.register("roofline", explorer);
  if (inNode) module.exports = explorer;
})(typeof self !== "undefined" ? self : this);
