"""Where a run writes: checks made before any model loads, and names that cannot leave their folder.

`prepare_output_dir` creates the run folder, proves it writable (a probe file written and deleted) and checks the
free space, so a bad `--output` fails in a second instead of after an hour of scoring. `safe_child` and `safe_name`
keep names derived from input (run ids, card names, task names, file names) inside the folder they belong to: an
explicit `--output` is the user's choice, a derived name never adds `..`, a separator or an absolute part.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from titan_eval.errors import UsageError

MIN_FREE_BYTES = 64 * 2**20
"""Default free-space floor: room for run.json, samples.jsonl and telemetry plots of a small run."""
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_name(name: str, what: str = "name") -> str:
    """`name` itself if it is one plain path component (not empty, `.` or `..`, no separator, no NUL, no drive);
    `UsageError` naming `what` otherwise."""
    if not isinstance(name, str) or not name or name in (".", ".."):
        raise UsageError(f"{what} {name!r} is not a usable file name")
    if "/" in name or "\\" in name or "\0" in name or PureWindowsPath(name).drive:
        raise UsageError(f"{what} {name!r} must be a plain name, without path separators")
    return name


def sanitise_name(text: str, fallback: str = "run") -> str:
    """`text` made into a safe single component: runs of other characters than letters, digits and `._+-` become
    `_`, leading dots are dropped (no `..`, no hidden files); `fallback` when nothing is left."""
    cleaned = _UNSAFE.sub("_", str(text)).lstrip(".")
    return cleaned or fallback


def safe_child(base: Path, name: str, what: str = "name") -> Path:
    """`base / name` for a relative `name` that stays inside `base` (no absolute part, no `..` component, and no
    symlink inside `base` leading out); `UsageError` otherwise. `name` may hold several components (`a/b.json`)."""
    if not isinstance(name, str) or not name or "\0" in name:
        raise UsageError(f"{what} {name!r} is not a usable file name")
    parts = PurePosixPath(name.replace("\\", "/"))
    if parts.is_absolute() or PureWindowsPath(name).drive or PureWindowsPath(name).root:
        raise UsageError(f"{what} {name!r} must be relative to {base}")
    if any(p == ".." for p in parts.parts):
        raise UsageError(f"{what} {name!r} would leave {base}")
    child = Path(base) / Path(*parts.parts)
    root = Path(base).resolve()
    if not child.resolve().is_relative_to(root):
        raise UsageError(f"{what} {name!r} leads out of {base} (through a symlink)")
    return child


def _missing_ancestors(path: Path) -> list[Path]:
    """The folders `mkdir(parents=True)` would create, innermost first."""
    out = []
    while not path.exists() and path != path.parent:
        out.append(path)
        path = path.parent
    return out


def _cleanup(created: list[Path]) -> None:
    for folder in created:
        try:
            folder.rmdir()
        except OSError:
            return


def prepare_output_dir(path: Path, expected_bytes: int = MIN_FREE_BYTES) -> Path:
    """Create `path` (with parents), write and delete a probe file in it, and require `expected_bytes` free on its
    file system. Returns the resolved folder. `UsageError` with a one-line reason otherwise; folders this call
    created are removed again when a check fails."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise UsageError(f"output directory {path} is an existing file, not a folder")
    created = _missing_ancestors(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        _cleanup(created)
        raise UsageError(f"cannot create output directory {path}: {err.strerror or err}") from err
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".titan-eval-write-probe-") as probe:
            probe.write(b"titan-eval\n")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as err:
        _cleanup(created)
        raise UsageError(f"output directory {path} is not writable: {err.strerror or err}") from err
    free = shutil.disk_usage(path).free
    if free < expected_bytes:
        _cleanup(created)
        raise UsageError(f"output directory {path} has {_mib(free)} free, below the {_mib(expected_bytes)} a run "
                         "needs; free space or choose another --output")
    return path.resolve()


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"
