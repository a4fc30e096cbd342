/* Prefill vs decode on a GPU, from the roofline bounds: the time per token of one n-token
 * prefill (prefillTimeBound) against n decode steps of a batch of B sequences from an empty
 * cache, step i reading i cached tokens per sequence (the sum of the decode step bound over
 * contexts 0 .. n - 1, which makes n x B tokens). Mirrors
 * mini_vllm.widgets.explore_prefill_decode_bound (the sums of _prefill_decode_bound, the
 * readout) and plots.plot_prefill_decode_bound (figure).
 */
(function (root) {
  "use strict";
  const inNode = typeof module === "object" && module.exports;
  const MV = inNode ? require("./mv_core.js") : root.MV;
  const C = inNode ? require("./mv_calc.js") : root.MVCalc;
  const { fmt } = MV;

  /** widgets._first_memory_bound_step: the first step i < numSteps (reading i cached tokens)
   * whose memory time reaches its compute time, numSteps if none; bisection over decodeStep. */
  function firstMemoryBoundStep(catalog, model, gpu, numSteps, batchSize, kw) {
    let low = 0, high = numSteps;
    while (low < high) {
      const mid = Math.floor((low + high) / 2);
      const step = C.decodeStep(catalog, model, gpu, batchSize, { ...kw, contextLen: mid });
      if (step.memory_s >= step.compute_s) high = mid; else low = mid + 1;
    }
    return low;
  }

  /** widgets._decode_steps_s: [seconds, compute-bound steps] of numSteps decode steps from an
   * empty cache, the sum over i < numSteps of the step bound at context i, in closed form. */
  function decodeStepsS(catalog, model, gpu, numSteps, batchSize, kw) {
    const first = firstMemoryBoundStep(catalog, model, gpu, numSteps, batchSize, kw);
    const step = (contextLen) => C.decodeStep(catalog, model, gpu, batchSize, { ...kw, contextLen });
    let seconds = first * step(0).compute_s;
    if (first < numSteps) {
      const ends = step(first).memory_s + step(numSteps - 1).memory_s;
      seconds += (numSteps - first) * ends / 2;
    }
    return [seconds, first];
  }

  /** widgets._prefill_decode_bound: one n-token prefill against n decode steps (n x batch tokens). */
  function bound(catalog, model, gpu, promptLen, batchSize, weightDtype) {
    const kw = { weightDtype, dtype: C.mathDtype(gpu, weightDtype) };
    const prefill_s = C.prefillTimeBound(catalog, model, gpu, promptLen, kw);
    const [decode_s, compute_bound_steps] = decodeStepsS(catalog, model, gpu, promptLen, batchSize, kw);
    const tokens = promptLen * batchSize;
    return {
      prefill_s, decode_s, compute_bound_steps,
      prefill_tokens_per_s: promptLen / prefill_s, decode_tokens_per_s: tokens / decode_s,
      ratio: (decode_s / tokens) / (prefill_s / promptLen), dtype: kw.dtype,
    };
  }

  /** The unit the y axis counts in, as plots.plot_prefill_decode_bound picks it. */
  const UNITS = [["s", 1], ["ms", 1e-3], ["µs", 1e-6]];
  const pickUnit = (top) => UNITS.find(([u, s]) => top >= s || u === "µs");

  const explorer = {
    controls(spec) {
      return MV.siteControls(spec, { batch_size: "sequences", prompt_len: "tokens" });
    },

    /** The numbers of the readout and the chart: what the agreement test compares. */
    compute(spec, v) {
      const { catalog } = spec;
      const model = catalog.models[v.model], gpu = catalog.gpus[v.gpu];
      const n = v.prompt_len, b = v.batch_size;
      const r = bound(catalog, model, gpu, n, b, v.weight_dtype);
      const ns = spec.options.prompt_len.map(([, value]) => value);  // the chart's n: the slider's steps
      r.points = ns.map((k) => {
        const p = k === n ? r : bound(catalog, model, gpu, k, b, v.weight_dtype);
        return { n: k, prefill_s: p.prefill_s, decode_s: p.decode_s };
      });
      r.intensity = C.prefillIntensity(catalog, model, n, { weightDtype: v.weight_dtype });
      r.ridge = C.ridgePoint(gpu, r.dtype);
      r.regime = r.intensity < r.ridge ? "memory-bound" : "compute-bound";
      r.use = C.memoryUse(catalog, model, gpu, v.weight_dtype, b, n);
      r.beyond_window = n > model.max_position_embeddings;
      return r;
    },

    draw(fig, spec, v, r) {
      const colours = spec.catalog.style.okabe_ito, grey = spec.catalog.style.grey;
      const b = v.batch_size, narrow = fig.narrow;
      const ns = r.points.map((p) => p.n);
      const prefill = r.points.map((p) => p.prefill_s / p.n);  // seconds per token
      const decode = r.points.map((p) => p.decode_s / (p.n * b));
      const both = prefill.concat(decode);
      const [unit, size] = pickUnit(Math.max(...both));
      // as the notebook's figure: room under the lowest point for its time, and the legend in
      // the upper right over the points right of the middle n (they stay in the lower 60 %)
      const low = Math.min(...both) / size / 3;
      const middle = Math.sqrt(ns[0] * ns[ns.length - 1]);
      const right = Math.max(...both.filter((_, i) => ns[i % ns.length] >= middle)) / size;
      const top = Math.max(1.6 * Math.max(...both) / size, low * (right / low) ** (1 / 0.6));
      const pad = 10 ** (0.05 * Math.log10(ns[ns.length - 1] / ns[0]));  // matplotlib's 5 % margin
      const step = narrow ? 4 : 2;  // label every 16th or every 4th power of two
      const ticks = ns.filter((k) => Math.log2(k) % step === 0);

      const titleBottom = fig.title(["Prefill vs decode, from the roofline bounds",
        `${v.model} (${v.weight_dtype}) on ${v.gpu}`]);
      const left = narrow ? 50 : 64, rightMargin = narrow ? 10 : 18;
      const ax = fig.axes({ left, top: titleBottom, width: fig.width - left - rightMargin, height: fig.height - titleBottom - 50 },
        { min: ns[0] / pad, max: ns[ns.length - 1] * pad, log: true, ticks, format: (k) => fmt.count(k), label: "prompt tokens n" },
        { min: low, max: top, log: true, label: `time per token (${unit})` });

      const series = [[prefill, colours.green, "square"], [decode, colours.vermillion, "circle"]];
      for (const [ys, colour, shape] of series) {
        ax.line(ns, ys.map((y) => y / size), { stroke: colour, width: 2.5 });
        ns.forEach((k, i) => ax.marker(k, ys[i] / size, { shape, fill: colour, stroke: colour, size: narrow ? 3 : 3.5, parent: ax.data }));
      }

      // the chosen n: a dotted line, rings on its two points, their times per token beside
      const n = v.prompt_len, j = ns.indexOf(n);
      ax.vline(n, { stroke: grey, width: 1.8, dash: "2 4" });
      const flip = n >= ns[ns.length - 1] / 8;  // labels stay inside: left of the line
      const rings = [[prefill[j], "rect", prefill[j] > decode[j]], [decode[j], "circle", decode[j] >= prefill[j]]];
      for (const [value, tag, higher] of rings) {
        const px = ax.X(n), py = ax.Y(value / size), s = 7;
        const attrs = tag === "rect" ? { x: px - s, y: py - s, width: 2 * s, height: 2 * s } : { cx: px, cy: py, r: s + 1 };
        MV.el(tag, { ...attrs, fill: "none", stroke: colours.black, "stroke-width": 1.5 }, ax.over);
        ax.text(n, value / size, fmt.duration(value), { dx: flip ? -10 : 10, dy: higher ? -9 : 19, anchor: flip ? "end" : "start", size: fig.font - 1 });
      }

      ax.legend([
        { label: "prefill: n tokens in one pass", colour: colours.green, shape: "square" },
        { label: b === 1 ? "decode: n steps of one token" : `decode: n steps at batch ${fmt.count(b)}`, colour: colours.vermillion, shape: "circle" },
        { label: `n = ${fmt.count(n)}`, colour: grey, dash: "2 4" },
      ], "upper right");
    },

    readout(spec, v, r) {
      const model = spec.catalog.models[v.model], gpu = spec.catalog.gpus[v.gpu];
      const n = v.prompt_len, b = v.batch_size, steps = r.compute_bound_steps;
      const lines = [];
      if (r.beyond_window) lines.push(fmt.windowNote(model));
      if (!r.use.fits) lines.push(fmt.memoryNote(r.use, gpu, b, n));
      const decodeRegime = steps === 0 ? "memory-bound at every step"
        : steps >= n ? "compute-bound at every step"
          : `compute-bound for the first ${fmt.plural(steps, "step")}, then memory-bound`;
      const slower = fmt.comma(r.ratio, 1) === "1.0" ? "the same time per token"
        : r.ratio >= 1 ? `decode takes ${fmt.comma(r.ratio, 1)}x as long`
        : `prefill takes ${fmt.comma(1 / r.ratio, 1)}x as long`;
      lines.push(
        `Prefill of ${fmt.plural(n, "token")} in one pass: ${fmt.duration(r.prefill_s)} ` +
        `(${fmt.comma(r.prefill_tokens_per_s, 0)} tokens/s), ${r.regime}: intensity ` +
        `${fmt.comma(r.intensity, 1)} vs ridge ${fmt.comma(r.ridge, 0)} FLOP/byte (${r.dtype} math)`,
        `${fmt.plural(n, "decode step")} at batch ${fmt.count(b)} (${fmt.plural(n * b, "token")}, each ` +
        `step reading the caches so far): ${fmt.duration(r.decode_s)} ` +
        `(${fmt.comma(r.decode_tokens_per_s, 0)} tokens/s), ${decodeRegime}`,
        `Per token: prefill ${fmt.duration(r.prefill_s / n)}, decode ` +
        `${fmt.duration(r.decode_s / (n * b))}: ${slower}`);
      return lines;
    },

    alt(spec, v, r) {
      const n = v.prompt_len, b = v.batch_size, last = r.points[r.points.length - 1].n;
      const decode = b === 1 ? "n one-token decode steps" : `n decode steps at batch ${fmt.count(b)}`;
      return `Line chart, log-log: time per token (y) against prompt tokens n (x, 1 to ` +
        `${fmt.count(last)}) for ${v.model} with ${v.weight_dtype} weights on the ${v.gpu}, from ` +
        "the roofline bounds. Green squares: one prefill pass over n tokens, whose time per " +
        "token falls as n grows until the arithmetic bounds it; vermillion circles: " +
        `${decode}, each reading every weight and the caches so far. A dotted line marks ` +
        `n = ${fmt.count(n)}: prefill ${fmt.duration(r.prefill_s / n)} per ` +
        `token, decode ${fmt.duration(r.decode_s / (n * b))}.`;
    },
  };

  MV.register("prefill_decode", explorer);
  if (inNode) module.exports = explorer;
})(typeof self !== "undefined" ? self : this);
