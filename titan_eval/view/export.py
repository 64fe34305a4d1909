"""`titan-eval view --export`: the viewer as static files that open from disk with no server and no network.

A folder export holds index.html, static/ (the page's files), data.js (the documents of the exported runs but
their sample pages: `window.TITAN_VIEW_DATA = {documents: {path: document as JSON text}, files: {run id: {name:
url}}, shards: {run id: script}}`), data/samples-<n>.js (run n's sample pages, one script per run that the page
loads when it first shows one of them: `Object.assign(window.TITAN_VIEW_DATA.documents, {path: text})`) and
files/ (the runs' plots). Each document stays a string until the page first asks for it: a browser scans a string
literal far faster than it parses the same object literal; with the shards, a 10,000-sample export's first page
comes in well under a second. An OUT ending in `.html` is one self-contained file: scripts, stylesheet and data inlined, plots as data:
URLs.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import Sequence

from titan_eval.errors import UsageError
from titan_eval.view import static_files
from titan_eval.view.api import ViewerData, doc_path, to_json
from titan_eval.view.runs_data import plots

MIME = {".png": "image/png", ".svg": "image/svg+xml"}


def _documents(data: ViewerData, ids: Sequence[str]) -> dict[str, str]:
    """{path: the document as JSON text}; the runs list holds only the exported runs (a folder may hold more)."""
    out = {}
    paths = data.export_paths(ids)
    for path in paths:
        doc = data.document(path)
        if path == "runs":
            doc = [r for r in doc if r["id"] in set(ids)]
        if path == "sweeps":
            doc = [s for s in doc if doc_path("sweep", s["id"]) in paths]
        out[path] = to_json(doc)
    return out


def _data_script(documents: dict[str, str], files: dict[str, dict[str, str]],
                 shards: dict[str, str] | None = None) -> str:
    """The JavaScript statement that hands the page its data (no `<` anywhere: safe inside a <script>)."""
    return "window.TITAN_VIEW_DATA = " + to_json({"documents": documents, "files": files,
                                                  "shards": shards or {}}) + ";"


def _write_shards(documents: dict[str, str], ids: Sequence[str], out: Path) -> dict[str, str]:
    """Move each run's sample pages out of `documents` into out/data/samples-<n>.js; returns {run id: script}."""
    shards = {}
    (out / "data").mkdir(parents=True, exist_ok=True)
    for n, run_id in enumerate(ids):
        prefix = doc_path("sample", run_id) + "/"
        mine = {p: documents.pop(p) for p in [p for p in documents if p.startswith(prefix)]}
        shards[run_id] = f"data/samples-{n}.js"
        (out / shards[run_id]).write_text("Object.assign(window.TITAN_VIEW_DATA.documents, " + to_json(mine)
                                          + ");\n", encoding="utf-8")
    return shards


def export(data: ViewerData, out: Path, ids: Sequence[str] | None = None) -> Path:
    """Write the viewer of runs `ids` (default: all found) to `out` (a folder, or one file when it ends in .html);
    returns the file to open."""
    ids = list(ids) if ids is not None else data.run_ids()
    if not ids:
        raise UsageError("nothing to export: no run folder (with a run.json) found")
    documents = _documents(data, ids)
    single = out.suffix.lower() == ".html"
    files: dict[str, dict[str, str]] = {}
    if single:
        for run_id in ids:
            folder = data.folder(run_id)
            files[run_id] = {name: f"data:{MIME[Path(name).suffix.lower()]};base64,"
                             + base64.b64encode((folder / name).read_bytes()).decode() for name in plots(folder)}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(static_files.inline_html(_data_script(documents, files)), encoding="utf-8")
        return out
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a folder (end OUT with .html for a single file)")
    (out / "static").mkdir(parents=True, exist_ok=True)
    for name in static_files.asset_names():
        (out / "static" / name).write_text(static_files.read(name), encoding="utf-8")
    for n, run_id in enumerate(ids):
        folder = data.folder(run_id)
        names = plots(folder)
        files[run_id] = {name: f"files/{n}/{name}" for name in names}
        if names:
            (out / "files" / str(n)).mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(folder / name, out / "files" / str(n) / name)
    shards = _write_shards(documents, ids, out)
    (out / "data.js").write_text(_data_script(documents, files, shards) + "\n", encoding="utf-8")
    (out / "index.html").write_text(static_files.index_html('<script src="data.js"></script>'), encoding="utf-8")
    return out / "index.html"
