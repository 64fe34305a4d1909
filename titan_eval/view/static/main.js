// Router: the hash names the page (source.js); each page fetches its documents and renders into #app.
"use strict";

TV.crumbs = function (route) {
  const nav = TV.clear(document.getElementById("crumbs"));
  const id = route.segments[0] ? TV.decode(route.segments[0]) : null;
  if (route.page === "sweep" && id) TV.append(nav, [" / sweep ", TV.h("a", { href: TV.href("sweep", [id]) }, id)]);
  if (["run", "samples", "sample"].includes(route.page) && id) {
    TV.append(nav, [" / ", TV.h("a", { href: TV.href("run", [id]) }, id)]);
    if (route.page !== "run") TV.append(nav, [" / ", TV.h("a", { href: TV.href("samples", [id]) }, "samples")]);
  }
  if (TV.staticData) TV.append(nav, [TV.h("span", { class: "muted small export-note" }, " (static export)")]);
};

TV.show = function () {
  const route = TV.parseRoute();
  const app = TV.clear(document.getElementById("app"));
  TV.crumbs(route);
  const seg = route.segments.map(TV.decode);
  const fail = (err) => TV.append(TV.clear(app), [TV.h("p", { class: "error", "data-testid": "error" }, String(err.message || err))]);
  const render = (fn) => (doc) => { TV.clear(app); fn(doc); document.body.dataset.page = route.page; };
  document.body.dataset.page = "";
  if (route.page === "run") return TV.get(TV.path("run", seg[0])).then(render((d) => TV.runPage(app, d))).catch(fail);
  if (route.page === "samples") return TV.get(TV.path("samples", seg[0])).then(render((d) => TV.samplesPage(app, d, route))).catch(fail);
  if (route.page === "sample") return TV.get(TV.path("sample", seg[0], seg[1], seg[2])).then(render((d) => TV.samplePage(app, d))).catch(fail);
  if (route.page === "compare" || route.page === "pair") {
    const ids = (route.segments[0] || "").split(",").map(TV.decode);
    if (route.page === "compare") return TV.get(TV.comparePath(ids)).then(render((d) => TV.comparePage(app, d))).catch(fail);
    return Promise.all(ids.map((id) => TV.get(TV.path("sample", id, seg[1], seg[2])).catch(() => null)))
      .then(render((docs) => TV.pairPage(app, ids, docs, seg[1], seg[2]))).catch(fail);
  }
  if (route.page === "sweep") return TV.get(TV.path("sweep", seg[0])).then(render((d) => TV.sweepPage(app, d))).catch(fail);
  return Promise.all([TV.get("runs"), TV.get("sweeps").catch(() => [])])
    .then(render(([runs, sweeps]) => { TV.runsPage(app, runs, route); TV.append(app, [TV.sweepList(sweeps)]); })).catch(fail);
};

window.addEventListener("hashchange", TV.show);
TV.show();
