// Runs page: one row per run found, sortable (click a header) and filterable (text); pick runs to compare.
"use strict";

TV.runsPage = function (app, runs, route) {
  const columns = [
    ["run_id", "run"], ["card", "card"], ["checkpoint", "checkpoint"], ["tasks", "tasks"], ["modes", "modes"],
    ["seed", "seed"], ["date", "date"], ["status", "status"], ["git", "git"], ["headline", "headline (95% CI)"],
  ];
  const state = { sort: route.query.get("sort") || "date", desc: route.query.get("desc") !== "0",
    q: route.query.get("q") || "", picked: [] };
  const text = (r, key) => key === "headline" ? (r.headline || []).map((m) => m.value).join(" ")
    : Array.isArray(r[key]) ? r[key].join(",") : String(r[key] === null || r[key] === undefined ? "" : r[key]);
  const body = TV.h("tbody", {});
  const count = TV.h("span", { class: "muted", "data-testid": "runs-count" });
  const compareBtn = TV.h("button", { type: "button", disabled: true, "data-testid": "compare-selected",
    onclick: () => { location.hash = TV.href("compare", [state.picked]); } }, "Compare selected");
  const head = TV.h("tr", {}, TV.h("th", {}, ""), columns.map(([key, title]) => TV.h("th", {
    class: "sortable", "data-col": key, onclick: () => {
      state.desc = state.sort === key ? !state.desc : false; state.sort = key; render();
    } }, title)));
  const filter = TV.h("input", { type: "search", placeholder: "filter runs", value: state.q, "data-testid": "runs-filter",
    oninput: (e) => { state.q = e.target.value; render(); } });

  function render() {
    const q = state.q.toLowerCase();
    let rows = runs.filter((r) => !q || columns.some(([k]) => text(r, k).toLowerCase().includes(q)));
    rows = rows.slice().sort((a, b) => {
      const x = text(a, state.sort), y = text(b, state.sort);
      const nx = parseFloat(x), ny = parseFloat(y);
      const c = !isNaN(nx) && !isNaN(ny) && String(nx) === x && String(ny) === y ? nx - ny : x.localeCompare(y);
      return state.desc ? -c : c;
    });
    TV.clear(body);
    for (const r of rows) {
      const statusClass = "status status-" + String(r.status).split(" ")[0];
      body.appendChild(TV.h("tr", { "data-run": r.id },
        TV.h("td", {}, TV.h("input", { type: "checkbox", "data-testid": "pick", checked: state.picked.includes(r.id) || null,
          onchange: (e) => {
            state.picked = e.target.checked ? [...state.picked, r.id] : state.picked.filter((x) => x !== r.id);
            compareBtn.disabled = state.picked.length < 2;
          } })),
        TV.h("td", {}, TV.h("a", { href: TV.href("run", [r.id]) }, r.run_id), TV.h("div", { class: "muted small" }, r.id)),
        TV.h("td", {}, r.card), TV.h("td", { class: "mono" }, r.checkpoint || "—"),
        TV.h("td", {}, (r.tasks || []).join(", ")), TV.h("td", {}, (r.modes || []).join(", ")),
        TV.h("td", {}, r.seed === undefined || r.seed === null ? "" : String(r.seed)), TV.h("td", { class: "small" }, r.date),
        TV.h("td", {}, TV.h("span", { class: statusClass, title: r.error || "" }, r.status)),
        TV.h("td", { class: "mono" }, r.git || ""),
        TV.h("td", {}, (r.headline || []).map((m) => TV.h("div", { class: "headline", "data-key": m.key, "data-metric": m.metric },
          TV.h("span", { class: "muted" }, `${m.key} ${m.metric} `), TV.h("b", { class: "value" }, m.value), " ",
          TV.h("span", { class: "muted ci" }, m.ci95))))));
    }
    count.textContent = `${rows.length} of ${runs.length} runs`;
    for (const th of head.querySelectorAll("th[data-col]")) {
      th.classList.toggle("sorted", th.dataset.col === state.sort);
      th.classList.toggle("desc", th.dataset.col === state.sort && state.desc);
    }
  }
  render();
  TV.append(app, [TV.h("h1", {}, "Runs"), TV.h("div", { class: "controls" }, filter, count, compareBtn),
    TV.h("table", { class: "grid", "data-testid": "runs-table" }, TV.h("thead", {}, head), body)]);
};
