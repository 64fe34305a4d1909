"""Checkpoint digests are remembered (titan_eval.file_digests): a second load of an unchanged file does not read it
again; any rewrite, even of the same size, is noticed and the file read again; the cache lives in
$TITAN_EVAL_CACHE."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from titan_eval import file_digests
from titan_eval.hashing import sha256_file


def test_unchanged_files_are_not_read_again_and_rewrites_are_noticed(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TITAN_EVAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(file_digests, "SMALL", 0)
    path = tmp_path / "weights.bin"
    path.write_bytes(b"a" * 4096)
    first = file_digests.file_sha256(path)
    assert first == sha256_file(path)
    assert (tmp_path / "cache" / file_digests.CACHE_FILE).exists()

    def no_read(_: object) -> str:
        raise AssertionError("the file was read again")

    monkeypatch.setattr(file_digests, "sha256_file", no_read)
    assert file_digests.file_sha256(path) == first
    monkeypatch.setattr(file_digests, "sha256_file", sha256_file)
    stat = path.stat()
    path.write_bytes(b"b" * 4096)  # same size; keep even the modification time: the change time still moves
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert file_digests.file_sha256(path) == sha256_file(path) != first


def test_a_digest_finished_meanwhile_elsewhere_is_kept_and_vanished_files_are_forgotten(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Process A reads the store, hashes its file; meanwhile process B stores its own digest. A's write must not drop
    B's entry (it merges into the store as it is then), and an entry of a deleted file is gone after a write."""
    monkeypatch.setenv("TITAN_EVAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(file_digests, "SMALL", 0)
    gone, mine, theirs = (tmp_path / f"{name}.bin" for name in ("gone", "mine", "theirs"))
    for path in (gone, mine, theirs):
        path.write_bytes(path.name.encode() * 1000)
    file_digests.file_sha256(gone)
    gone.unlink()

    def hash_while_another_process_stores(path: Path) -> str:
        if Path(path).name == "mine.bin":  # B finishes while A is still reading its file
            monkeypatch.setattr(file_digests, "sha256_file", sha256_file)
            file_digests.file_sha256(theirs)
        return sha256_file(path)

    monkeypatch.setattr(file_digests, "sha256_file", hash_while_another_process_stores)
    file_digests.file_sha256(mine)
    stored = json.loads((tmp_path / "cache" / file_digests.CACHE_FILE).read_text())
    assert set(stored) == {str(mine.resolve()), str(theirs.resolve())}
    assert stored[str(mine.resolve())]["sha256"] == sha256_file(mine)
    assert stored[str(theirs.resolve())]["sha256"] == sha256_file(theirs)


def test_a_checkpoint_load_records_the_files_digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    import titan_eval
    from titan_eval.loading import load

    monkeypatch.setenv("TITAN_EVAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(file_digests, "SMALL", 0)
    path = tmp_path / "ckpt.pt"
    torch.save({"model": titan_eval.load_model("mamba-tiny").state_dict()}, path)
    assert load("mamba-tiny", checkpoint=str(path), device="cpu").checkpoint_sha256 == sha256_file(path)
    assert load("mamba-tiny", checkpoint=str(path), device="cpu").checkpoint_sha256 == sha256_file(path)
