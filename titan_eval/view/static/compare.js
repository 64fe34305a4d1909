// Compare page: the paired table `titan-eval compare` prints (cells made by the same code), then for every 0/1
// metric the discordant documents both ways, each linking to the two samples side by side.
"use strict";

TV.comparePage = function (app, c) {
  const docList = (d, docs, testid) => TV.h("div", { class: "doclist", "data-testid": testid, "data-count": docs.length },
    docs.length ? docs.map((ref) => TV.h("a", { class: "doc", href: TV.href("pair", [[d.base_id, d.cand_id], ref.key, ref.id]) }, String(ref.doc)))
      : TV.h("span", { class: "muted" }, "none"));
  TV.append(app, [
    TV.h("h1", {}, "Compare"),
    TV.h("p", {}, "baseline ", TV.h("a", { href: TV.href("run", [c.ids[0]]) }, c.labels[0]), " vs ",
      c.ids.slice(1).map((id, i) => [i ? ", " : "", TV.h("a", { href: TV.href("run", [id]) }, c.labels[i + 1])])),
    TV.section("Paired table", TV.table(c.columns, c.rows, { "data-testid": "compare-table" }),
      TV.h("ul", { class: "legend small" }, c.legend.map((l) => TV.h("li", {}, l)), c.notes.map((n) => TV.h("li", {}, n)))),
    TV.section("Discordant documents", c.discordant.length ? c.discordant.map((d) =>
      TV.h("div", { class: "card disc", "data-testid": "discordant", "data-key": d.key, "data-metric": d.metric, "data-cand": d.cand_id },
        TV.h("h3", {}, `${d.key} · ${d.metric}`, TV.h("span", { class: "muted" }, ` · ${d.cand} vs ${d.base}`)),
        TV.h("p", {}, TV.h("b", {}, `${d.base} right, ${d.cand} wrong: `), TV.h("span", { "data-testid": "losses" }, String(d.losses))),
        docList(d, d.base_only, "base-only"),
        TV.h("p", {}, TV.h("b", {}, `${d.base} wrong, ${d.cand} right: `), TV.h("span", { "data-testid": "gains" }, String(d.gains))),
        docList(d, d.cand_only, "cand-only")))
      : TV.h("p", { class: "muted" }, "no paired 0/1 metrics"))]);
};
