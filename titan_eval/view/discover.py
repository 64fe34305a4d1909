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


def _walk(root: Path) -> tuple[list[Path], list[Path]]:
    """(run folders, sweep folders) at or below `root`, each sorted; a run folder's sub-folders are not searched."""
    runs, sweeps = [], []
    for folder, dirs, files in os.walk(root, followlinks=False):
        if SWEEP_FILE in files:
            sweeps.append(Path(folder))
        if RUN_FILE in files:
            runs.append(Path(folder))
            dirs[:] = []
        else:
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    return sorted(runs), sorted(sweeps)


def _named(base: Path, folders: list[Path], seen: set[str]) -> list[FoundRun]:
    """Each folder named by its path relative to `base` (`base`'s own name for `base` itself), made unique among
    `seen` by a `~2`, `~3`, … suffix; `seen` gains the names."""
    out = []
    for folder in folders:
        rel = folder.relative_to(base).as_posix()
        ident = base.name if rel == "." else rel
        unique, n = ident, 1
        while unique in seen:
            n += 1
            unique = f"{ident}~{n}"
        seen.add(unique)
        out.append(FoundRun(unique, folder))
    return out


def find_all(roots: Sequence[Path]) -> tuple[list[FoundRun], list[FoundRun]]:
    """(every run, every sweep) below `roots` (each a directory, or a run folder itself), from one walk of each
    root. UsageError when a root is not a directory. Ids are made unique by a `~2`, `~3`, … suffix when two roots
    hold the same relative path; sweeps are sorted by id."""
    runs: list[FoundRun] = []
    sweeps: list[FoundRun] = []
    seen_runs: set[str] = set()
    seen_sweeps: set[str] = set()
    for root in roots:
        if not root.is_dir():
            raise UsageError(f"{root}: not a directory (give results folders or run folders)")
        base = root.resolve()
        run_folders, sweep_folders = _walk(base)
        runs += _named(base, run_folders, seen_runs)
        sweeps += _named(base, sweep_folders, seen_sweeps)
    return runs, sorted(sweeps, key=lambda f: f.id)


def find_runs(roots: Sequence[Path]) -> list[FoundRun]:
    """Every run below `roots` (`find_all`'s first list)."""
    return find_all(roots)[0]
