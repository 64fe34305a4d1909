// Sample page: the prompt, every choice with its log-likelihood and normalised log-likelihood as bars (gold and
// prediction marked), the think trace(s) with opener / closer / forced close shown, the answer cue, and every
// field of the line. Also the other lm-eval line types (requests, rolling, generation + filters). `pair` pages
// put two runs' views of one document side by side.
"use strict";

TV.visible = function (text) {  // whitespace-only markers (a cue of "\n") shown as their escapes
  return /^\s*$/.test(text) ? JSON.stringify(text).slice(1, -1) || "∅" : text;
};

TV.choicesBlock = function (choices) {
  const lls = choices.map((c) => c.ll).filter((x) => x !== null);
  const norms = choices.map((c) => c.norm).filter((x) => x !== null);
  const lo = Math.min(...lls), hi = Math.max(...lls), nlo = Math.min(...norms), nhi = Math.max(...norms);
  return TV.h("table", { class: "grid choices", "data-testid": "choices" },
    TV.h("thead", {}, TV.h("tr", {}, ["", "choice", "log-likelihood", "normalised (per character)", "tokens"].map((t) => TV.h("th", {}, t)))),
    TV.h("tbody", {}, choices.map((c) => TV.h("tr", { class: (c.gold ? "gold " : "") + (c.pred ? "pred" : ""), "data-choice": c.index },
      TV.h("td", {}, c.label, c.gold ? TV.h("span", { class: "badge gold-badge" }, "gold") : null,
        c.pred ? TV.h("span", { class: "badge pred-badge" }, "pred") : null,
        c.pred_norm ? TV.h("span", { class: "badge norm-badge" }, "pred norm") : null),
      TV.h("td", { class: "choice-text" }, c.text),
      TV.h("td", {}, TV.valueBar(c.ll, lo, hi, c.gold ? "gold" : "plain"), " ", TV.num(c.ll, 3)),
      TV.h("td", {}, TV.valueBar(c.norm, nlo, nhi, c.gold ? "gold" : "plain"), " ", TV.num(c.norm, 4)),
      TV.h("td", {}, c.n_tokens === null ? "" : String(c.n_tokens))))));
};

TV.traceBlock = function (trace, i, n) {
  const labels = { opener: "opener", closer: "closer", "forced-closer": "forced close", eos: "EOS", cue: "answer cue" };
  return TV.h("div", { class: "trace", "data-testid": "trace" },
    TV.h("h3", {}, n > 1 ? `Trace ${i + 1} of ${n}` : "Think trace", " ",
      TV.h("span", { class: "badge " + (trace.stop_reason === "forced" ? "forced" : "") }, String(trace.stop_reason)),
      trace.locked ? TV.h("span", { class: "badge locked" }, `attractor lock, period ${trace.locked}`) : null,
      TV.h("span", { class: "muted small" }, ` length ${trace.length}`,
        trace.p_close === null || trace.p_close === undefined ? "" : ` · P(closer) ${TV.num(trace.p_close)}`,
        trace.seed === null || trace.seed === undefined ? "" : ` · seed ${trace.seed}`)),
    TV.h("pre", { class: "trace-text" }, trace.segments.map((s) => labels[s.kind]
      ? TV.h("span", { class: "seg seg-" + s.kind, title: labels[s.kind], "data-seg": s.kind },
        TV.h("span", { class: "seg-label" }, labels[s.kind]), TV.visible(s.text))
      : TV.h("span", { class: "seg seg-" + s.kind, "data-seg": s.kind }, s.text))));
};

TV.kv = function (obj) {
  return TV.h("table", { class: "grid kv" }, TV.h("tbody", {}, Object.entries(obj || {}).map(([k, v]) =>
    TV.h("tr", {}, TV.h("th", {}, k), TV.h("td", {}, typeof v === "string" ? v : JSON.stringify(v))))));
};

