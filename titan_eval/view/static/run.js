// Run page: the results table as `titan-eval run` prints it, think statistics, telemetry plots, provenance.
"use strict";

TV.table = function (columns, rows, attrs) {
  return TV.h("table", Object.assign({ class: "grid" }, attrs || {}),
    TV.h("thead", {}, TV.h("tr", {}, columns.map((c) => TV.h("th", {}, c)))),
    TV.h("tbody", {}, rows.map((row) => TV.h("tr", {}, columns.map((c) => TV.h("td", { "data-col": c }, row[c]))))));
};

TV.thinkBlock = function (entry) {
  const s = entry.stats;
  const pct = (x) => (100 * (x || 0)).toFixed(1) + "%";
  const hist = s.think_length_histogram;
  return TV.h("div", { class: "card", "data-testid": "think-stats", "data-key": entry.key },
    TV.h("h3", {}, entry.key, TV.h("span", { class: "muted" }, ` — ${s.n} traces, budget ${entry.budget}`)),
    TV.shareBar("closed by the model", s.termination_rate, pct(s.termination_rate)),
    TV.shareBar("forced close (budget)", s.forced_close_count / s.n, `${s.forced_close_count} (${pct(s.forced_close_count / s.n)})`),
    TV.shareBar("ended by EOS", s.eos_rate, pct(s.eos_rate)),
    TV.shareBar("attractor lock", s.attractor_lock_rate, pct(s.attractor_lock_rate)),
    TV.h("p", { class: "small muted" }, `length median ${s.median_think_length}, mean ${TV.num(s.mean_think_length, 1)}`,
      s.mean_p_close === null || s.mean_p_close === undefined ? "" : `, mean P(closer) ${TV.num(s.mean_p_close)}`,
      s.attractor_rule ? `; lock = tail of one pattern of period ≤ ${s.attractor_rule.max_period} repeated ≥ ${s.attractor_rule.min_repeats} times` : ""),
    hist ? TV.histogram(hist.counts, hist.edges, `${entry.key}: think length histogram`) : null);
};

TV.runPage = function (app, doc) {
  const r = doc.row;
  const te = (doc.raw && doc.raw.titan_eval) || {};
  const runJson = TV.fileUrl(r.id, "run.json"), samplesJson = TV.fileUrl(r.id, "samples.jsonl");
  TV.append(app, [
    TV.h("h1", {}, r.run_id, " ", TV.h("span", { class: "status status-" + String(r.status).split(" ")[0] }, r.status)),
    TV.h("p", { class: "muted" }, `${r.card} · seed ${r.seed} · ${r.date} · git ${r.git || "—"}`,
      r.checkpoint ? ` · checkpoint ${r.checkpoint}` : ""),
    r.error ? TV.h("p", { class: "error" }, "error: ", String(r.error)) : null,
    TV.h("p", {}, TV.h("a", { href: TV.href("samples", [r.id]), "data-testid": "to-samples" }, `Samples (${doc.lines} lines)`),
      doc.skipped_lines ? TV.h("span", { class: "muted" }, ` — ${doc.skipped_lines} unreadable line(s) skipped`) : "",
      runJson ? [" · ", TV.h("a", { href: runJson }, "run.json")] : "", samplesJson ? [" · ", TV.h("a", { href: samplesJson }, "samples.jsonl")] : ""),
    TV.section("Results", doc.table.rows.length
      ? TV.table(doc.table.columns, doc.table.rows, { "data-testid": "results-table" })
      : TV.h("p", { class: "muted" }, "(no results)"),
      TV.h("details", {}, TV.h("summary", {}, "as printed by titan-eval run"), TV.h("pre", { class: "printed" }, doc.printed))),
    doc.think.length ? TV.section("Think statistics", TV.h("div", { class: "cards" }, doc.think.map(TV.thinkBlock))) : null,
    doc.plots.length ? TV.section("Telemetry plots", TV.h("div", { class: "plots" }, doc.plots.map((name) => {
      const url = TV.fileUrl(r.id, name);
      return url ? TV.h("figure", {}, TV.h("img", { src: url, alt: name }), TV.h("figcaption", {}, name)) : null;
    }))) : null,
    TV.section("Provenance", TV.h("p", { class: "muted small" }, "everything run.json records"),
      ["options", "model", "seeds", "environment", "timings", "tasks", "scoring", "distributed", "telemetry"]
        .filter((k) => te[k] !== undefined).map((k) => TV.tree(te[k], k, false)),
      TV.tree(doc.raw, "run.json", false)),
  ]);
};
