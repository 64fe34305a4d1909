"""The installed lm-eval's own task catalogue (every task, group and tag, with each task's output type), indexed
once and cached on disk.

lm-eval builds this index from its ≈ 14,000 bundled YAMLs on every start (`TaskManager()`, 10–20 s on a 2-core
machine). titan-eval builds it the same way, once per installed lm-eval, in a child process so the calling process
stays free of lm-eval and torch imports (names are checked before heavy imports), and keeps it as JSON under the
cache folder: `$TITAN_EVAL_CACHE`, else `$XDG_CACHE_HOME/titan-eval`, else `~/.cache/titan-eval`. The file name
carries lm-eval's version and a hash of its install location and its dist-info RECORD's mtime, so a reinstall or
upgrade builds a new index. `titan-eval tasks --all` and the first catalogue name a run uses build it.

Entry kinds: "task" (output_type: multiple_choice, loglikelihood, loglikelihood_rolling, generate_until — lm-eval's
default when a YAML names none), "python task" (a task class; output type decided by its code), "group" (subtasks
aggregated, e.g. mmlu) and "tag" (a plain list of tasks, e.g. ai2_arc).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from titan_eval.paths import cache_dir

from titan_eval.errors import TitanEvalError
from titan_eval.textfiles import one_line

INDEX_VERSION = 1
DEFAULT_OUTPUT_TYPE = "generate_until"  # lm-eval's TaskConfig default
KINDS = {"TASK": "task", "PY_TASK": "python task", "GROUP": "group", "TAG": "tag"}


@dataclass(frozen=True)
class CatalogueEntry:
    """One name of lm-eval's catalogue: its kind, a task's output type (None for groups and tags), its YAML, and the
    names a group or tag stands for (a group's `task:` list may hold inline configs: only names are kept)."""

    name: str
    kind: str
    output_type: str | None
    yaml_path: str | None
    members: tuple[str, ...] = ()


def _lm_eval_identity() -> tuple[str, str]:
    """(version, fingerprint) of the installed lm-eval, read from its distribution metadata without importing it."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution("lm_eval")
    except PackageNotFoundError as err:
        raise TitanEvalError("lm-eval is not installed; titan-eval's lm-eval tasks need it") from err
    record = dist.locate_file(f"lm_eval-{dist.version}.dist-info/RECORD")
    stamp = f"{dist.locate_file('lm_eval')}|{record.stat().st_mtime_ns if record.exists() else 0}|{INDEX_VERSION}"
    return dist.version, hashlib.sha256(stamp.encode()).hexdigest()[:16]


def index_path() -> Path:
    version, fingerprint = _lm_eval_identity()
    return cache_dir() / f"lm_eval-{version}-{fingerprint}-tasks.json"


def build_index() -> dict[str, CatalogueEntry]:
    """Index lm-eval's bundled tasks with its own TaskManager (imports lm-eval; slow)."""
    from titan_eval.tasks.quiet import quiet_libraries

    quiet_libraries()
    from lm_eval.tasks import TaskManager

    out: dict[str, CatalogueEntry] = {}
    for name, entry in TaskManager().task_index.items():
        kind = KINDS.get(entry.kind.name, entry.kind.name.lower())
        cfg = entry.cfg or {}
        output = cfg.get("output_type", DEFAULT_OUTPUT_TYPE) if kind == "task" else None
        members: list[str] = []
        if kind == "group":
            listed = cfg.get("task", [])
            members = [t if isinstance(t, str) else str(t.get("task", "")) for t in
                       (listed if isinstance(listed, list) else [listed])]
        elif kind == "tag":
            members = sorted(entry.tags or ())
        out[name] = CatalogueEntry(name, kind, output, str(entry.yaml_path) if entry.yaml_path else None,
                                   tuple(m for m in members if m))
    return out


def _write(path: Path, index: dict[str, CatalogueEntry]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"version": INDEX_VERSION, "entries": [asdict(e) for e in index.values()]}))
    tmp.replace(path)  # atomic: a concurrent reader sees the old file or the whole new one


def _read(path: Path) -> dict[str, CatalogueEntry] | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("version") != INDEX_VERSION:
            return None
        return {e["name"]: CatalogueEntry(**{**e, "members": tuple(e.get("members", ()))}) for e in raw["entries"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent or damaged: rebuilt


@lru_cache(maxsize=1)
def catalogue() -> dict[str, CatalogueEntry]:
    """{name: entry} of lm-eval's catalogue, from the cache or built once (in a child process unless lm-eval is
    already imported here). TitanEvalError when the index cannot be built."""
    path = index_path()
    cached = _read(path)
    if cached is not None:
        return cached
    if "lm_eval" in sys.modules:
        index = build_index()
        _write(path, index)
        return index
    done = subprocess.run([sys.executable, "-m", "titan_eval.tasks.catalogue_index", str(path)],
                          capture_output=True, text=True)
    built = _read(path)
    if done.returncode != 0 or built is None:
        raise TitanEvalError(f"could not index lm-eval's tasks ({one_line(done.stderr)[-300:] or 'no output'})")
    return built


if __name__ == "__main__":  # the child that builds the index: python -m titan_eval.tasks.catalogue_index OUT
    _write(Path(sys.argv[1]), build_index())
