"""Writing a run: `results/<run_id>/run.json` (lm-eval layout + a `titan_eval` section) and `samples.jsonl`, one
line per document, appended and flushed (fsync) as documents finish. Layout: docs/results-format.md.

Every whole-file result (run.json, telemetry and probe files) is written atomically: a temporary file in the same
folder, fsync, then rename. run.json exists from the start with `status: running` and the run's identity
(`resume.key`: a fingerprint of the options and the model), ends as `complete`, as `error` with the message, or
as `interrupted` (SIGINT / SIGTERM) — the samples written so far are kept. A chunk of sample lines is appended in
one write that a signal cannot cut (`interrupts.uninterruptible`), so samples.jsonl holds whole chunks only.

While a writer is open it holds the folder's `run.lock` (`run_lock.RunLock`): a second run into the same folder is
refused; `close()` releases it.

Resuming (`--resume DIR`, or `--output DIR` where DIR holds an unfinished run): the identity must match (else
`UsageError`, exit 2, naming what differs); samples.jsonl is read back, a torn last line is dropped, and the
completed lines are kept for the runner (`RunWriter.previous`).
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

from titan_eval.errors import UsageError
from titan_eval.interrupts import uninterruptible
from titan_eval.jsonl import read_jsonl
from titan_eval.output_dir import safe_child
from titan_eval.paths import results_dir
from titan_eval.records import RunRecord
from titan_eval.run_lock import RunLock


def make_run_id(card_name: str, seed: int) -> str:
    """<UTC time>-<card>-s<seed>; unique enough per second and readable."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{stamp}-{re.sub(r'[^A-Za-z0-9._-]+', '_', card_name)}-s{seed}"


def clean_json(value: Any) -> Any:
    """JSON-safe: NaN/inf → None, tuples → lists, numpy/torch scalars → Python numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        try:
            return clean_json(value.item())
        except (ValueError, RuntimeError):
            return str(value)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)


def atomic_write_text(path: Path, text: str) -> Path:
    """Write `text` to `path` through a temporary file in the same folder, fsync'd, then renamed into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return path


def atomic_write_json(path: Path, value: Any) -> Path:
    return atomic_write_text(path, json.dumps(clean_json(value), indent=2, ensure_ascii=False) + "\n")


def sample_line(line: Mapping[str, Any]) -> str:
    """The samples.jsonl text of one line (sorted keys, so equal records give equal bytes)."""
    return json.dumps(clean_json(dict(line)), ensure_ascii=False, sort_keys=True) + "\n"


def read_completed(path: Path) -> list[dict[str, Any]]:
    """The complete lines of a samples.jsonl that a killed run left. Lines are written whole, each ending in a
    newline, so text after the last newline is a torn write and is dropped; a malformed terminated line is a
    `DataError` naming it."""
    if not path.exists():
        return []
    return [obj for _, obj in read_jsonl(path, complete_lines_only=True)]


def _unused(run_id: str) -> str:
    """`run_id`, or `run_id-N` for the smallest N ≥ 2 whose folder under ./results does not exist yet."""
    candidate, n = run_id, 1
    while (results_dir() / candidate).exists():
        n += 1
        candidate = f"{run_id}-{n}"
    return candidate


