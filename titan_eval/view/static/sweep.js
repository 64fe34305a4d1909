// Sweep page: each metric against the training step with its 95% CI band (the numbers `titan-eval sweep` prints);
// a point opens its step's run, two ticked steps open their comparison; the paired changes, real ones marked.
"use strict";

// One metric's trend as an SVG: line through the values, the CI as a band, each point a link to its run.
TV.trendChart = function (series) {
  const W = 460, H = 230, L = 56, R = 16, T = 14, B = 34;
  const pts = series.points.filter((p) => typeof p.value === "number");
  const ys = pts.flatMap((p) => [p.value, p.ci_low, p.ci_high]).filter((y) => typeof y === "number");
  const xs = pts.map((p) => p.step);
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (!(y1 > y0)) { y0 -= 0.5; y1 += 0.5; }
  const pad = (y1 - y0) * 0.08; y0 -= pad; y1 += pad;
  const [x0, x1] = xs.length > 1 ? [Math.min(...xs), Math.max(...xs)] : [xs[0] - 1, xs[0] + 1];
  const X = (x) => L + (W - L - R) * (x - x0) / (x1 - x0), Y = (y) => T + (H - T - B) * (1 - (y - y0) / (y1 - y0));
  const title = `${series.key} ${series.metric} against the step`;
  const g = TV.svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "chart trend", role: "img",
    "aria-label": title, "data-testid": "trend-chart", "data-key": series.key, "data-metric": series.metric });
  g.appendChild(TV.svg("title", {}, title));
  const banded = pts.filter((p) => typeof p.ci_low === "number" && typeof p.ci_high === "number");
  if (banded.length) {
    const d = banded.map((p, i) => `${i ? "L" : "M"}${X(p.step).toFixed(1)},${Y(p.ci_high).toFixed(1)}`).join(" ")
      + " " + banded.slice().reverse().map((p) => `L${X(p.step).toFixed(1)},${Y(p.ci_low).toFixed(1)}`).join(" ") + " Z";
    g.appendChild(TV.svg("path", { d, class: "band", "data-testid": "ci-band" }));
  }
  g.appendChild(TV.svg("path", { d: pts.map((p, i) => `${i ? "L" : "M"}${X(p.step).toFixed(1)},${Y(p.value).toFixed(1)}`).join(" "),
    class: "trend-line" }));
  g.appendChild(TV.svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }));
  g.appendChild(TV.svg("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }));
  [y0 + pad, (y0 + y1) / 2, y1 - pad].forEach((y) => g.appendChild(TV.svg("text", { x: L - 4, y: Y(y) + 3,
    "text-anchor": "end", class: "tick" }, y.toFixed(3))));
  for (const p of pts) {
    const ci = banded.includes(p) ? ` [${TV.num(p.ci_low)}, ${TV.num(p.ci_high)}]` : "";
    const dot = TV.svg("circle", { cx: X(p.step), cy: Y(p.value), r: 5, class: "point" },
      TV.svg("title", {}, `step ${p.step}: ${TV.num(p.value)}${ci} (n ${p.n})`));
    g.appendChild(p.run_id ? TV.svg("a", { href: TV.href("run", [p.run_id]), "data-testid": "trend-point",
      "data-step": p.step }, dot) : dot);
    g.appendChild(TV.svg("text", { x: X(p.step), y: H - B + 14, "text-anchor": "middle", class: "tick" }, String(p.step)));
  }
  g.appendChild(TV.svg("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle", class: "tick" }, "training step"));
  return g;
};

