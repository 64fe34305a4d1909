"""The viewer's documents, named by paths the pages ask for (the server answers `/api/<path>`; an export stores
every path's answer). Path segments are encoded as JavaScript's encodeURIComponent encodes them (`encode`).

    runs                            [run row]                       (runs_data.run_row)
    run/<id>                        the run page                    (runs_data.run_page)
    samples/<id>                    {id, keys, rows: [sample row]}  (samples_data.sample_row)
    sample/<id>/<key>/<doc>         the sample page                 (samples_data.sample_detail)
    compare/<id>,<id>[,<id>…]       the comparison (first = base)   (compare_data.comparison)
    sweeps                          [sweep row]                     (sweep_data.sweep_row)
    sweep/<id>                      a sweep's trend page            (sweep_data.sweep_page)

Runs are found again on every `runs` request and each run is re-read when its run.json or samples.jsonl changed
(size or mtime), so a reload shows new runs and a running run's new lines.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import quote, unquote

from titan_eval.errors import NotFoundError, TitanEvalError
from titan_eval.view.discover import FoundRun, find_all

SAFE = "-_.!~*'()"  # what encodeURIComponent leaves as is
SERVED_SUFFIXES = (".json", ".jsonl", ".md", ".png", ".svg")


def encode(segment: str) -> str:
    """A path segment as JavaScript's encodeURIComponent writes it."""
    return quote(segment, safe=SAFE)


def doc_path(name: str, *segments: str) -> str:
    """`name/seg/seg…`, each segment encoded."""
    return "/".join([name, *(encode(s) for s in segments)])


@dataclass
class _Loaded:
    """One run read from disk, with the file signature it was read at."""

    signature: tuple[Any, ...]
    record: Any
    raw: dict[str, Any]
    lines: list[dict[str, Any]]
    skipped: int
    index: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    stored: Any = None
    samples_doc: Any = None
    samples_text: str | None = None


def _signature(folder: Path) -> tuple[Any, ...]:
    out: list[Any] = []
    for name in ("run.json", "samples.jsonl"):
        try:
            st = (folder / name).stat()
            out += [st.st_mtime_ns, st.st_size]
        except FileNotFoundError:
            out += [None, None]
    return tuple(out)


