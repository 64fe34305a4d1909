// Where the documents come from: the server's /api/<path>, or, in an export, window.TITAN_VIEW_DATA[path]
// (the same documents, frozen by `titan-eval view --export`). Paths are built with encodeURIComponent on every
// segment, exactly as titan_eval/view/api.py names them.
"use strict";

TV.staticData = window.TITAN_VIEW_DATA || null;
TV.timings = {};  // performance marks the benchmark reads
TV.cache = new Map();

TV.path = function (name, ...segments) {
  return [name, ...segments.map((s) => encodeURIComponent(String(s)))].join("/");
};

TV.comparePath = function (ids) {
  return "compare/" + ids.map((s) => encodeURIComponent(s)).join(",");
};

TV.get = function (path) {
  if (TV.staticData) {
    const docs = TV.staticData.documents;
    if (Object.prototype.hasOwnProperty.call(docs, path)) {
      if (!TV.cache.has(path)) TV.cache.set(path, JSON.parse(docs[path]));  // stored as JSON text (export.py)
      return Promise.resolve(TV.cache.get(path));
    }
    const shard = path.startsWith("sample/") && (TV.staticData.shards || {})[TV.decode(path.split("/")[1])];
    if (shard && !TV.loaded.has(shard)) return TV.loadScript(shard).then(() => TV.get(path));
    return Promise.reject(new Error("not in this export: " + decodeURIComponent(path)));
  }
  return fetch("api/" + path, { cache: "no-store" }).then((resp) =>
    resp.json().then((body) => {
      if (!resp.ok) throw new Error(body && body.error ? body.error : resp.statusText);
      return body;
    }));
};

// A folder export's shard of sample pages (export.py): a script beside index.html, loaded once.
TV.loaded = new Map();
TV.loadScript = function (src) {
  if (!TV.loaded.has(src)) TV.loaded.set(src, new Promise((resolve, reject) => {
    const el = document.createElement("script");
    el.src = src;
    el.onload = resolve;
    el.onerror = () => reject(new Error("cannot load " + src));
    document.head.appendChild(el);
  }));
  return TV.loaded.get(src);
};

// URL of a file of a run (plots), or null when this export did not keep it.
TV.fileUrl = function (id, name) {
  if (TV.staticData) {
    const files = TV.staticData.files[id] || {};
    return Object.prototype.hasOwnProperty.call(files, name) ? files[name] : null;
  }
  return "files/" + encodeURIComponent(id) + "/" + encodeURIComponent(name);
};

// Hash routes: #/runs, #/run/<id>, #/samples/<id>?k=v…, #/sample/<id>/<key>/<doc>, #/compare/<id>,<id>…,
// #/pair/<id>,<id>/<key>/<doc>. Each segment is URI-encoded.
TV.href = function (page, segments, query) {
  let out = "#/" + [page, ...segments.map((s) => Array.isArray(s)
    ? s.map((x) => encodeURIComponent(String(x))).join(",") : encodeURIComponent(String(s)))].join("/");
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v !== null && v !== undefined && v !== "" && v !== false) q.set(k, v);
  const qs = q.toString();
  return qs ? out + "?" + qs : out;
};

TV.parseRoute = function () {
  const raw = location.hash.replace(/^#\/?/, "");
  const [pathPart, queryPart] = raw.split("?");
  const parts = pathPart.split("/").filter((p) => p !== "");
  return { page: parts[0] || "runs", segments: parts.slice(1), query: new URLSearchParams(queryPart || "") };
};

TV.decode = function (segment) {
  return decodeURIComponent(segment || "");
};