TV.sweepPage = function (app, s) {
  const picked = [];
  const compareBtn = TV.h("button", { type: "button", disabled: true, "data-testid": "compare-steps",
    onclick: () => {
      const ids = s.steps.filter((st) => picked.includes(st.step)).map((st) => st.run_id);
      location.hash = TV.href("compare", [ids]);
    } }, "Compare ticked steps");
  const stepRows = s.steps.map((st) => TV.h("tr", { "data-step": st.step },
    TV.h("td", {}, st.run_id && st.status === "complete" ? TV.h("input", { type: "checkbox", "data-testid": "pick-step",
      onchange: (e) => {
        const i = picked.indexOf(st.step);
        if (e.target.checked && i < 0) picked.push(st.step);
        if (!e.target.checked && i >= 0) picked.splice(i, 1);
        compareBtn.disabled = picked.length < 2;
      } }) : ""),
    TV.h("td", {}, st.run_id ? TV.h("a", { href: TV.href("run", [st.run_id]) }, String(st.step)) : String(st.step)),
    TV.h("td", {}, TV.h("span", { class: "status status-" + st.status, title: st.error || "" }, st.status)),
    TV.h("td", { class: "mono small" }, st.checkpoint)));
  const changeCols = ["from", "to", "against", "task", "metric", "Δ", "95% CI", "p_holm", "change"];
  const changeRows = s.changes.map((c) => TV.h("tr", { class: c.real ? (c.better ? "real gain" : "real loss") : "noise",
    "data-testid": "change", "data-real": String(c.real) },
    [c.from_step, c.to_step, c.kind, c.key, c.metric, (c.delta >= 0 ? "+" : "") + TV.num(c.delta),
      `[${TV.num(c.ci_low)}, ${TV.num(c.ci_high)}]`, TV.num(c.p_holm, 3),
      c.real ? (c.better ? "real gain ▲" : "real loss ▼") : "noise"].map((x) => TV.h("td", {}, String(x)))));
  TV.append(app, [
    TV.h("h1", {}, "Sweep ", TV.h("span", { class: "mono" }, s.id)),
    TV.h("p", { class: "muted" }, `${s.card} · ${s.tasks.join(", ")} · ${s.steps.length} steps` +
      (s.reference !== undefined && s.reference !== null ? ` · reference step ${s.reference}` : "")),
    TV.section("Trend", s.series.length ? TV.h("div", { class: "plots" }, s.series.map((series) =>
      TV.h("figure", { class: "card" }, TV.trendChart(series),
        TV.h("figcaption", { class: "small" }, `${series.key} ${series.metric}`, TV.h("span", { class: "muted" },
          series.higher_is_better ? " (higher is better)" : " (lower is better)")))))
      : TV.h("p", { class: "muted" }, "no complete step yet")),
    TV.section("Steps", TV.h("div", { class: "controls" }, compareBtn),
      TV.h("table", { class: "grid", "data-testid": "steps-table" },
        TV.h("thead", {}, TV.h("tr", {}, ["", "step", "status", "checkpoint"].map((c) => TV.h("th", {}, c)))),
        TV.h("tbody", {}, stepRows))),
    TV.section("Changes", TV.h("table", { class: "grid changes", "data-testid": "changes-table" },
      TV.h("thead", {}, TV.h("tr", {}, changeCols.map((c) => TV.h("th", {}, c)))), TV.h("tbody", {}, changeRows)),
    TV.h("details", {}, TV.h("summary", {}, "as `titan-eval sweep` prints it"),
      TV.h("pre", { class: "printed", "data-testid": "sweep-table" }, s.table)))]);
};

// The runs page's list of sweeps (shown above the runs when there are any).
TV.sweepList = function (sweeps) {
  if (!sweeps || !sweeps.length) return null;
  return TV.section("Sweeps", TV.h("ul", { "data-testid": "sweeps" }, sweeps.map((s) => TV.h("li", {},
    s.status === "unreadable" ? [TV.h("span", { class: "mono" }, s.id), " ", TV.h("span", { class: "error" }, s.error)]
      : [TV.h("a", { href: TV.href("sweep", [s.id]), "data-testid": "sweep-link" }, s.id),
        TV.h("span", { class: "muted" }, ` · ${s.card} · ${s.tasks.join(", ")} · ${s.complete} of ${s.steps.length} steps complete`)]))));
};
