"""sha256 of large files (checkpoints) without re-reading them on every load: a digest is remembered under
`paths.cache_dir()/file-digests.json`, keyed by the file's resolved path and valid only while its size, inode,
modification time (ns) and change time (ns) are all unchanged — any write, copy or move in place changes one of them,
and the file is read again. Files below `SMALL` bytes are always read (faster than the bookkeeping).

Several processes share the store: a new digest is merged into the store as it is when the digest is done (read
again under an exclusive `flock` where the platform has one), not into the copy read before hashing, so two loads
finishing together both keep their entries; entries of files that no longer exist are dropped at each write."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from titan_eval.hashing import sha256_file
from titan_eval.paths import cache_dir

SMALL = 64 << 20
CACHE_FILE = "file-digests.json"


def _identity(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns]


def file_sha256(path: Path | str) -> str:
    """Hex sha256 of `path`'s bytes (module docstring: remembered for large, unchanged files)."""
    path = Path(path).resolve()
    identity = _identity(path)
    if identity[0] < SMALL:
        return sha256_file(path)
    store = cache_dir() / CACHE_FILE
    entry = _read(store).get(str(path))
    if isinstance(entry, dict) and entry.get("identity") == identity and isinstance(entry.get("sha256"), str):
        return entry["sha256"]
    digest = sha256_file(path)
    if _identity(path) == identity:  # unchanged while it was read
        try:
            _remember(store, path, {"identity": identity, "sha256": digest})
        except OSError:
            pass  # a read-only cache only costs the re-read next time
    return digest


def _read(store: Path) -> dict[str, Any]:
    try:
        known = json.loads(store.read_text())
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}


def _remember(store: Path, path: Path, entry: dict[str, Any]) -> None:
    """Merge `entry` for `path` into the store as it is now, dropping entries of files that are gone."""
    store.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(store.with_suffix(".lock")):
        known = {name: value for name, value in _read(store).items() if os.path.exists(name)}
        known[str(path)] = entry
        temporary = store.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(known))
        temporary.replace(store)


@contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """An exclusive `flock` on `lock` (POSIX); elsewhere none (a lost entry only costs a re-read)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
