/* KV-growth explorer on the page: a batch's KV cache against the memory left after the weights.
 * Mirrors mini_vllm.widgets.explore_kv_growth (controls, readout) and plots.plot_kv_growth.
 */
(function (root) {
  "use strict";
  const inNode = typeof module === "object" && module.exports;
  const MV = inNode ? require("./mv_core.js") : root.MV;
  const C = inNode ? require("./mv_calc.js") : root.MVCalc;
  const { fmt } = MV;
  const GiB = 2 ** 30;

  const explorer = {
    controls(spec) {
      return MV.siteControls(spec, { context_len: "tokens", batch_size: "sequences" });
    },

    /** A new model offers the divisors of its num_heads, preset to its own num_kv_heads. */
    update(name, values, spec) {
      if (name !== "model") return {};
      const model = spec.catalog.models[values.model];
      return { num_kv_heads: { options: model.kv_head_options, value: model.num_kv_heads } };
    },

    compute(spec, v) {
      const { catalog } = spec;
      const model = catalog.models[v.model], gpu = catalog.gpus[v.gpu];
      const heads = model.is_mla ? model.num_kv_heads : v.num_kv_heads;
      if (!(String(heads) in model.num_params_by_kv_heads)) {
        throw new MV.UserError(`num_kv_heads must divide ${model.name}'s ${model.num_heads} query heads; got ${heads}`);
      }
      const kvDtype = v.kv_dtype, numGpus = v.num_gpus;
      const free = C.freeKvBytes(catalog, model, gpu, { numGpus, numKvHeads: heads });
      const perToken = C.kvBytesPerToken(catalog, model, kvDtype, heads);
      const r = {
        heads, free, per_token: perToken,
        per_sequence: C.kvBytesPerSequence(catalog, model, v.context_len, kvDtype, heads),
        total: C.kvBytesTotal(catalog, model, v.context_len, v.batch_size, kvDtype, heads),
        naive: C.maxSequencesNaive(catalog, model, gpu, v.context_len, { kvDtype, numGpus, numKvHeads: heads }),
        fit_len: free / (perToken * v.batch_size),
        beyond_window: v.context_len > model.max_position_embeddings,
      };
      r.fits = r.total <= free;
      try {
        r.report = C.vllmReport(catalog, model, gpu, v.context_len, { kvDtype, tensorParallelSize: numGpus, numKvHeads: heads });
      } catch (err) {
        if (!err.userFacing) throw err;
        r.report_error = err.message;  // the readout says why, as the notebook's does
      }
      return r;
    },

    draw(fig, spec, v, r) {
      const colours = spec.catalog.style.okabe_ito, model = spec.catalog.models[v.model];
      const ctx = v.context_len, b = v.batch_size;
      const xMax = Math.max(1.5 * ctx, Math.min(1.15 * r.fit_len, 8 * ctx), 16);
      const used = ctx * r.per_token * b;
      const top = Math.max(r.free, used) / GiB / 0.45;  // the lines stay in the lower 45 %
      const margin = fig.narrow ? { left: 50, right: 10 } : { left: 62, right: 18 };
      const kv = v.kv_dtype || model.dtype;
      const kind = model.is_mla ? model.attention_kind : r.heads === model.num_heads ? "MHA" : r.heads === 1 ? "MQA" : "GQA";
      const heads = model.is_mla ? "one latent per token" : `${r.heads} KV heads`;
      const titleTop = fig.title([`KV cache of ${model.name} (${kind}, ${heads}, ${kv})`,
        `on ${v.num_gpus} x ${v.gpu}, batch ${b}`]);
      const ax = fig.axes({ left: margin.left, top: titleTop, width: fig.width - margin.left - margin.right, height: fig.height - titleTop - 50 },
        { min: 0, max: xMax, label: "context length per sequence (tokens)", format: (x) => fmt.count(x) },
        { min: 0, max: top, label: "memory (GiB)" });
      ax.path([[0, r.free / GiB], [xMax, r.free / GiB], [xMax, top], [0, top]], { fill: colours.vermillion, opacity: 0.08, close: true });
      const legend = [];
      if (b > 1) {
        ax.line([0, xMax], [0, xMax * r.per_token / GiB], { stroke: colours.sky_blue, width: 2.5, dash: "7 4" });
        legend.push({ label: "KV of 1 sequence", colour: colours.sky_blue, dash: "7 4" });
      }
      ax.line([0, xMax], [0, xMax * r.per_token * b / GiB], { stroke: colours.blue, width: 2.5 });
      legend.push({ label: `KV of ${fmt.plural(b, "sequence")}`, colour: colours.blue });
      ax.hline(r.free / GiB, { stroke: colours.vermillion, width: 2 });
      legend.push({ label: `memory left after weights: ${fmt.number(r.free / GiB, 1)} GiB`, colour: colours.vermillion });
      if (r.fit_len <= xMax) {
        ax.marker(r.fit_len, r.free / GiB, { shape: "x", fill: colours.black, size: 6, width: 3.5 });
        const left = r.fit_len < 0.4 * xMax;
        ax.text(r.fit_len, r.free / GiB, `batch full at ${fmt.count(r.fit_len)} tokens`,
          { dx: left ? 8 : -8, dy: -10, anchor: left ? "start" : "end", size: fig.font - 1 });
      }
      ax.marker(ctx, used / GiB, { fill: colours.orange, size: 6 });
      legend.push({ label: `${fmt.count(ctx)} tokens x ${b}: ${fmt.number(used / GiB, 2)} GiB`, colour: colours.orange, shape: "circle" });
      ax.legend(legend, "upper left");
      const fit = r.naive;
      const note = [`${fmt.plural(fit, "sequence")} fit${fit === 1 ? "s" : ""}`, `at ${fmt.count(ctx)} tokens;`, `sequence ${fmt.count(fit + 1)} does not`];
      const size = fig.font - 1, px = ax.box.left + ax.box.width - 8;
      if (!fig.narrow || legend.length <= 3) {
        note.forEach((line, i) => fig.text(px, ax.box.top + 16 + i * (size + 4), line, { anchor: "end", size }));
      }
    },

    readout(spec, v, r) {
      const model = spec.catalog.models[v.model];
      const lines = [
        `KV per token: ${fmt.bytes(r.per_token, "both")}` +
          (model.is_mla ? "  (MLA caches one latent; num_kv_heads has no effect)" : ""),
        `KV per sequence of ${fmt.count(v.context_len)} tokens: ${fmt.bytes(r.per_sequence, "GiB")}`,
        `Batch of ${v.batch_size}: ${fmt.bytes(r.total, "GiB")} of ${fmt.bytes(r.free, "GiB")} left after weights -> ` +
          (r.fits ? "fits" : "does NOT fit"),
        `Naive concurrency (whole sequences): ${fmt.count(r.naive)}`,
      ];
      if (r.beyond_window) lines.splice(1, 0, fmt.windowNote(model));
      if (v.num_gpus > 1 && (model.is_mla || r.heads < v.num_gpus)) {
        const copied = model.is_mla ? "MLA's latent" : `${fmt.plural(r.heads, "KV head")} on ${v.num_gpus} GPUs`;
        lines.push(`Note: vLLM cannot split ${copied} ${v.num_gpus} ways and copies it on every ` +
          "GPU, so the naive count (the cache split evenly) overstates what fits; " +
          "the vLLM line below counts the copies");
      }
      lines.push(r.report ? `vLLM-style: GPU KV cache size: ${fmt.count(r.report.kv_cache_tokens)} tokens; ` +
        `Maximum concurrency for ${fmt.count(v.context_len)} tokens per request: ${fmt.fixed(r.report.max_concurrency, 2)}x`
        : `vLLM-style: ${r.report_error}`);
      return lines;
    },

    alt(spec, v, r) {
      const model = spec.catalog.models[v.model];
      return `Line chart: KV-cache memory in GiB (y) against context length per sequence in tokens ` +
        `(x) for ${v.model} with ${model.is_mla ? "MLA's one latent" : `${r.heads} KV heads`} in ${v.kv_dtype}. The KV of a batch of ` +
        `${fmt.count(v.batch_size)} rises in a straight line and crosses the horizontal line of memory ` +
        `left after the weights (${fmt.number(r.free / GiB, 1)} GiB) on ${v.num_gpus} x ${v.gpu}; an X ` +
        `marks the length at which the batch stops fitting, a dot the chosen context of ` +
        `${fmt.count(v.context_len)} tokens, and a note says that ${fmt.plural(r.naive, "whole sequence")} fit.`;
    },
  };

  MV.register("kv_growth", explorer);
  if (inNode) module.exports = explorer;
})(typeof self !== "undefined" ? self : this);
