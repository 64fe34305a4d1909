"""Finding runs: every folder holding a `run.json` below the given directories (recursively; a run folder's own
sub-folders are not searched, symlinks are not followed); and sweeps: every folder holding a `sweep.json` (its
step runs are found as runs too)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from titan_eval.errors import UsageError

RUN_FILE = "run.json"
SWEEP_FILE = "sweep.json"


@dataclass(frozen=True)
class FoundRun:
    """A run folder: `id` is its path relative to the directory it was found under (POSIX separators; the folder's
    own name when that directory is the run), unique among the runs found; `path` is the resolved folder."""

    id: str
    path: Path


def _walk(root: Path) -> list[Path]:
    """Run folders at or below `root`, sorted."""
    found = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        if RUN_FILE in files:
            found.append(Path(folder))
            dirs[:] = []
        else:
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    return sorted(found)


def find_runs(roots: Sequence[Path]) -> list[FoundRun]:
    """Every run below `roots` (each a directory, or a run folder itself). UsageError when a root is not a
    directory. Ids are made unique by a `~2`, `~3`, … suffix when two roots hold the same relative path."""
    out: list[FoundRun] = []
    seen: set[str] = set()
    for root in roots:
        if not root.is_dir():
            raise UsageError(f"{root}: not a directory (give results folders or run folders)")
        base = root.resolve()
        for folder in _walk(base):
            rel = folder.relative_to(base).as_posix()
            ident = base.name if rel == "." else rel
            unique, n = ident, 1
            while unique in seen:
                n += 1
                unique = f"{ident}~{n}"
            seen.add(unique)
            out.append(FoundRun(unique, folder))
    return out


def find_sweeps(roots: Sequence[Path]) -> list[FoundRun]:
    """Every sweep folder below `roots`, named as runs are (relative path; `~2`… when two roots clash)."""
    out: list[FoundRun] = []
    seen: set[str] = set()
    for root in roots:
        base = root.resolve()
        for folder, dirs, files in os.walk(base, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            if RUN_FILE in files:
                dirs[:] = []
            if SWEEP_FILE not in files:
                continue
            rel = Path(folder).relative_to(base).as_posix()
            ident = base.name if rel == "." else rel
            unique, n = ident, 1
            while unique in seen:
                n += 1
                unique = f"{ident}~{n}"
            seen.add(unique)
            out.append(FoundRun(unique, Path(folder)))
    return sorted(out, key=lambda f: f.id)
