/* FLOP of one token, by part (section 0.7): roofline.flops_per_token_breakdown for a model and
 * a context length. The spec holds each model's parts with no context and what one more token
 * of context adds (the attention scores, linearly), so every part is an exact integer here.
 * Mirrors the notebook's flop_split (bars and readout); tests/test_site_flop_split.py checks it.
 */
(function (root) {
  "use strict";
  const inNode = typeof module === "object" && module.exports;
  const MV = inNode ? require("./mv_core.js") : root.MV;
  const { fmt } = MV;

  const explorer = {
    controls: (spec) => MV.siteControls(spec, { context_len: "tokens" }),

    compute(spec, v) {
      const row = spec.models[v.model];
      const parts = Object.fromEntries(Object.keys(row.base).map(
        (k) => [k, row.base[k] + row.per_token[k] * v.context_len]));
      const total = Object.values(parts).reduce((a, b) => a + b, 0);
      return { parts, total };
    },

    draw(fig, spec, v, r) {
      const names = Object.keys(r.parts);
      const gflop = names.map((k) => r.parts[k] / 1e9);
      const top = fig.title([`${v.model}, ${fmt.count(v.context_len)} tokens of context`]);
      const longest = Math.max(...names.map((n) => n.length));
      const left = Math.min(fig.width * 0.34, 12 + fig.textWidth("x".repeat(longest)));
      const labelSize = Math.min(fig.font, (left - 10) / (0.58 * longest));  // part names fit
      const ax = fig.axes({ left, top, width: fig.width - left - 18, height: fig.height - top - 50 },
        { min: 0, max: 1.15 * Math.max(...gflop), label: "GFLOP per token" },
        { min: 0, max: names.length, ticks: [] });
      const band = ax.box.height / names.length;
      names.forEach((name, i) => {  // the first part at the top, as the notebook's chart
        const y0 = ax.box.top + band * (i + 0.1), h = band * 0.8;
        MV.el("rect", { x: ax.X(0), y: y0, width: ax.X(gflop[i]) - ax.X(0), height: h, fill: spec.colour }, ax.data);
        fig.text(ax.box.left - 6, y0 + h / 2 + labelSize * 0.35, name, { anchor: "end", size: labelSize, parent: ax.g });
        const share = `${fmt.fixed(100 * r.parts[name] / r.total, 0)}%`;
        const px = Math.min(ax.X(gflop[i]) + 4, fig.width - fig.textWidth(share) - 2);
        fig.text(px, y0 + h / 2 + fig.font * 0.35, share, { parent: ax.over });
      });
    },

    readout(spec, v, r) {
      return [`${v.model}, ${fmt.count(v.context_len)} tokens of context: ${fmt.si(r.total, "FLOP")} per token`,
        ...Object.entries(r.parts).map(([name, f]) =>
          `${name}: ${fmt.si(f, "FLOP")} (${fmt.fixed(100 * f / r.total, 1)}%)`)];
    },

    alt(spec, v, r) {
      const shares = Object.entries(r.parts).map(([name, f]) => `${name} ${fmt.fixed(100 * f / r.total, 0)}%`);
      return `Horizontal bar chart: GFLOP per token (x) of each part of ${v.model} (y) with ` +
        `${fmt.count(v.context_len)} tokens of context, each bar labelled with its share: ${shares.join(", ")}.`;
    },
  };

  MV.register("flop_split", explorer);
  if (inNode) module.exports = explorer;
})(typeof self !== "undefined" ? self : this);
