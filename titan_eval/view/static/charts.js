// Small SVG charts: a histogram from run.json's think-length histogram and a horizontal bar for a share.
"use strict";

// counts [k], edges [k+1] → an SVG bar chart with the edges on the x axis.
TV.histogram = function (counts, edges, title) {
  const W = 360, H = 150, pad = 26, n = counts.length, max = Math.max(1, ...counts);
  const bw = (W - 2 * pad) / Math.max(1, n);
  const g = TV.svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
    "aria-label": title });
  g.appendChild(TV.svg("title", {}, title));
  counts.forEach((c, i) => {
    const bh = (H - 2 * pad) * c / max;
    g.appendChild(TV.svg("rect", { x: pad + i * bw + 1, y: H - pad - bh, width: Math.max(1, bw - 2), height: bh,
      class: "bar" }, TV.svg("title", {}, `${edges[i]}–${edges[i + 1]}: ${c}`)));
    if (c > 0) g.appendChild(TV.svg("text", { x: pad + i * bw + bw / 2, y: H - pad - bh - 3, "text-anchor": "middle",
      class: "tick" }, String(c)));
  });
  [0, Math.floor(n / 2), n].forEach((i) => g.appendChild(TV.svg("text", { x: pad + i * bw, y: H - pad + 14,
    "text-anchor": "middle", class: "tick" }, String(Math.round(edges[i])))));
  g.appendChild(TV.svg("line", { x1: pad, y1: H - pad, x2: W - pad, y2: H - pad, class: "axis" }));
  return g;
};

// A share in [0, 1] as a labelled bar.
TV.shareBar = function (label, share, text) {
  const pct = Math.max(0, Math.min(1, share || 0)) * 100;
  return TV.h("div", { class: "share" }, TV.h("span", { class: "share-label" }, label),
    TV.h("span", { class: "share-track" }, TV.h("span", { class: "share-fill", style: { width: `${pct.toFixed(1)}%` } })),
    TV.h("span", { class: "share-text" }, text));
};

// value within [lo, hi] as a bar (log-likelihoods: all ≤ 0; the least likely choice gets a sliver).
TV.valueBar = function (value, lo, hi, cls) {
  const span = hi - lo || 1;
  const pct = value === null ? 0 : 8 + 92 * (value - lo) / span;
  return TV.h("span", { class: "vbar-track" }, TV.h("span", { class: "vbar " + (cls || ""), style: { width: `${pct.toFixed(1)}%` } }));
};
