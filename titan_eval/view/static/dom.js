// DOM helpers. Every text from a run (model output, data files) goes in through text nodes: `h` turns string
// children into createTextNode and sets attributes with setAttribute; nothing here ever assigns innerHTML.
"use strict";
window.TV = window.TV || {};

TV.h = function (tag, attrs, ...children) {
  const el = document.createElement(tag);
  TV.setAttrs(el, attrs);
  TV.append(el, children);
  return el;
};

TV.svg = function (tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  TV.setAttrs(el, attrs);
  TV.append(el, children);
  return el;
};

TV.setAttrs = function (el, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "style" && typeof value === "object") Object.assign(el.style, value);  // CSSOM: CSP-safe
    else if (name === "href" && !/^(#|https?:|data:image\/|files\/|\.\/|static\/)/.test(String(value))) continue;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
};

TV.append = function (el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
};

TV.clear = function (el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
};

TV.num = function (x, digits) {
  if (x === null || x === undefined) return "—";
  if (typeof x !== "number") return String(x);
  return x.toFixed(digits === undefined ? 4 : digits);
};

// A JSON value as a collapsible tree (details/summary), all leaves as text.
TV.tree = function (value, name, open) {
  if (value !== null && typeof value === "object") {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
    const label = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
    return TV.h("details", { class: "tree", open: open || null },
      TV.h("summary", {}, TV.h("span", { class: "key" }, name === undefined ? "" : name + " "),
        TV.h("span", { class: "muted" }, label)),
      entries.map(([k, v]) => TV.tree(v, k, false)));
  }
  return TV.h("div", { class: "leaf" }, TV.h("span", { class: "key" }, name === undefined ? "" : name + ": "),
    TV.h("span", { class: "val" }, JSON.stringify(value)));
};

TV.section = function (title, ...children) {
  return TV.h("section", {}, TV.h("h2", {}, title), children);
};
