/* A readout-only explorer by lookup: mini_vllm.widgets.lookup_site ran the widget's own render
 * for every setting of its controls when the book was built; the page shows the readout of the
 * setting the reader picks. Exact by construction (tests/test_site_lookup.py).
 */
(function (root) {
  "use strict";
  const inNode = typeof module === "object" && module.exports;
  const MV = inNode ? require("./mv_core.js") : root.MV;

  const explorer = {
    controls: (spec) => MV.siteControls(spec),

    compute(spec, v) {
      const lines = spec.readouts[MV.lookupKey(spec.controls.map((c) => v[c.name]))];
      if (!lines) throw new Error(`no readout exported for ${MV.lookupKey(spec.controls.map((c) => v[c.name]))}`);  // a bug
      return { lines };
    },

    readout: (spec, v, r) => r.lines,  // no draw(): the readout is the figure
  };

  MV.register("lookup", explorer);
  if (inNode) module.exports = explorer;
})(typeof self !== "undefined" ? self : this);
