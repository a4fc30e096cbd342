/* Little's law explorer on the page: N = X x L against the requests the KV memory holds.
 * Mirrors mini_vllm.widgets.explore_littles_law (readout) and plots.plot_littles_law (figure).
 */
(function (root) {
  "use strict";
  const inNode = typeof module === "object" && module.exports;
  const MV = inNode ? require("./mv_core.js") : root.MV;
  const C = inNode ? require("./mv_calc.js") : root.MVCalc;
  const { fmt } = MV;

  const explorer = {
    controls(spec) {
      return MV.siteControls(spec, { throughput_per_s: "req/s", latency_s: "s", context_len: "tokens" });
    },

    /** The numbers of the readout: what the agreement test compares with mini_vllm. */
    compute(spec, v) {
      const { catalog } = spec;
      const model = catalog.models[v.model], gpu = catalog.gpus[v.gpu];
      const report = C.vllmReport(catalog, model, gpu, v.context_len, { allowLong: true });
      const needed = C.littlesLawConcurrency(v.throughput_per_s, v.latency_s);
      const capacity = C.wholeSequences(report.max_concurrency);
      return {
        needed, capacity, report, fits: needed <= capacity,
        best_throughput: C.littlesLawThroughput(capacity, v.latency_s),
        beyond_window: v.context_len > model.max_position_embeddings,
      };
    },

    draw(fig, spec, v, r) {
      const colours = spec.catalog.style.okabe_ito;
      const X = v.throughput_per_s, L = v.latency_s;
      const xMax = Math.max(2 * X, 1.3 * r.capacity / L);
      const yMax = Math.max(r.needed, r.capacity) * 1.25 || 1;
      const model = spec.catalog.models[v.model], gpu = spec.catalog.gpus[v.gpu];
      const top = fig.title([`Little's law at latency L = ${fmt.g(L)} s`,
        `KV cache: ${model.name} on ${gpu.name}, ${fmt.count(v.context_len)} tok/request`]);
      const ax = fig.axes({ left: fig.narrow ? 52 : 66, top, width: fig.width - (fig.narrow ? 62 : 84), height: fig.height - top - 50 },
        { min: 0, max: xMax, label: "throughput X (requests/s)" },
        { min: 0, max: yMax, label: "concurrency N (requests)" });
      ax.path([[r.capacity, r.capacity], [xMax, r.capacity], [xMax, yMax], [0, yMax], [0, r.capacity]].map(([a, b], i) => i === 0 ? [0, b] : [a, b]),
        { fill: colours.vermillion, opacity: 0.08, close: true });
      ax.line([0, xMax], [0, C.littlesLawConcurrency(xMax, L)], { stroke: colours.blue, width: 2.5 });
      ax.hline(r.capacity, { stroke: colours.vermillion, width: 2 });
      ax.marker(X, r.needed, { fill: colours.orange, size: 6.5 });
      ax.legend([
        { label: `N = X x L  (L = ${fmt.g(L)} s)`, colour: colours.blue },
        { label: `X = ${fmt.g(X)}/s needs N = ${fmt.number(r.needed, 1)}`, colour: colours.orange, shape: "circle" },
        { label: `memory holds ${fmt.plural(r.capacity, "sequence")}`, colour: colours.vermillion },
      ], X / xMax < 0.6 && r.needed / yMax > 0.5 ? "lower right" : "upper left");  // off the dot
    },

    readout(spec, v, r) {
      const model = spec.catalog.models[v.model];
      const lines = [];
      if (r.beyond_window) lines.push(fmt.windowNote(model));
      const verdict = r.fits ? "fits" : "does NOT fit: requests would queue";
      lines.push(
        `Little's law: N = X x L = ${fmt.g(v.throughput_per_s)}/s x ${fmt.g(v.latency_s)} s = ` +
        `${fmt.number(r.needed, 1)} requests in flight`,
        `KV memory holds ${fmt.count(r.capacity)} whole requests of ${fmt.count(v.context_len)} tokens ` +
        `(Maximum concurrency for ${fmt.count(v.context_len)} tokens per request: ` +
        `${fmt.fixed(r.report.max_concurrency, 2)}x) -> ${verdict}`,
        `Most throughput at this latency: ${fmt.count(r.capacity)} / ${fmt.g(v.latency_s)} s = ` +
        `${fmt.comma(r.best_throughput, 2)} requests/s`);
      return lines;
    },

    alt(spec, v, r) {
      return `Line chart: concurrency N in requests (y) against throughput X in requests per second ` +
        `(x) at latency L = ${fmt.g(v.latency_s)} s: the straight line N = X x L, a dot at ` +
        `${fmt.g(v.throughput_per_s)} requests/s needing ${fmt.number(r.needed, 1)}, and a horizontal ` +
        `line at the ${fmt.count(r.capacity)} whole sequences of ${fmt.count(v.context_len)} tokens that ` +
        `the KV memory of one ${v.gpu} holds for ${v.model}; above that line requests would queue.`;
    },
  };

  MV.register("littles_law", explorer);
  if (inNode) module.exports = explorer;
})(typeof self !== "undefined" ? self : this);