class ViewerData:
    """The documents of the runs below `roots` (see the module docstring)."""

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = [Path(r) for r in roots]
        self._found: dict[str, FoundRun] = {}
        self._sweeps: dict[str, FoundRun] = {}
        self._cache: dict[str, _Loaded] = {}
        self._lock = threading.Lock()
        self.refresh()

    def refresh(self) -> list[FoundRun]:
        """Find the runs again; returns them."""
        found, sweeps = find_all(self.roots)
        with self._lock:
            self._found = {r.id: r for r in found}
            self._sweeps = {s.id: s for s in sweeps}
        return found

    def run_ids(self) -> list[str]:
        return list(self._found)

    def folder(self, run_id: str) -> Path:
        if run_id not in self._found:
            raise NotFoundError(f"no run {run_id!r} among the runs found")
        return self._found[run_id].path

    def _load(self, run_id: str) -> _Loaded:
        from titan_eval.records import RunRecord
        from titan_eval.report.runs import _read_run_json
        from titan_eval.view.samples_data import read_lines

        folder = self.folder(run_id)
        sig = _signature(folder)
        with self._lock:
            hit = self._cache.get(run_id)
        if hit is not None and hit.signature == sig:
            return hit
        raw = _read_run_json(folder / "run.json")
        record = RunRecord.from_json(raw, str(folder / "run.json"))
        lines, skipped = read_lines(folder / "samples.jsonl")
        loaded = _Loaded(sig, record, raw, lines, skipped,
                         index={(ln["task"], str(ln["doc_id"])): ln for ln in lines})
        with self._lock:
            self._cache[run_id] = loaded
        return loaded

    def _stored(self, run_id: str) -> Any:
        from titan_eval.report import load_run

        loaded = self._load(run_id)
        if loaded.stored is None:
            loaded.stored = load_run(self.folder(run_id))
        return loaded.stored

    # documents -----------------------------------------------------------------------------------------------

    def runs(self) -> list[dict[str, Any]]:
        from titan_eval.view.runs_data import run_row

        out = []
        for found in self.refresh():
            try:
                loaded = self._load(found.id)
                out.append(run_row(found.id, loaded.record, found.path))
            except TitanEvalError as err:  # an unreadable run.json is listed, not fatal
                out.append({"id": found.id, "run_id": found.path.name, "status": "unreadable", "error": str(err),
                            "headline": [], "tasks": [], "keys": [], "modes": []})
        return out

    def run(self, run_id: str) -> dict[str, Any]:
        from titan_eval.view.runs_data import run_page

        loaded = self._load(run_id)
        return run_page(run_id, loaded.record, loaded.raw, self.folder(run_id), len(loaded.lines), loaded.skipped)

    def samples(self, run_id: str) -> dict[str, Any]:
        from titan_eval.view.samples_data import lock_rule, sample_row

        loaded = self._load(run_id)
        if loaded.samples_doc is None:  # made once per version of the files
            rules = {r.key: lock_rule(r.meta) for r in loaded.record.results}
            rows = [sample_row(ln, rules.get(ln["task"]) or lock_rule(None)) for ln in loaded.lines]
            loaded.samples_doc = {"id": run_id, "keys": list(dict.fromkeys(r["key"] for r in rows)), "rows": rows,
                                  "skipped_lines": loaded.skipped}
        return loaded.samples_doc

    def sample(self, run_id: str, key: str, doc: str) -> dict[str, Any]:
        from titan_eval.view.samples_data import lock_rule, sample_detail

        loaded = self._load(run_id)
        line = loaded.index.get((key, doc))
        if line is None:
            raise NotFoundError(f"run {run_id!r} has no sample {key}/{doc}")
        result = loaded.record.result(key)
        fmt = result.meta.get("think") if result is not None else None
        rule = lock_rule(result.meta if result is not None else None)
        return {"id": run_id, **sample_detail(line, fmt if isinstance(fmt, dict) else None, rule)}

    def sweeps(self) -> list[dict[str, Any]]:
        from titan_eval.view.sweep_data import sweep_row

        self.refresh()
        return [sweep_row(s.id, s.path) for s in self._sweeps.values()]

    def sweep(self, sweep_id: str) -> dict[str, Any]:
        from titan_eval.view.sweep_data import sweep_page

        if sweep_id not in self._sweeps:
            self.refresh()
        found = self._sweeps.get(sweep_id)
        if found is None:
            raise NotFoundError(f"no sweep {sweep_id!r} among the sweeps found")
        return sweep_page(sweep_id, found.path, self._run_ids_by_path())

    def _run_ids_by_path(self) -> dict[Path, str]:
        """Resolved run folder → its run id (a sweep's steps are found as runs too)."""
        return {r.path.resolve(): r.id for r in self._found.values()}

    def compare(self, ids: Sequence[str]) -> dict[str, Any]:
        from titan_eval.view.compare_data import comparison

        if len(ids) < 2:
            raise NotFoundError("a comparison needs two or more runs")
        return comparison(list(ids), [self._stored(i) for i in ids])

    def warm(self) -> None:
        """Build the runs list and every run's samples document now (imports included), so the first page a
        browser opens does not wait for them; errors are left for the request that meets them."""
        try:
            for row in self.runs():
                if row.get("status") != "unreadable":
                    self.document_text(doc_path("samples", row["id"]))
        except TitanEvalError:
            pass

    def document_text(self, path: str) -> str:
        """`to_json(document(path))`; a run's samples document (the large one) is serialised once per version of
        its files."""
        parts = path.strip("/").split("/")
        if parts[0] == "samples" and len(parts) == 2:
            doc = self.document(path)
            loaded = self._load(unquote(parts[1]))
            if loaded.samples_text is None or loaded.samples_doc is not doc:
                loaded.samples_text = to_json(doc)
            return loaded.samples_text
        return to_json(self.document(path))

    def document(self, path: str) -> Any:
        """The document a path names (module docstring); NotFoundError when it names none."""
        parts = [unquote(p) for p in path.strip("/").split("/")]
        name, args = parts[0], parts[1:]
        if name == "runs" and not args:
            return self.runs()
        if name in ("run", "samples") and len(args) == 1:
            return self.run(args[0]) if name == "run" else self.samples(args[0])
        if name == "sample" and len(args) == 3:
            return self.sample(*args)
        if name == "sweeps" and not args:
            return self.sweeps()
        if name == "sweep" and len(args) == 1:
            return self.sweep(args[0])
        if name == "compare" and len(args) == 1:
            return self.compare([unquote(p) for p in path.strip("/").split("/")[1].split(",")])
        raise NotFoundError(f"no viewer document {path!r}")

    def file(self, run_id: str, name: str) -> Path:
        """A file of a found run the viewer serves: a plain file directly in the run folder with a served suffix
        (run.json, samples.jsonl, telemetry's .json/.md/.png). NotFoundError for anything else."""
        folder = self.folder(run_id)
        if not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
            raise NotFoundError(f"no file {name!r} in run {run_id!r}")
        path = folder / name
        if path.suffix.lower() not in SERVED_SUFFIXES or not path.is_file() or path.is_symlink() \
                or path.resolve().parent != folder.resolve():
            raise NotFoundError(f"no file {name!r} in run {run_id!r}")
        return path

    def export_paths(self, ids: Sequence[str] | None = None) -> list[str]:
        """Every document path of the runs `ids` (default: all found): runs, each run, its samples and every
        sample, and a comparison for each ordered pair of runs sharing a result key; the sweeps list and each
        sweep whose complete steps are all among `ids`."""
        ids = list(ids) if ids is not None else self.run_ids()
        paths = ["runs", "sweeps"]
        keys = {}
        for run_id in ids:
            loaded = self._load(run_id)
            paths += [doc_path("run", run_id), doc_path("samples", run_id)]
            paths += [doc_path("sample", run_id, ln["task"], str(ln["doc_id"])) for ln in loaded.lines]
            keys[run_id] = {r.key for r in loaded.record.results} | {ln["task"] for ln in loaded.lines}
        for a in ids:
            for b in ids:
                if a != b and keys[a] & keys[b]:
                    paths.append("compare/" + ",".join(encode(x) for x in (a, b)))
        return paths + [doc_path("sweep", s["id"]) for s in self.sweeps() if self._sweep_within(s["id"], ids)]

    def _sweep_within(self, sweep_id: str, ids: Sequence[str]) -> bool:
        """Whether every complete step's run of the sweep is among `ids` (an export of part of a folder); reads
        sweep.json only (the trend page is built once, when the export asks for its document)."""
        from titan_eval.sweep.sweep_record import read_record

        folder = self._sweeps[sweep_id].path
        record = read_record(folder)
        by_path = self._run_ids_by_path()
        return record is not None and all(by_path.get((folder / e.run).resolve()) in ids for e in record.complete())


def to_json(document: Any) -> str:
    """A document as JSON text safe inside an HTML <script> (no `<`, U+2028/9 escaped)."""
    text = json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