TV.sampleView = function (d, compact) {
  const r = d.row;
  const parts = [
    TV.h("p", { class: "summary" }, `${r.key} · doc ${r.doc} · ${r.mode} · `,
      r.correct === null ? "" : TV.h("span", { class: r.correct === 1 ? "ok" : "bad", "data-testid": "correct" },
        r.correct === 1 ? "right" : "wrong", ` (${r.metric})`),
      r.invalid ? TV.h("span", { class: "badge invalid" }, "invalid") : null),
    TV.section("Prompt", TV.h("pre", { class: "prompt", "data-testid": "prompt" }, d.prompt || "")),
  ];
  if (d.choices.length) parts.push(TV.section("Choices", TV.choicesBlock(d.choices)));
  if (d.traces.length) parts.push(TV.section("Think", d.traces.map((t, i) => TV.traceBlock(t, i, d.traces.length)),
    d.format && d.format.answer_cue !== undefined ? TV.h("p", { class: "muted small" }, "answer cue: ",
      TV.h("code", {}, JSON.stringify(d.format.answer_cue)), " · opener ", TV.h("code", {}, JSON.stringify(d.format.think_open)),
      " · closer ", TV.h("code", {}, JSON.stringify(d.format.think_close))) : null));
  if (d.target !== undefined && d.target !== null && d.kind !== "mc") parts.push(TV.section("Target", TV.h("pre", { class: "prompt" },
    typeof d.target === "string" ? d.target : JSON.stringify(d.target))));
  if (d.requests) parts.push(TV.section("Requests", TV.h("table", { class: "grid", "data-testid": "requests" },
    TV.h("thead", {}, TV.h("tr", {}, ["continuation", "log-likelihood", "greedy", "tokens"].map((t) => TV.h("th", {}, t)))),
    TV.h("tbody", {}, d.requests.map((q) => TV.h("tr", {}, TV.h("td", { class: "choice-text" }, q.continuation),
      TV.h("td", {}, TV.num(q.loglikelihood, 4)), TV.h("td", {}, q.is_greedy ? "yes" : "no"), TV.h("td", {}, String(q.n_tokens))))))));
  if (d.rolling) parts.push(TV.section("Rolling log-likelihood", TV.kv(d.rolling)));
  if (d.generation !== undefined && d.generation !== null) parts.push(TV.section("Generation",
    TV.h("p", { class: "muted small" }, `stop: ${d.line.stop_reason === undefined ? "—" : d.line.stop_reason}`,
      d.line.n_tokens === undefined ? "" : ` · ${JSON.stringify(d.line.n_tokens)} tokens`),
    TV.h("pre", { class: "prompt", "data-testid": "generation" }, typeof d.generation === "string" ? d.generation : JSON.stringify(d.generation, null, 1)),
    d.filtered ? [TV.h("h3", {}, "Filtered answers"), TV.kv(d.filtered)] : null));
  if (d.doc_metrics) parts.push(TV.section("Per-document metrics (lm-eval's values)", TV.kv(d.doc_metrics)));
  parts.push(TV.section("Metrics", TV.kv(d.metrics)));
  if (!compact) parts.push(TV.section("Every field of the line", TV.tree(d.line, "line", true)));
  return TV.h("div", { class: "sample" }, parts);
};

TV.samplePage = function (app, d) {
  TV.append(app, [TV.h("h1", {}, `Sample ${d.row.key} / ${d.row.doc} `,
    TV.h("a", { class: "small", href: TV.href("samples", [d.id], { key: d.row.key }) }, "all samples of " + d.id)),
    TV.sampleView(d, false)]);
};

TV.pairPage = function (app, ids, docs, key, doc) {
  TV.append(app, [TV.h("h1", {}, `${key} / ${doc}: side by side`),
    TV.h("div", { class: "pair", "data-testid": "pair" }, docs.map((d, i) => TV.h("div", { class: "pair-col" },
      TV.h("h2", {}, TV.h("a", { href: TV.href("sample", [ids[i], key, doc]) }, ids[i])),
      d ? TV.sampleView(d, true) : TV.h("p", { class: "muted" }, "this run has no such sample"))))]);
};
