// Samples page: one row per document; filters (task, correct/wrong, forced close, attractor lock, invalid),
// full-text search, sort by any column, 100 rows a page. The filter state lives in the URL (deep links).
"use strict";

TV.PAGE_SIZE = 100;

TV.samplesPage = function (app, doc, route) {
  const id = doc.id, all = doc.rows, q = route.query;
  const state = { key: q.get("key") || "", correct: q.get("correct") || "", forced: q.get("forced") === "1",
    locked: q.get("locked") === "1", invalid: q.get("invalid") === "1", q: q.get("q") || "",
    sort: q.get("sort") || "", desc: q.get("desc") === "1", page: parseInt(q.get("page") || "0", 10) || 0 };
  const columns = [["key", "task"], ["doc", "id"], ["prompt", "prompt"], ["gold", "gold"], ["pred", "prediction"],
    ["correct", "correct"], ["lls", "log-likelihood"], ["think", "think"], ["stop", "stop"], ["flags", "flags"]];
  const sortValue = {
    lls: (r) => r.lls.length ? Math.max(...r.lls.filter((x) => typeof x === "number")) : -Infinity,
    flags: (r) => (r.forced ? 4 : 0) + (r.locked ? 2 : 0) + (r.invalid ? 1 : 0),
    correct: (r) => r.correct === null ? -1 : r.correct,
    think: (r) => r.think === null ? -1 : r.think,
  };
  let lowered = null;  // lower-cased search text, made on the first search
  let shown = all;

  const body = TV.h("tbody", {});
  const count = TV.h("span", { class: "count", "data-testid": "samples-count" });
  const pager = TV.h("span", { class: "pager" });
  const head = TV.h("tr", {}, columns.map(([key, title]) => TV.h("th", { class: "sortable", "data-col": key,
    onclick: () => { state.desc = state.sort === key ? !state.desc : false; state.sort = key; state.page = 0; apply(); } }, title)));

  const keySelect = TV.h("select", { "data-testid": "filter-key", onchange: (e) => { state.key = e.target.value; state.page = 0; apply(); } },
    TV.h("option", { value: "" }, "all tasks"), doc.keys.map((k) => TV.h("option", { value: k, selected: k === state.key || null }, k)));
  const correctSelect = TV.h("select", { "data-testid": "filter-correct", onchange: (e) => { state.correct = e.target.value; state.page = 0; apply(); } },
    [["", "right and wrong"], ["right", "right answers"], ["wrong", "wrong answers"]].map(([v, t]) =>
      TV.h("option", { value: v, selected: v === state.correct || null }, t)));
  const box = (name, label) => TV.h("label", { class: "check" }, TV.h("input", { type: "checkbox", "data-testid": "filter-" + name,
    checked: state[name] || null, onchange: (e) => { state[name] = e.target.checked; state.page = 0; apply(); } }), " " + label);
  const search = TV.h("input", { type: "search", placeholder: "search prompts, choices, traces", value: state.q,
    "data-testid": "search", oninput: (e) => { state.q = e.target.value; state.page = 0; apply(); } });

  function matches(r, i, needle) {
    if (state.key && r.key !== state.key) return false;
    if (state.correct === "right" && r.correct !== 1) return false;
    if (state.correct === "wrong" && r.correct !== 0) return false;
    if (state.forced && !r.forced) return false;
    if (state.locked && !r.locked) return false;
    if (state.invalid && !r.invalid) return false;
    if (needle && !lowered[i].includes(needle)) return false;
    return true;
  }

  function apply() {
    const needle = state.q.trim().toLowerCase();
    if (needle && lowered === null) lowered = all.map((r) => r.text.toLowerCase());
    const idx = [];
    for (let i = 0; i < all.length; i++) if (matches(all[i], i, needle)) idx.push(i);
    shown = idx.map((i) => all[i]);
    if (state.sort) {
      const f = sortValue[state.sort] || ((r) => r[state.sort]);
      const keyed = shown.map((r) => [f(r), r]);
      keyed.sort((a, b) => {
        const x = a[0], y = b[0];
        const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
        return state.desc ? -c : c;
      });
      shown = keyed.map((p) => p[1]);
    }
    const pages = Math.max(1, Math.ceil(shown.length / TV.PAGE_SIZE));
    state.page = Math.min(state.page, pages - 1);
    renderPage(pages);
    const url = TV.href("samples", [id], { key: state.key, correct: state.correct, forced: state.forced ? 1 : "",
      locked: state.locked ? 1 : "", invalid: state.invalid ? 1 : "", q: state.q, sort: state.sort,
      desc: state.desc ? 1 : "", page: state.page || "" });
    history.replaceState(null, "", url);
  }

  function cell(r, key) {
    if (key === "doc") return TV.h("a", { href: TV.href("sample", [id, r.key, r.doc]) }, String(r.doc));
    if (key === "correct") return r.correct === null ? "—" : TV.h("span", { class: r.correct === 1 ? "ok" : "bad" },
      r.correct === 1 ? "✓" : "✗");
    if (key === "lls") return r.lls.map((x) => TV.num(x, 2)).join("  ");
    if (key === "think") return r.think === null ? "" : String(r.think);
    if (key === "flags") return [r.forced ? TV.h("span", { class: "badge forced" }, "forced") : null,
      r.locked ? TV.h("span", { class: "badge locked" }, "lock") : null,
      r.invalid ? TV.h("span", { class: "badge invalid" }, "invalid") : null];
    const v = r[key];
    return v === null || v === undefined ? "" : String(v);
  }

  function renderPage(pages) {
    const start = state.page * TV.PAGE_SIZE;
    const frag = document.createDocumentFragment();
    for (const r of shown.slice(start, start + TV.PAGE_SIZE)) {
      frag.appendChild(TV.h("tr", { "data-key": r.key, "data-doc": String(r.doc) },
        columns.map(([key]) => TV.h("td", { class: "c-" + key }, cell(r, key)))));
    }
    TV.clear(body).appendChild(frag);
    count.textContent = `${shown.length} of ${all.length} samples`;
    count.dataset.n = String(shown.length);
    TV.clear(pager);
    const go = (p) => () => { state.page = p; apply(); };
    TV.append(pager, [TV.h("button", { type: "button", disabled: state.page === 0 || null, onclick: go(state.page - 1) }, "‹ prev"),
      ` page ${state.page + 1} of ${pages} `,
      TV.h("button", { type: "button", disabled: state.page >= pages - 1 || null, onclick: go(state.page + 1) }, "next ›")]);
    for (const th of head.querySelectorAll("th[data-col]")) {
      th.classList.toggle("sorted", th.dataset.col === state.sort);
      th.classList.toggle("desc", th.dataset.col === state.sort && state.desc);
    }
  }

  TV.append(app, [
    TV.h("h1", {}, "Samples ", TV.h("a", { class: "small", href: TV.href("run", [id]) }, id)),
    doc.skipped_lines ? TV.h("p", { class: "muted" }, `${doc.skipped_lines} unreadable line(s) skipped (a running run's last line?)`) : null,
    TV.h("div", { class: "controls" }, keySelect, correctSelect, box("forced", "forced close"), box("locked", "attractor lock"),
      box("invalid", "invalid"), search),
    TV.h("div", { class: "controls" }, count, pager),
    TV.h("table", { class: "grid samples", "data-testid": "samples-table" }, TV.h("thead", {}, head), body),
  ]);
  apply();
  TV.timings.samplesFirstRows = performance.now();  // ms since navigation start (benchmarks/view_samples.py)
};
