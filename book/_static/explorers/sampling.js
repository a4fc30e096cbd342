/* Sampling explorer on the page: temperature, top-k, top-p and a seeded draw over logits that
 * mini_vllm exported (the trained model's after a few prompts, or the notebook's own logits).
 * Mirrors mini_vllm.sampler (probabilities, Sampler.sample), widgets._sampling_readout and
 * plots.plot_sampling. numpy's generator cannot run here, but the Sampler takes exactly one
 * uniform number per non-greedy draw: the spec holds np.random.default_rng(seed).random() for
 * every seed the slider offers, so the page draws the package's token.
 */
(function (root) {
  "use strict";
  const inNode = typeof module === "object" && module.exports;
  const MV = inNode ? require("./mv_core.js") : root.MV;
  const { fmt } = MV;
  const decoded = new WeakMap();  // prompt row -> its logits (Float32Array or Float64Array)
  const uniformCache = new WeakMap();  // spec -> Float64Array of uniforms, by seed

  /** numpy's pairwise sum (np.add.reduce on a contiguous row), rounded by `r` after each add. */
  function pairwiseSum(a, lo, n, r) {
    if (n < 8) {
      let s = 0;
      for (let i = lo; i < lo + n; i++) s = r(s + a[i]);
      return s;
    }
    if (n <= 128) {
      const acc = [];
      for (let j = 0; j < 8; j++) acc.push(a[lo + j]);
      let i = 8;
      for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) acc[j] = r(acc[j] + a[lo + i + j]);
      let s = r(r(r(acc[0] + acc[1]) + r(acc[2] + acc[3])) + r(r(acc[4] + acc[5]) + r(acc[6] + acc[7])));
      for (; i < n; i++) s = r(s + a[lo + i]);
      return s;
    }
    let half = Math.floor(n / 2);
    half -= half % 8;
    return r(pairwiseSum(a, lo, half, r) + pairwiseSum(a, lo + half, n - half, r));
  }
  const same = (x) => x;
  const argmax = (a) => a.reduce((best, x, i) => (x > a[best] ? i : best), 0);

  /** The distribution the sampler draws from (sampler._batch_probabilities, one row), in the
   * logits' dtype: float32 logits round every step to float32 as numpy does (Math.fround). */
  function probabilities(logits, { temperature, topK, topP, greedy }, f32) {
    const r = f32 ? Math.fround : same, V = logits.length;
    if (greedy) {  // one-hot on the argmax of the raw logits, lowest id on a tie
      const onehot = new Float64Array(V);
      onehot[argmax(logits)] = 1;
      return onehot;
    }
    const t = r(temperature);
    let scaled = Float64Array.from(logits, (z) => r(z / t));
    const k = topK ? Math.min(topK, V) : V;
    if (k < V) {  // keep logits >= the k-th largest: ties with it survive
      const kth = Float64Array.from(scaled).sort()[V - k];
      scaled = scaled.map((z) => (z >= kth ? z : -Infinity));
    }
    const top = Math.max(...scaled);
    const e = scaled.map((z) => r(Math.exp(r(z - top))));
    const total = pairwiseSum(e, 0, V, r);
    let probs = e.map((x) => r(x / total));
    if (topP < 1) {  // rank by logit (descending, ties by id); keep while the mass before < p
      const order = Array.from(scaled, (_, i) => i).sort((a, b) => (scaled[b] - scaled[a]) || (a - b));
      const keep = new Uint8Array(V);
      let cum = 0;
      for (const i of order) {
        cum = r(cum + probs[i]);
        keep[i] = r(cum - probs[i]) < topP ? 1 : 0;
      }
      probs = probs.map((x, i) => (keep[i] ? x : 0));
      const kept = pairwiseSum(probs, 0, V, r);
      probs = probs.map((x) => r(x / kept));
    }
    return probs;
  }

  /** Sampler.sample for one row: the first token whose cumulative mass exceeds u * total. */
  function draw(probs, u, f32) {
    const r = f32 ? Math.fround : same;
    let cum = 0, below = 0;
    const cdf = probs.map((x) => (cum = r(cum + x)));
    const threshold = u * cdf[cdf.length - 1];
    for (const c of cdf) if (c <= threshold) below++;
    return Math.min(below, probs.length - 1);
  }

  /** plots.plot_sampling's bar heights: the softmax after temperature alone, in float64. */
  function tempered(logits, temperature) {
    const scaled = Array.from(logits, (z) => z / temperature);
    const top = Math.max(...scaled);
    const e = scaled.map((z) => Math.exp(z - top));
    const total = pairwiseSum(e, 0, e.length, same);
    return e.map((x) => x / total);
  }

  function row(spec, prompt) {
    const found = spec.explicit ? spec.prompts[0] : spec.prompts.find((p) => p.prompt === prompt);
    if (!found) throw new MV.UserError(`no logits exported for the prompt ${JSON.stringify(prompt)}`);
    if (!decoded.has(found)) decoded.set(found, MV.floats(found.logits, found.dtype));
    return { row: found, logits: decoded.get(found) };
  }

  function uniform(spec, seed) {
    if (!uniformCache.has(spec)) uniformCache.set(spec, MV.floats(spec.uniforms, "float64"));
    const all = uniformCache.get(spec), u = all[seed - spec.seed_min];
    if (!Number.isInteger(seed) || u === undefined) {
      throw new MV.UserError(`seed must be an integer from ${spec.seed_min} to ${spec.seed_min + all.length - 1}; got ${seed}`);
    }
    return u;
  }

  const explorer = {
    controls(spec) {
      const prompt = spec.explicit ? [] : [{ name: "prompt", label: "prompt", type: "select", options: spec.prompts.map((p) => [p.label, p.prompt]) }];
      return [...prompt, ...MV.siteControls(spec)];  // the typed prompt becomes a choice of the exported ones
    },

    /** What the sampler does at these settings: the numbers the agreement test compares. */
    compute(spec, v) {
      const { logits, row: r } = row(spec, v.prompt);
      const f32 = r.dtype === "float32";
      if (!(v.temperature >= 0)) throw new MV.UserError(`temperature must be a finite number >= 0; got ${v.temperature}`);
      if (!(v.top_p > 0 && v.top_p <= 1)) throw new MV.UserError(`top_p must be in (0, 1]; got ${v.top_p}`);
      if (!(Number.isInteger(v.top_k) && v.top_k >= 0)) throw new MV.UserError(`top_k must be 0 (off) or an integer >= 1; got ${v.top_k}`);
      const params = { temperature: v.temperature, topK: v.top_k, topP: v.top_p, greedy: v.temperature < spec.greedy_eps };
      const u = uniform(spec, v.seed);
      const final = probabilities(logits, params, f32);
      const drawn = params.greedy ? argmax(logits) : draw(final, u, f32);  // greedy takes no number
      const kept = [];
      final.forEach((p, i) => { if (p > 0) kept.push(i); });
      // the figure (plots.plot_sampling): float64 bars after temperature, most likely first
      const bars = params.greedy ? Array.from(final) : tempered(logits, v.temperature);
      const rank = params.greedy ? logits : bars;  // greedy: one-hot bars, runners-up by logit
      const order = Array.from(bars, (_, i) => i).sort((a, b) => (rank[b] - rank[a]) || (a - b)).slice(0, spec.top_n);
      return { final, kept, drawn, greedy: params.greedy, bars, order, vocab: logits.length };
    },

    draw(fig, spec, v, r) {
      const c = spec.colours, n = r.order.length;
      const heights = r.order.map((i) => r.bars[i]), finals = r.order.map((i) => r.final[i]);
      const keptShown = r.order.map((i) => r.final[i] > 0);
      const yMax = Math.min(1.12, Math.max(Math.max(...r.final), ...heights) * 1.15 + 0.03);
      const ticks = r.order.map((i) => spec.ticks[i]);
      const longest = Math.max(...ticks.map((t) => t.length));
      // the title's first line, split after its colon where the figure is too narrow for it
      const tk = v.top_k ? String(v.top_k) : "all";
      const head = `Next-token probabilities: T=${fmt.g(v.temperature)}, top-k=${tk}, top-p=${fmt.g(v.top_p)}`;
      const titles = fig.textWidth(head, fig.font + 1) > fig.width - 8 ? head.split(": ").map((t, i) => (i ? t : `${t}:`)) : [head];
      titles.push(`${fmt.count(r.kept.length)} of ${fmt.count(r.vocab)} tokens kept; top ${n} shown`);
      titles.forEach((t, i) => fig.text(fig.width / 2, 18 + 18 * i, t, { anchor: "middle", weight: i < titles.length - 1 ? "bold" : undefined, size: i < titles.length - 1 ? fig.font + 1 : undefined }));
      const left = fig.narrow ? 50 : 62, right = fig.narrow ? 8 : 16, top = 18 * titles.length + 16;
      const slot = (fig.width - left - right) / n;
      // plots._bar_labels: across while the longest label fits its slot, else upright and smaller
      const across = fig.textWidth("x".repeat(longest)) <= 0.8 * slot;
      const size = across ? fig.font : Math.min(fig.font, 0.8 * slot);
      const labelRoom = across ? fig.font + 8 : fig.textWidth("x".repeat(longest), size) + 10;
      const ax = fig.axes({ left, top, width: fig.width - left - right, height: fig.height - top - labelRoom - 30 },
        { min: -0.6, max: n - 0.4, ticks: [] },
        { min: 0, max: yMax, label: "probability" });
      heights.forEach((h, j) => {
        ax.path([[j - 0.4, 0], [j + 0.4, 0], [j + 0.4, h], [j - 0.4, h]],
          { fill: keptShown[j] ? c.bar : c.removed, close: true });
      });
      finals.forEach((p, j) => {
        if (keptShown[j]) ax.line([j - 0.45, j + 0.45], [p, p], { stroke: c.final, width: 3 });
      });
      const numKept = r.kept.length;
      const boundary = numKept > 0 && numKept < n && keptShown.slice(0, numKept).every(Boolean);
      if (boundary) ax.vline(numKept - 0.5, { stroke: c.boundary, width: 2, dash: "7 4" });
      const j = r.order.indexOf(r.drawn);
      if (j >= 0) {
        ax.marker(j, Math.max(r.bars[r.drawn], r.final[r.drawn]) + 0.02, { shape: "triangle", fill: c.drawn, stroke: c.drawn, size: 7 });
      }
      const bottom = ax.box.top + ax.box.height;
      ticks.forEach((t, k) => {
        const px = ax.X(k);
        if (across) fig.text(px, bottom + 6 + size, t, { anchor: "middle", size });
        else fig.text(px + size * 0.35, bottom + 6, t, { anchor: "end", size, rotate: -90 });
      });
      fig.text(ax.box.left + ax.box.width / 2, fig.height - 8, "token (most likely first)", { anchor: "middle" });
      // plots.plot_sampling's legend, in matplotlib's order: lines and markers, then the bars
      const items = [{ label: "final (renormalised)", colour: c.final }];
      if (boundary) items.push({ label: `boundary: ${fmt.plural(numKept, "token")} kept`, colour: c.boundary, dash: "7 4" });
      if (j >= 0) items.push({ label: "drawn", colour: c.drawn, shape: "triangle" });
      items.push({ label: "after temperature", colour: c.bar, shape: "patch", opacity: 1 });
      ax.legend(items, "upper right");
    },

    readout(spec, v, r) {
      const how = r.greedy ? "greedy (temperature < 1e-5): always the most likely token"
        : `temperature ${fmt.g(v.temperature)} then top-k ${v.top_k || "off"} then top-p ${fmt.g(v.top_p)}`;
      return [
        `Rule: ${how}`,
        `Kept ${fmt.count(r.kept.length)} of ${fmt.count(r.vocab)} tokens; the sampler draws only among them`,
        `Drawn with seed ${v.seed}: ${spec.reprs[r.drawn]} (probability ${fmt.fixed(r.final[r.drawn], 3)})`,
      ];
    },

    alt(spec, v) {
      const after = v.prompt ? ` after the prompt “${v.prompt.slice(0, 60)}”` : "";
      return `Bar chart: probability (y) of the ${spec.top_n} most likely next tokens (x, most likely ` +
        `first)${after} at temperature ${fmt.g(v.temperature)}, top-k ${v.top_k || "off"}, top-p ` +
        `${fmt.g(v.top_p)}. Coloured bars are the tokens the sampler may still draw, grey bars the ` +
        `ones the filters removed; black dashes mark the renormalised probabilities, a ` +
        `dashed line the boundary, and a triangle the token one seeded draw picks.`;
    },
  };

  MV.register("sampling", explorer);
  if (inNode) module.exports = explorer;
})(typeof self !== "undefined" ? self : this);