class RunWriter:
    """The run folder: appends sample lines (flushed per call), writes run.json atomically, resumes a killed run.

    `previous` holds the lines a resumed run already completed (empty for a new run). The folder's lock is held
    from construction to `close()`."""

    def __init__(self, out_dir: Path | None, run_id: str, identity: Mapping[str, Any] | None = None,
                 resume: bool = False, lock: RunLock | None = None) -> None:
        if out_dir is None:  # a derived folder is always a new run: a second run in the same second gets "-2", …
            run_id = _unused(run_id)
        self.run_id = run_id
        self.dir = Path(out_dir) if out_dir is not None else safe_child(results_dir(), run_id, "run id")
        self.samples_path = self.dir / "samples.jsonl"
        self.identity = dict(identity or {})
        self.previous: list[dict[str, Any]] = []
        if resume and not self.dir.is_dir():
            raise UsageError(f"{self.dir} holds no run to resume")
        self.dir.mkdir(parents=True, exist_ok=True)
        if lock is not None and lock.path.parent.resolve() != self.dir.resolve():
            raise UsageError(f"the lock handed to the run writer is {lock.path}, not {self.dir}'s")
        self._owns_lock = lock is None  # a lock handed in (the CLI's, taken early) stays with whoever took it
        self.lock: RunLock | None = lock if lock is not None else RunLock.acquire(self.dir)
        try:
            self._open(run_id, resume)
        except BaseException:
            self.close()
            raise
        self.created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def _open(self, run_id: str, resume: bool) -> None:
        """Start a new run in the (locked) folder, or read back the unfinished one it holds."""
        existing = self._existing()
        if existing is None:
            if resume:
                raise UsageError(f"{self.dir} holds no run to resume")
            if self.samples_path.exists():
                raise UsageError(f"{self.dir} holds samples.jsonl but no run.json; choose another --output")
            self.samples_path.write_text("")
        else:
            self._check_resumable(existing)
            self.run_id = str(existing.get("titan_eval", {}).get("run_id") or run_id)
            self.previous = read_completed(self.samples_path)

    def close(self) -> None:
        """Release the folder's lock if this writer took it (once; later calls do nothing)."""
        lock, self.lock = self.lock, None
        if lock is not None and self._owns_lock:
            lock.release()

    def _existing(self) -> dict[str, Any] | None:
        path = self.dir / "run.json"
        if not path.exists():
            return None
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise UsageError(f"{path}: unreadable ({err}); choose another --output") from err
        return raw if isinstance(raw, dict) else {}

    def _check_resumable(self, existing: Mapping[str, Any]) -> None:
        section = existing.get("titan_eval") or {}
        status = section.get("status")
        if status == "complete":
            raise UsageError(f"{self.dir} already holds a complete run; choose another --output")
        stored = (section.get("resume") or {}).get("identity")
        if not isinstance(stored, dict):
            raise UsageError(f"{self.dir} holds a run without a resume identity; choose another --output")
        differs = sorted(k for k in set(stored) | set(self.identity) if stored.get(k) != clean_json(self.identity.get(k)))
        if differs:
            raise UsageError(f"{self.dir}: cannot resume, the run was made with different {', '.join(differs)}")

    def keep_previous(self, keep: Iterable[Mapping[str, Any]]) -> None:
        """Rewrite samples.jsonl to hold exactly `keep` (the completed lines the runner reuses), atomically."""
        self.previous = [dict(x) for x in keep]
        self.rewrite_samples(self.previous)

    def rewrite_samples(self, lines: Iterable[Mapping[str, Any]]) -> None:
        """samples.jsonl holding exactly `lines`, in that order, written atomically."""
        atomic_write_text(self.samples_path, "".join(sample_line(x) for x in lines))

    def add_samples(self, lines: Iterable[Mapping[str, Any]]) -> None:
        """Append lines in one write, flushed and fsync'd; SIGINT / SIGTERM wait until it is done."""
        text = "".join(sample_line(x) for x in lines)
        if not text:
            return
        with uninterruptible(), open(self.samples_path, "a", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

    def write_status(self, status: str, extra: Mapping[str, Any] | None = None) -> Path:
        """A run.json that says the run is `status` (running | error | interrupted), with its identity and `extra`."""
        return atomic_write_json(self.dir / "run.json", {"results": {}, "titan_eval": {
            "run_id": self.run_id, "status": status, "created_utc": self.created,
            "resume": {"identity": self.identity}, **dict(extra or {})}})

    def write_run(self, record: RunRecord) -> Path:
        """The finished run.json."""
        raw = record.to_json()
        raw["titan_eval"]["resume"] = {"identity": self.identity}
        return atomic_write_json(self.dir / "run.json", raw)
