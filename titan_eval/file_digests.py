"""sha256 of large files (checkpoints) without re-reading them on every load: a digest is remembered under
`paths.cache_dir()/file-digests.json`, keyed by the file's resolved path and valid only while its size, inode,
modification time (ns) and change time (ns) are all unchanged — any write, copy or move in place changes one of them,
and the file is read again. Files below `SMALL` bytes are always read (faster than the bookkeeping)."""

from __future__ import annotations

import json
import os
from pathlib import Path

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
    try:
        known = json.loads(store.read_text())
    except (OSError, ValueError):
        known = {}
    entry = known.get(str(path))
    if isinstance(entry, dict) and entry.get("identity") == identity and isinstance(entry.get("sha256"), str):
        return entry["sha256"]
    digest = sha256_file(path)
    if _identity(path) == identity:  # unchanged while it was read
        known[str(path)] = {"identity": identity, "sha256": digest}
        try:
            store.parent.mkdir(parents=True, exist_ok=True)
            temporary = store.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(known))
            temporary.replace(store)
        except OSError:
            pass  # a read-only cache only costs the re-read next time
    return digest
