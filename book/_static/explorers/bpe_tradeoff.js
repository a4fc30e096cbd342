/* BPE: vocabulary size against sequence length (section 0.3), after 0..N merges. The spec holds
 * the token counts of each text after every number of merges, as the notebook's BPE computed
 * them; the page draws plots.plot_bpe_tradeoff with its marker at the slider's value.
 */
(function (root) {
  "use strict";
  const inNode = typeof module === "object" && module.exports;
  const MV = inNode ? require("./mv_core.js") : root.MV;
  const { fmt } = MV;

  const explorer = {
    controls: (spec) => MV.siteControls(spec),

    compute(spec, v) {
      const at = v.num_merges;
      if (!(Number.isInteger(at) && at >= 0 && at < spec.vocab_sizes.length)) {
        throw new MV.UserError(`num_merges must be an integer in 0..${spec.vocab_sizes.length - 1}; got ${at}`);
      }
      const series = spec.series.map((s) => ({
        label: s.label, count: s.lengths[at], relative: s.lengths.map((n) => n / s.lengths[0]) }));
      return { at, vocab: spec.vocab_sizes[at], series };
    },

    draw(fig, spec, v, r) {
      const counts = r.series.map((s) => `${s.label} ${fmt.count(s.count)}`).join(", ");
      const top = fig.title([`BPE: ${fmt.plural(r.at, "merge")}, vocabulary ${fmt.count(r.vocab)} tokens`,
        `length in tokens: ${counts}`]);
      const sizes = spec.vocab_sizes, left = fig.narrow ? 50 : 62;
      const ax = fig.axes({ left, top, width: fig.width - left - 16, height: fig.height - top - 50 },
        { min: sizes[0], max: sizes[sizes.length - 1], label: "vocabulary size (tokens)" },
        { min: 0, max: 1.05, label: "sequence length (tokens per byte)" });
      r.series.forEach((s, i) => {
        const colour = spec.colours[i % spec.colours.length];
        ax.line(sizes, s.relative, { stroke: colour, width: 2.5 });
        ax.marker(r.vocab, s.relative[r.at], { fill: colour, size: 5.5 });
      });
      ax.legend(r.series.map((s, i) => ({ label: s.label, colour: spec.colours[i % spec.colours.length] })), "upper right");
    },

    /** The notebook's readout: "tokens per byte: <text> 0.53, ..." ({n / n0:.2f}). */
    readout: (spec, v, r) => ["tokens per byte: " + r.series.map(
      (s) => `${s.label} ${fmt.fixed(s.relative[r.at], 2)}`).join(", ")],

    alt(spec, v, r) {
      return `Line chart: sequence length in tokens per byte (y, 1.0 is one token per byte) against ` +
        `vocabulary size in tokens (x) as BPE merges are added, one line per text ` +
        `(${r.series.map((s) => s.label).join(", ")}); dots mark ${fmt.plural(r.at, "merge")}, a ` +
        `vocabulary of ${fmt.count(r.vocab)}, where the texts take ` +
        `${r.series.map((s) => `${fmt.fixed(s.relative[r.at], 2)} tokens per byte`).join(" and ")}.`;
    },
  };

  MV.register("bpe_tradeoff", explorer);
  if (inNode) module.exports = explorer;
})(typeof self !== "undefined" ? self : this);
